import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { FsObjectStore } from '../../src/storage/fs-store.js';
import { MinioObjectStore } from '../../src/storage/minio-store.js';
import { getBuffer, isPreconditionFailed, type ObjectStore } from '../../src/storage/object-store.js';
import { RedisWriteLock } from '../../src/storage/write-lock.js';
import { repoRoot } from '../support/paths.js';
import { startOwnRedis } from '../support/redis-server.js';
import { cleanRedis } from '../support/redis.js';
import { services, testBucket } from '../support/services.js';
import { uniqueName } from '../support/unique.js';
import { sleep } from '../support/wait.js';

/** `processes` child processes each make `increments` CAS increments of one counter; returns the final counter and the conflicts retried. */
async function raceProcesses(store: ObjectStore, key: string, env: Record<string, string>, processes: number, increments: number) {
  await store.putIf(key, JSON.stringify({ n: 0, log: [] }), { ifNoneMatch: '*' });
  const children = Array.from({ length: processes }, (_, w) => fork(path.join(repoRoot, 'test', 'storage', 'cas-child.ts'), [], {
    cwd: repoRoot, execArgv: ['--import', 'tsx'], silent: true,
    env: { ...process.env, ...env, CAS_KEY: key, CAS_WRITER: `w${w}`, CAS_INCREMENTS: String(increments) },
  }));
  const outputs = children.map((child) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => process.stderr.write(d));
    return new Promise<string>((resolve, reject) => child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`cas-child exited with ${code}`)))));
  });
  // Every child loaded before any starts: then they really overlap.
  await Promise.all(children.map((child) => new Promise((resolve) => child.once('message', resolve))));
  for (const child of children) child.send('go');
  const results = await Promise.all(outputs);
  const conflicts = results.reduce((sum, out) => sum + (JSON.parse(out.trim().split('\n').pop()!) as { conflicts: number }).conflicts, 0);
  const final = JSON.parse((await getBuffer(store, key)).toString()) as { n: number; log: string[] };
  return { final, conflicts };
}

describe('conditional writes across processes', () => {
  it('fs: processes racing compare-and-swap on one object lose no update', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'mll-cas-'));
    try {
      const store = new FsObjectStore({ root });
      const { final, conflicts } = await raceProcesses(store, 'race/counter.json', { CAS_STORE: 'fs', CAS_ROOT: root }, 4, 25);
      assert.equal(final.n, 100, `every increment is there (${conflicts} conflicts retried)`);
      assert.equal(new Set(final.log).size, 100, 'each increment once');
      assert.ok(conflicts > 0, 'the processes really raced');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('S3 (Swift s3api): the server refuses conditional PUTs, so writes go under the Redis write lock and lose no update across processes', async () => {
    const s3 = services.s3();
    const prefix = uniqueName('cas');
    const redis = new Redis(services.redisUrl());
    const store = new MinioObjectStore({ ...s3, bucket: testBucket, prefix: `${prefix}/`, partSize: 5 * 1024 * 1024, writeLock: new RedisWriteLock(redis, { prefix }) });
    try {
      // What this server really does with a conditional PUT: 501, whatever the condition.
      await assert.rejects(
        store.client.putObject(testBucket, `${prefix}/raw`, Buffer.from('x'), 1, { 'If-None-Match': '*' }),
        (e: { code?: string }) => e.code === 'NotImplemented',
      );
      assert.equal(await store.conditionalWrites(), 'locked');
      const { final, conflicts } = await raceProcesses(store, 'race/counter.json', {
        CAS_STORE: 'minio', CAS_BUCKET: testBucket, CAS_PREFIX: `${prefix}/`, CAS_LOCK_PREFIX: prefix, REDIS_URL: services.redisUrl(), S3_ENDPOINT: s3.endpoint,
      }, 3, 8);
      assert.equal(final.n, 24, `every increment is there (${conflicts} conflicts retried)`);
      assert.equal(new Set(final.log).size, 24);
    } finally {
      for await (const o of store.list('')) await store.delete(o.key);
      await cleanRedis(prefix);
      redis.disconnect();
    }
  });

  it('fs: a claim left by a writer that died mid-replace is passed once it is stale', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'mll-cas-'));
    try {
      const store = new FsObjectStore({ root, claimStaleMs: 300 });
      const first = await store.putIf('k.json', 'v1', { ifNoneMatch: '*' });
      // What a writer that died between claiming and renaming leaves: the claim link.
      const { link, mkdir } = await import('node:fs/promises');
      await mkdir(path.join(root, 'claims'), { recursive: true });
      await link(path.join(root, 'objects', 'k.json'), path.join(root, 'claims', `k.json.${first.etag}.0`));
      const started = Date.now();
      const second = await store.putIf('k.json', 'v2', { ifMatch: first.etag });
      assert.ok(Date.now() - started >= 250, 'it waited for the claim to go stale');
      assert.equal((await getBuffer(store, 'k.json')).toString(), 'v2');
      await assert.rejects(store.putIf('k.json', 'v3', { ifMatch: first.etag }), (e) => isPreconditionFailed(e));
      assert.ok(second.etag !== first.etag);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('the Redis write lock', () => {
  it('grants a lease to one writer at a time, and after Redis restarts empty waits out every lease it may have lost', async () => {
    const own = await startOwnRedis();
    const a = new Redis(own.url, { maxRetriesPerRequest: 1 });
    const b = new Redis(own.url, { maxRetriesPerRequest: 1 });
    a.on('error', () => undefined);
    b.on('error', () => undefined);
    try {
      const leaseMs = 1500;
      const lockA = new RedisWriteLock(a, { prefix: 'lock-test', leaseMs, waitMs: 10_000 });
      const lockB = new RedisWriteLock(b, { prefix: 'lock-test', leaseMs, waitMs: 10_000 });
      // A fresh Redis: the first lease waits out the grace period once.
      await lockA.withLock('x', async () => {});
      const order: string[] = [];
      let releaseA!: () => void;
      const aHolds = new Promise<void>((r) => (releaseA = r));
      const holdingA = lockA.withLock('x', async () => {
        order.push('a:start');
        await aHolds;
        order.push('a:end');
      });
      await sleep(100);
      const waitingB = lockB.withLock('x', async () => void order.push('b'));
      await sleep(300);
      assert.deepEqual(order, ['a:start'], 'b waits while a holds the lease');
      releaseA();
      await Promise.all([holdingA, waitingB]);
      assert.deepEqual(order, ['a:start', 'a:end', 'b']);

      // A holds a lease; Redis restarts empty (the lease is gone from Redis, but A may still write).
      let restartedAt = 0;
      let aEndedAt = 0;
      const aAgain = lockA.withLock('y', async (lease) => {
        await own.restartEmpty();
        restartedAt = Date.now();
        await sleep(Math.max(0, lease.remainingMs() - 50));
        aEndedAt = Date.now();
      });
      await sleep(50);
      let bGrantedAt = 0;
      const bAfter = (async () => {
        for (;;) {
          try {
            await lockB.withLock('y', async () => void (bGrantedAt = Date.now()));
            return;
          } catch {
            await sleep(20); // Redis down for a moment
          }
        }
      })();
      await Promise.all([aAgain, bAfter]);
      assert.ok(bGrantedAt >= aEndedAt, `b got the lease at +${bGrantedAt - restartedAt} ms, before a's lease ran out at +${aEndedAt - restartedAt} ms`);
      assert.ok(bGrantedAt - restartedAt >= leaseMs - 100, 'the grace period lasted a full lease');
    } finally {
      a.disconnect();
      b.disconnect();
      await own.stop();
    }
  });
});
