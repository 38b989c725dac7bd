import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Batches, batchTopic, type BatchView } from '../../src/batches/batches.js';
import { Catalog } from '../../src/catalog/catalog.js';
import type { VersionRecord, VersionStatus } from '../../src/domain/version.js';
import { connectRedis, type RedisClient } from '../../src/redis/connect.js';
import { waitForRedis } from '../../src/redis/ready.js';
import { parseRedisUrl } from '../../src/redis/target.js';
import { FsObjectStore } from '../../src/storage/fs-store.js';
import { cleanRedis } from '../support/redis.js';
import { services } from '../support/services.js';
import { uniqueName } from '../support/unique.js';
import { waitFor } from '../support/wait.js';

function record(model: string, batchId: string): VersionRecord {
  const now = new Date().toISOString();
  return {
    model, version: 1, status: 'queued', createdAt: now, updatedAt: now, description: null, labels: {}, modelType: null,
    payload: { key: `uploads/${model}-1`, digest: 'sha256:00', size: 1, format: 'tar' },
    stages: {}, contract: null, contractDigest: null, tree: null, image: null, warnings: [], error: null, diff: null, batchId,
  };
}

describe('A batch follower reads its events and whether the batch is done in one call', () => {
  let dir: string;
  let redis: RedisClient;
  let subscriber: RedisClient;
  let prefix: string;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mll-batches-'));
    prefix = uniqueName('batch');
    const target = parseRedisUrl(services.redisUrl());
    redis = connectRedis(target, 'commands');
    subscriber = connectRedis(target, 'subscriber');
    await waitForRedis(redis, target, 10_000);
  });
  after(async () => {
    subscriber.disconnect();
    redis.disconnect();
    await cleanRedis(prefix);
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('the notice of an item\'s terminal event wakes a follower that reads it counted: done comes with the last one', async () => {
    const store = new FsObjectStore({ root: dir });
    const catalog = new Catalog(store, redis, prefix);
    const completed: BatchView[] = [];
    const batches = new Batches(store, redis, catalog, prefix, () => 'http://x', (view) => void completed.push(view));
    catalog.onTransition((r) => batches.versionTransition(r));
    const id = batches.newId();
    const models = [uniqueName('a'), uniqueName('b')];
    for (const m of models) await catalog.createNext(m, () => record(m, id));
    await batches.save({ id, createdAt: new Date().toISOString(), sealed: true, items: models.map((model, index) => ({ index, model, version: 1, error: null })) });
    assert.deepEqual(await batches.follow(id), { events: await batches.readEvents(id), done: false });

    // What a follower reads the moment each notice of the batch arrives.
    const reads: { events: number; done: boolean }[] = [];
    const reading: Promise<void>[] = [];
    const channel = catalog.redisKeys.eventChannel();
    subscriber.on('message', (ch: string, message: string) => {
      if (ch !== channel || (JSON.parse(message) as { topic?: string }).topic !== batchTopic(id)) return;
      reading.push(batches.follow(id).then((r) => void reads.push({ events: r.events.length, done: r.done })));
    });
    await subscriber.subscribe(channel);
    const end = async (model: string, status: VersionStatus) => {
      await catalog.update(model, 1, (r) => void (r.status = status), { type: 'status', status });
    };
    await end(models[0]!, 'released');
    await end(models[1]!, 'failed');
    await waitFor('both notices read', async () => (reads.length >= 2 ? true : undefined), 5000);
    await Promise.all(reading);
    assert.deepEqual(reads.at(-1), { events: 4, done: true }, JSON.stringify(reads));
    assert.deepEqual(reads.filter((r) => r.done).length, 1, JSON.stringify(reads));

    const followed = await batches.follow(id);
    assert.equal(followed.done, true);
    assert.deepEqual(followed.events.map((e) => [e.model, e.status]), [[models[0], 'queued'], [models[1], 'queued'], [models[0], 'released'], [models[1], 'failed']]);
    assert.deepEqual((await batches.follow(id, followed.events[1]!.id)).events, followed.events.slice(2));
    assert.equal(completed.length, 1);
    assert.equal(completed[0]!.done, true);
  });
});
