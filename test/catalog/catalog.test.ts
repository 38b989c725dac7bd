import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { Catalog } from '../../src/catalog/catalog.js';
import { redisKeys } from '../../src/catalog/redis-keys.js';
import { keys } from '../../src/domain/keys.js';
import type { VersionRecord } from '../../src/domain/version.js';
import { FsObjectStore } from '../../src/storage/fs-store.js';
import { exists, putJson, putJsonIf } from '../../src/storage/object-store.js';
import { cleanRedis } from '../support/redis.js';
import { services } from '../support/services.js';
import { uniqueName } from '../support/unique.js';

function record(model: string, version: number, status: VersionRecord['status'] = 'queued'): VersionRecord {
  const now = new Date().toISOString();
  return {
    model, version, status, createdAt: now, updatedAt: now, description: null, labels: {}, modelType: null,
    payload: { key: `uploads/${model}-${version}`, digest: 'sha256:00', size: 1, format: 'tar' },
    stages: {}, contract: null, contractDigest: null, tree: null, image: null, warnings: [], error: null, diff: null, batchId: null,
  };
}

const nonZero = (counts: Record<string, number>) => Object.fromEntries(Object.entries(counts).filter(([, n]) => n !== 0));

describe('Catalog on real Redis and an fs store', () => {
  let dir: string;
  let redis: Redis;
  let prefix: string;
  let catalog: Catalog;
  let store: FsObjectStore;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mll-catalog-'));
    redis = new Redis(services.redisUrl());
    prefix = uniqueName('cat');
    store = new FsObjectStore({ root: dir });
    catalog = new Catalog(store, redis, prefix);
  });
  after(async () => {
    await cleanRedis(prefix);
    redis.disconnect();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('creates 50 concurrent versions as 1..50 without gaps or repeats', async () => {
    const model = uniqueName('m');
    const created = await Promise.all(Array.from({ length: 50 }, () => catalog.createNext(model, (v) => record(model, v))));
    assert.deepEqual(created.map((r) => r.version).sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it('writes version.json first, serves it from Redis, and falls back to the store when the cache is gone', async () => {
    const model = uniqueName('m');
    const { version: v } = await catalog.createNext(model, (n) => record(model, n));
    assert.ok(await exists(store, keys.versionRecord(model, v)));
    assert.equal((await catalog.get(model, v)).status, 'queued');
    await redis.del(catalog.redisKeys.version(model, v));
    assert.equal((await catalog.get(model, v)).version, v);
    await assert.rejects(catalog.get(model, 99), (e: Error & { code?: string }) => e.code === 'VERSION_NOT_FOUND');
    await assert.rejects(catalog.get(uniqueName('nobody'), 1), (e: Error & { code?: string }) => e.code === 'MODEL_NOT_FOUND');
  });

  it('updates durably, records the transition as an event and notifies listeners once per change', async () => {
    const model = uniqueName('m');
    const seen: string[] = [];
    const local = new Catalog(store, redis, prefix);
    local.onTransition((r, previous) => void seen.push(`${previous}->${r.status}`));
    const { version: v } = await local.createNext(model, (n) => record(model, n));
    await local.update(model, v, (r) => void (r.status = 'extracting'), { type: 'status', status: 'extracting', stage: 'extract' });
    await local.update(model, v, (r) => void (r.labels.touched = 'yes'));
    const untouched = await local.update(model, v, () => null);
    assert.equal(untouched.labels.touched, 'yes');
    assert.deepEqual(seen, ['null->queued', 'queued->extracting']);
    const events = await local.readEvents(model, v);
    assert.deepEqual(events.map((e) => e.type), ['created', 'status']);
    assert.equal((await local.readEvents(model, v, events[0]!.id))[0]!.status, 'extracting');
  });

  it('announces a creation to no listener when its event cannot be written; a failing listener stops no other, and the caller hears of it once all are done', async () => {
    const localPrefix = uniqueName('announce');
    const local = new Catalog(store, redis, localPrefix);
    after(() => cleanRedis(localPrefix));
    const seen: string[] = [];
    local.onTransition((r) => {
      if (r.status === 'extracting') throw new Error('listener down');
    });
    // Slower than the failing one: the caller must still wait for it before it hears the failure.
    local.onTransition(async (r, previous) => {
      await new Promise((done) => setTimeout(done, 50));
      seen.push(`${previous}->${r.status}`);
    });
    const model = uniqueName('m');
    // The version's stream key holds a string, so XADD fails (WRONGTYPE) while the cache write succeeds.
    await redis.set(redisKeys(localPrefix).events(model, 1), 'not a stream');
    await assert.rejects(local.create(record(model, 1)), /WRONGTYPE/);
    assert.deepEqual(seen, [], 'no listener heard of a version whose creation failed');

    await redis.del(redisKeys(localPrefix).events(model, 1));
    await local.create(record(model, 2));
    await assert.rejects(local.update(model, 2, (r) => void (r.status = 'extracting'), { type: 'status', status: 'extracting', stage: 'extract' }), /listener down/);
    assert.deepEqual(seen, ['null->queued', 'queued->extracting']);
    assert.deepEqual((await local.readEvents(model, 2)).map((e) => e.status), ['queued', 'extracting']);
  });

  it('log lines appended soon reach the stream as entries of their own, in order, before the version\'s next event', async () => {
    const model = uniqueName('m');
    const { version: v } = await catalog.createNext(model, (n) => record(model, n));
    const lines = ['unpacking', 'contract', 'done'].map((message) => catalog.appendEvent(model, v, { type: 'log', stage: 'extract', message }, { soon: true }));
    await catalog.update(model, v, (r) => void (r.status = 'extracting'), { type: 'status', status: 'extracting', stage: 'extract' });
    const events = await catalog.readEvents(model, v);
    assert.deepEqual(events.map((e) => [e.type, e.message ?? e.status]), [
      ['created', 'queued'], ['log', 'unpacking'], ['log', 'contract'], ['log', 'done'], ['status', 'extracting'],
    ]);
    assert.deepEqual(events.slice(1, 4).map((e) => e.id), await Promise.all(lines));
    assert.ok(events.slice(1, 4).every((e) => e.stage === 'extract' && e.model === model && e.version === v && !Number.isNaN(Date.parse(e.at))));
    // A line still waiting when the process stops goes with flushEvents.
    const last = catalog.appendEvent(model, v, { type: 'log', stage: 'extract', message: 'last words' }, { soon: true });
    await catalog.flushEvents();
    assert.deepEqual((await catalog.readEvents(model, v, events[4]!.id)).map((e) => [e.id, e.message]), [[await last, 'last words']]);
  });

  it('reads many records of many models at once, in the order asked, from the store where the cache lost one', async () => {
    const models = [uniqueName('x'), uniqueName('y'), uniqueName('z')];
    for (const m of models) for (let i = 0; i < 2; i++) await catalog.createNext(m, (v) => record(m, v));
    const refs = [{ model: models[2]!, version: 2 }, { model: models[0]!, version: 1 }, { model: models[1]!, version: 2 }, { model: models[2]!, version: 1 }];
    await redis.del(catalog.redisKeys.version(models[1]!, 2));
    assert.deepEqual((await catalog.getMany(refs)).map((r) => [r.model, r.version]), refs.map((r) => [r.model, r.version]));
  });

  it('lists versions newest first with a cursor, and models with their latest version', async () => {
    const model = uniqueName('m');
    for (let i = 0; i < 5; i++) await catalog.createNext(model, (v) => record(model, v));
    const first = await catalog.listVersions(model, { limit: 2 });
    assert.deepEqual(first.items.map((r) => r.version), [5, 4]);
    assert.equal(first.total, 5);
    const second = await catalog.listVersions(model, { limit: 2, before: first.nextBefore! });
    assert.deepEqual(second.items.map((r) => r.version), [3, 2]);
    const summary = await catalog.getModel(model);
    assert.equal(summary.versions, 5);
    assert.equal(summary.latest?.version, 5);
    const found = await catalog.listModels({ limit: 10, query: model });
    assert.deepEqual(found.items.map((m) => m.name), [model]);
  });

  it('counts versions per status exactly under repeats, late (older) writes and a reindex', async () => {
    const countsPrefix = uniqueName('counts');
    const local = new Catalog(new FsObjectStore({ root: path.join(dir, countsPrefix) }), redis, countsPrefix);
    after(() => cleanRedis(countsPrefix));
    const model = uniqueName('m');
    const v1 = record(model, 1);
    const v2 = record(model, 2);
    await Promise.all([local.create(v1), local.cache(v1), local.create(v2)]);
    const released = { ...v1, status: 'released' as const, updatedAt: new Date(Date.parse(v1.updatedAt) + 1000).toISOString() };
    await local.cache(released);
    await local.cache(v1); // the older record arrives late: ignored by both scripts
    assert.deepEqual(await local.countByStatus(), { queued: 1, released: 1 });
    assert.equal((await local.get(model, 1)).status, 'released');
    await local.reindex(); // the store still has v1 as queued, which is older than what was counted
    assert.deepEqual(await local.countByStatus(), { queued: 1, released: 1 });
  });

  it('shows what a duplicated flow\'s stage starts only while the version is not terminal, and a written end wins over a later-stamped start', async () => {
    const racePrefix = uniqueName('race');
    const raceStore = new FsObjectStore({ root: path.join(dir, racePrefix) });
    const local = new Catalog(raceStore, redis, racePrefix);
    after(() => cleanRedis(racePrefix));
    const model = uniqueName('m');
    const at = (ms: number) => new Date(Date.parse('2026-01-01T00:00:00Z') + ms).toISOString();
    const base = { ...record(model, 1, 'pushing'), updatedAt: at(0) };
    await local.create(base);
    await local.cache(base);

    // One flow shows its build start a moment after the other flow's release was stamped, and its cache write lands first.
    assert.ok(await local.show({ ...base, status: 'building' }, 'pushing'));
    assert.equal((await local.get(model, 1)).status, 'building');
    const released = { ...base, status: 'released' as const, updatedAt: at(-5) };
    await putJson(raceStore, keys.versionRecord(model, 1), released);
    await local.cache(released);
    assert.equal((await local.get(model, 1)).status, 'released', 'the written end replaced the shown start');
    assert.deepEqual(nonZero(await local.countByStatus()), { released: 1 });

    // Once released, a late start is not shown at all, and its stage learns there is nothing to do.
    assert.equal(await local.show({ ...base, status: 'building' }, 'pushing'), null);
    assert.equal((await local.get(model, 1)).status, 'released');
    assert.deepEqual(nonZero(await local.countByStatus()), { released: 1 });
    const events = await local.readEvents(model, 1);
    assert.equal(events.filter((e) => e.type === 'status' && e.status === 'building').length, 0, 'no event for a start that was not shown');

    // A failure only Redis holds (written while the store was down): a reindexed run shows its start over it.
    const second = { ...record(model, 2, 'extracting'), updatedAt: at(0) };
    await local.create(second);
    await local.cache({ ...second, status: 'failed', updatedAt: at(1000) });
    const rerun = await local.show({ ...second, status: 'extracting' }, 'failed');
    assert.equal(rerun?.status, 'extracting');
    assert.equal((await local.get(model, 2)).status, 'extracting');

    // And a reindex, which runs such a version again, shows the store's state at once.
    const third = { ...record(model, 3, 'extracting'), updatedAt: at(0) };
    await local.create(third);
    await local.cache({ ...third, status: 'failed', updatedAt: at(1000) });
    const { unfinished } = await local.reindex();
    assert.ok(unfinished.some((v) => v.model === model && v.version === 3));
    assert.equal((await local.get(model, 3)).status, 'extracting', 'not read as failed while it is queued again');
    assert.equal((await local.get(model, 1)).status, 'released', 'a version the store has as released stays released');
  });

  it('a duplicated job that finds a release in the store before its live writer cached it waits for the writer: one release event', async () => {
    const localPrefix = uniqueName('dup');
    const inner = new FsObjectStore({ root: path.join(dir, localPrefix) });
    const race: { start?: () => Promise<boolean>; duplicate?: Promise<boolean> } = {};
    // The writer's store write lands, the duplicated job starts, and the writer (on a loaded
    // machine) takes 100 ms to go on to Redis.
    const racing = Object.assign(Object.create(inner) as FsObjectStore, {
      putIf: async (...args: Parameters<FsObjectStore['putIf']>) => {
        const info = await inner.putIf(...args);
        if (race.start && !race.duplicate) {
          race.duplicate = race.start();
          await new Promise((resume) => setTimeout(resume, 100));
        }
        return info;
      },
    });
    const local = new Catalog(racing, redis, localPrefix);
    after(() => cleanRedis(localPrefix));
    const seen: string[] = [];
    local.onTransition((r, previous) => void seen.push(`${previous}->${r.status}`));
    const model = uniqueName('m');
    await local.create(record(model, 1));
    await local.show({ ...(await local.getDurable(model, 1)), status: 'pushing' }, 'queued');
    const released = { type: 'status' as const, status: 'released' as const, stage: 'push' as const };
    race.start = async () => local.reconcile(await local.getDurable(model, 1), released, { graceMs: 300 });
    await local.update(model, 1, (r) => void (r.status = 'released'), released, { shown: 'pushing' });
    assert.ok(race.duplicate, 'the duplicate ran');
    assert.equal(await race.duplicate, false, 'the writer showed the end within the grace');
    assert.equal((await local.get(model, 1)).status, 'released');
    assert.equal((await local.readEvents(model, 1)).filter((e) => e.type === 'status' && e.status === 'released').length, 1);
    assert.deepEqual(seen, ['null->queued', 'queued->pushing', 'pushing->released']);
  });

  it('reconcile shows a terminal record its writer put in the store but not in Redis, once, with its event and listeners', async () => {
    const localPrefix = uniqueName('recon');
    const localStore = new FsObjectStore({ root: path.join(dir, localPrefix) });
    const local = new Catalog(localStore, redis, localPrefix);
    after(() => cleanRedis(localPrefix));
    const seen: string[] = [];
    local.onTransition((r, previous) => void seen.push(`${previous}->${r.status}`));
    const model = uniqueName('m');
    const { version: v } = await local.createNext(model, (n) => record(model, n));
    const started = await local.show({ ...(await local.getDurable(model, v)), status: 'pushing' }, 'queued');
    assert.equal(started?.status, 'pushing');

    // The writer's store write, and nothing after it (killed, or cut off by a shutdown).
    const durable = await local.readDurable(model, v);
    const released: VersionRecord = {
      ...durable.record, status: 'released', updatedAt: new Date(Date.now() + 5).toISOString(),
      image: { repository: model, tag: String(v), base: null, modelOnly: true, builder: 'oci', target: 'registry', reference: `r.example/${model}:${v}`, digest: 'sha256:ab' },
    };
    await putJsonIf(localStore, keys.versionRecord(model, v), released, { ifMatch: durable.etag });
    assert.equal((await local.get(model, v)).status, 'pushing', 'Redis lags behind the store');

    const event = { type: 'status' as const, status: 'released' as const, stage: 'push' as const, message: `Released r.example/${model}:${v}@sha256:ab` };
    assert.equal(await local.reconcile(await local.getDurable(model, v), event), true);
    assert.equal((await local.get(model, v)).status, 'released');
    assert.deepEqual(nonZero(await local.countByStatus()), { released: 1 });
    assert.deepEqual(seen, ['null->queued', 'queued->pushing', 'pushing->released']);
    const shown = (await local.readEvents(model, v)).filter((e) => e.type === 'status' && e.status === 'released');
    assert.equal(shown.length, 1);
    assert.equal(shown[0]!.message, event.message);

    // A duplicate stage job that finds the version terminal again changes nothing.
    assert.equal(await local.reconcile(await local.getDurable(model, v), event), false);
    assert.equal((await local.readEvents(model, v)).filter((e) => e.type === 'status' && e.status === 'released').length, 1);
    assert.equal(seen.length, 3);
  });

  it('rebuilds counters, caches and indexes from the store after Redis lost everything; numbers are never reused', async () => {
    const model = uniqueName('m');
    for (let i = 0; i < 3; i++) await catalog.createNext(model, (v) => record(model, v, i === 2 ? 'building' : 'released'));
    const stored = await fs.readFile(path.join(dir, 'objects', ...keys.versionRecord(model, 1).split('/')));
    await cleanRedis(prefix);
    // Even before a reindex, creation skips numbers whose version.json exists, and leaves them as they were.
    const tried: number[] = [];
    assert.equal((await catalog.createNext(model, (v) => (tried.push(v), record(model, v)))).version, 4);
    assert.deepEqual(tried, [1, 4], 'the counter is raised past every stored version after the first number is found taken');
    assert.deepEqual(await fs.readFile(path.join(dir, 'objects', ...keys.versionRecord(model, 1).split('/'))), stored);
    await cleanRedis(prefix);
    const result = await catalog.reindex();
    assert.ok(result.versions >= 4);
    assert.deepEqual(result.unfinished.filter((r) => r.model === model).map((r) => r.version), [3, 4]);
    assert.equal((await catalog.createNext(model, (v) => record(model, v))).version, 5);
    assert.equal((await catalog.getModel(model)).versions, 5);
  });
});
