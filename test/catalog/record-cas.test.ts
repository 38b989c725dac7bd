import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { Catalog } from '../../src/catalog/catalog.js';
import { keys } from '../../src/domain/keys.js';
import { parseVersionRecord } from '../../src/domain/version-record.js';
import type { VersionRecord } from '../../src/domain/version.js';
import { FsObjectStore } from '../../src/storage/fs-store.js';
import { MinioObjectStore } from '../../src/storage/minio-store.js';
import { getBuffer, type ObjectStore } from '../../src/storage/object-store.js';
import { RedisWriteLock } from '../../src/storage/write-lock.js';
import { cleanRedis } from '../support/redis.js';
import { services, testBucket } from '../support/services.js';
import { uniqueName } from '../support/unique.js';

function record(model: string, version: number): VersionRecord {
  const now = new Date().toISOString();
  return {
    model, version, status: 'queued', createdAt: now, updatedAt: now, description: null, labels: {}, modelType: null,
    payload: { key: `uploads/${model}-${version}`, digest: 'sha256:00', size: 1, format: 'tar' },
    stages: {}, contract: null, contractDigest: null, tree: null, image: null, warnings: [], error: null, diff: null, batchId: null,
  };
}

/** Each "process" gets its own store instance and Redis connection, as separate workers would. */
async function raceOnOneVersion(makeStore: () => ObjectStore, prefix: string) {
  const redises = [new Redis(services.redisUrl()), new Redis(services.redisUrl()), new Redis(services.redisUrl())];
  const [workerA, workerB, api] = redises.map((r) => new Catalog(makeStore(), r, prefix)) as [Catalog, Catalog, Catalog];
  const model = uniqueName('race');
  try {
    await api.createNext(model, (v) => record(model, v));
    const stageUpdates = (catalog: Catalog, who: string) => (async () => {
      for (let i = 0; i < 8; i++) {
        await catalog.update(model, 1, (r) => {
          if (r.status === 'queued') r.status = 'building';
          r.warnings.push({ code: 'STEP', message: `${who}.${i}` });
        });
      }
    })();
    const failureHandler = (async () => {
      await new Promise((r) => setTimeout(r, 30));
      await api.update(model, 1, (r) => {
        if (r.status === 'released' || r.status === 'failed') return null;
        r.status = 'failed';
        r.error = { code: 'INTERNAL', message: 'the failure handler ran' };
      }, { type: 'status', status: 'failed' });
    })();
    let reindexes = 0;
    let racing = true;
    const reindexer = (async () => {
      while (racing) {
        await api.reindex();
        reindexes += 1;
      }
    })();
    await Promise.all([stageUpdates(workerA, 'a'), stageUpdates(workerB, 'b'), failureHandler]);
    racing = false;
    await reindexer;
    const durable = await workerA.getDurable(model, 1);
    const cached = await api.get(model, 1);
    return { durable, cached, reindexes, model };
  } finally {
    for (const r of redises) r.disconnect();
  }
}

function assertNothingLost(r: Awaited<ReturnType<typeof raceOnOneVersion>>) {
  const steps = r.durable.warnings.map((w) => w.message).sort();
  const expected = [...Array.from({ length: 8 }, (_, i) => `a.${i}`), ...Array.from({ length: 8 }, (_, i) => `b.${i}`)].sort();
  assert.deepEqual(steps, expected, 'every stage update is in the record');
  assert.equal(r.durable.status, 'failed', 'the failure handler\'s update is in the record');
  assert.equal(r.durable.error?.message, 'the failure handler ran');
  assert.equal(r.durable.schemaVersion, 1);
  assert.deepEqual(r.cached, r.durable, 'the cache holds the final record (a racing reindex never put an older one back)');
  assert.ok(r.reindexes > 0);
}

describe('Catalog.update is a compare-and-swap', () => {
  it('fs: two workers, the failure handler and reindex race on one version; no update is lost', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mll-cas-'));
    const prefix = uniqueName('cas');
    try {
      assertNothingLost(await raceOnOneVersion(() => new FsObjectStore({ root: dir }), prefix));
    } finally {
      await cleanRedis(prefix);
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('S3: the same race through the Redis write lock; no update is lost', async () => {
    const prefix = uniqueName('cas');
    const lockRedis = new Redis(services.redisUrl());
    const makeStore = () => new MinioObjectStore({
      ...services.s3(), bucket: testBucket, prefix: `${prefix}/`, partSize: 5 * 1024 * 1024, writeLock: new RedisWriteLock(lockRedis, { prefix }),
    });
    try {
      assertNothingLost(await raceOnOneVersion(makeStore, prefix));
    } finally {
      const store = makeStore();
      for await (const o of store.list('')) await store.delete(o.key);
      await cleanRedis(prefix);
      lockRedis.disconnect();
    }
  });

  it('never creates a version over an existing record', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mll-cas-'));
    const prefix = uniqueName('cas');
    const redis = new Redis(services.redisUrl());
    try {
      const catalog = new Catalog(new FsObjectStore({ root: dir }), redis, prefix);
      const model = uniqueName('m');
      await catalog.create(record(model, 1));
      await catalog.update(model, 1, (r) => void (r.status = 'released'));
      await assert.rejects(catalog.create(record(model, 1)), (e: { code?: string }) => e.code === 'CONFLICT');
      assert.equal((await catalog.getDurable(model, 1)).status, 'released');
    } finally {
      redis.disconnect();
      await cleanRedis(prefix);
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the version record schema', () => {
  const key = 'models/m/versions/1/version.json';
  it('reads a record written before schemaVersion existed as schema 1, keeping fields it does not know', () => {
    const { schemaVersion: _, ...old } = record('m', 1);
    const parsed = parseVersionRecord(JSON.stringify({ ...old, futureField: { kept: true } }), key);
    assert.equal(parsed.schemaVersion, 1);
    assert.deepEqual((parsed as unknown as { futureField: unknown }).futureField, { kept: true });
  });

  it('refuses a record from a newer release with a message that says so', () => {
    assert.throws(() => parseVersionRecord(JSON.stringify({ ...record('m', 1), schemaVersion: 2 }), key), (e: { code?: string; message: string }) =>
      e.code === 'UNREADABLE_RECORD' && /schema 2, written by a newer ML Lambda/.test(e.message) && e.message.includes(key));
  });

  it('refuses a damaged record, naming the key and the broken fields', () => {
    assert.throws(() => parseVersionRecord('{"model": "m", "vers', key), (e: { code?: string; message: string }) =>
      e.code === 'UNREADABLE_RECORD' && /not valid JSON/.test(e.message));
    assert.throws(() => parseVersionRecord(JSON.stringify({ ...record('m', 1), status: 'finished', version: 0 }), key), (e: { code?: string; message: string }) =>
      e.code === 'UNREADABLE_RECORD' && /status/.test(e.message) && /version/.test(e.message));
  });

  it('reindex rebuilds every readable record and lists the unreadable one instead of stopping', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mll-schema-'));
    const prefix = uniqueName('schema');
    const redis = new Redis(services.redisUrl());
    try {
      const store = new FsObjectStore({ root: dir });
      const catalog = new Catalog(store, redis, prefix);
      const model = uniqueName('m');
      await catalog.create(record(model, 1));
      await catalog.create(record(model, 2));
      await store.put(keys.versionRecord(model, 2), '{"broken":');
      const result = await catalog.reindex();
      assert.equal(result.versions, 1);
      assert.deepEqual(result.unreadable.map((u) => u.key), [keys.versionRecord(model, 2)]);
      await assert.rejects(catalog.getDurable(model, 2), (e: { code?: string }) => e.code === 'UNREADABLE_RECORD');
      assert.equal((await getBuffer(store, keys.versionRecord(model, 2))).toString(), '{"broken":', 'left as it was');
    } finally {
      redis.disconnect();
      await cleanRedis(prefix);
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
