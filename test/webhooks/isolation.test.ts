import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { Catalog } from '../../src/catalog/catalog.js';
import type { VersionRecord } from '../../src/domain/version.js';
import { FsObjectStore } from '../../src/storage/fs-store.js';
import { attemptDelivery } from '../../src/webhooks/deliver.js';
import { createHttpSink } from '../../src/webhooks/http-sink.js';
import { webhookQueueName } from '../../src/webhooks/queue.js';
import { deliveryRetryPolicy } from '../../src/webhooks/retry.js';
import { WebhookRepository } from '../../src/webhooks/repository.js';
import { Outbox } from '../../src/webhooks/outbox.js';
import { Webhooks } from '../../src/webhooks/service.js';
import { cleanRedis } from '../support/redis.js';
import { services as svc } from '../support/services.js';
import { uniqueName } from '../support/unique.js';
import { closedPort, startReceiver } from './receiver.js';

function capturingLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString('utf8'));
      callback();
    },
  });
  return { lines, logger: pino({ level: 'trace' }, stream) };
}

function queuedRecord(model: string): VersionRecord {
  const now = new Date().toISOString();
  return {
    model, version: 1, status: 'queued', createdAt: now, updatedAt: now, description: null, labels: {}, modelType: null,
    payload: { key: `uploads/${model}`, digest: `sha256:${'0'.repeat(64)}`, size: 1, format: 'tar' },
    stages: {}, contract: null, contractDigest: null, tree: null, image: null, warnings: [], error: null, diff: null, batchId: null,
  };
}

describe('webhooks never hold up the pipeline, and never log secrets', () => {
  const prefix = uniqueName('mllwh');
  let dir: string;
  let redis: Redis;
  let store: FsObjectStore;
  const closers: Array<() => Promise<unknown> | void> = [];

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), `${prefix}-`));
    redis = new Redis(svc.redisUrl(), { maxRetriesPerRequest: 2 });
    store = new FsObjectStore({ root: path.join(dir, 'store'), presign: { baseUrl: 'http://127.0.0.1:1', secret: 'x' } });
  });
  after(async () => {
    for (const close of closers.reverse()) await close();
    redis.disconnect();
    await cleanRedis(prefix);
    // The second deployment of the first test.
    await cleanRedis(`${prefix}-b`);
    await fs.rm(dir, { recursive: true, force: true });
  });

  const settings = { baseUrl: () => 'http://mll.test', prefix, allowPrivate: true, attempts: 3 };

  it('a terminal transition returns promptly when the delivery queue hangs, and does not fail when it throws', async () => {
    const { logger, lines } = capturingLogger();
    const repo = new WebhookRepository(store, redis, prefix);
    // A queue on a Redis that is not there: adding a job waits forever.
    const deadRedis = new Redis(`redis://127.0.0.1:${await closedPort()}`, { maxRetriesPerRequest: null, retryStrategy: () => 200 });
    deadRedis.on('error', () => undefined);
    const hanging = new Queue(webhookQueueName, { connection: deadRedis, prefix });
    hanging.on('error', () => undefined);
    closers.push(() => deadRedis.disconnect());
    const model = uniqueName('whslow');
    const catalog = new Catalog(store, redis, prefix);
    const noBatches = () => { throw new Error('no batches here'); };
    new Outbox({ store, catalog, batches: noBatches, webhooks: new Webhooks(repo, () => hanging, settings, logger), logger }).attach(catalog);
    // Another deployment prefix, so its event (and deliveries) are its own.
    const otherCatalog = new Catalog(store, redis, `${prefix}-b`);
    const exploding = new Webhooks(repo, () => { throw new Error('queue exploded'); }, { ...settings, prefix: `${prefix}-b` }, logger);
    new Outbox({ store, catalog: otherCatalog, batches: noBatches, webhooks: exploding, logger }).attach(otherCatalog);
    const now = new Date().toISOString();
    await repo.saveEndpoint({
      id: 'wh_00000000000000000001', url: 'http://127.0.0.1:9/hooks', events: ['version.released'], models: [model], description: null,
      secret: `whsec_${Buffer.alloc(32, 9).toString('base64')}`, enabled: true, disabledReason: null, createdAt: now, updatedAt: now,
    });
    await catalog.create(queuedRecord(model));
    const started = Date.now();
    const released = await catalog.update(model, 1, (r) => {
      r.status = 'released';
    });
    const took = Date.now() - started;
    assert.equal(released.status, 'released');
    assert.ok(took < 5000, `the transition took ${took} ms`);
    assert.ok(took >= 1500, `the hanging queue was given its budget (${took} ms), so the test did hang it`);
    assert.equal((await catalog.getDurable(model, 1)).status, 'released');
    assert.equal((await catalog.getDurable(model, 1)).outbox?.length, 1, 'the event is in the record');
    const other = uniqueName('whboom');
    await repo.saveEndpoint({
      id: 'wh_00000000000000000002', url: 'http://127.0.0.1:9/hooks', events: ['version.released'], models: [other], description: null,
      secret: `whsec_${Buffer.alloc(32, 9).toString('base64')}`, enabled: true, disabledReason: null, createdAt: now, updatedAt: now,
    });
    await otherCatalog.create(queuedRecord(other));
    assert.equal((await otherCatalog.update(other, 1, (r) => void (r.status = 'released'))).status, 'released');
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(lines.some((l) => /could not relay a webhook event now/.test(l) && /queue exploded/.test(l)), 'the failure is logged');
  });

  it('keeps the secret out of every log line: registration, delivery, retries, disabling', async () => {
    const { logger, lines } = capturingLogger();
    const repo = new WebhookRepository(store, redis, prefix);
    const queue = new Queue(webhookQueueName, { connection: redis, prefix });
    closers.push(() => queue.close());
    const webhooks = new Webhooks(repo, () => queue, settings, logger);
    const rx = await startReceiver((_req, i) => (i === 0 ? { status: 500 } : i === 1 ? { status: 200 } : { status: 410 }));
    closers.push(() => rx.close());
    const sink = createHttpSink({ policy: { allowPrivate: true } });
    closers.push(() => sink.close());
    const model = uniqueName('whlog');
    const secret = `whsec_${Buffer.alloc(40, 5).toString('base64')}`;
    const created = await webhooks.create({ url: rx.url, models: [model], secret });
    assert.equal(created.secret, secret);
    const { deliveries: [deliveryId] } = await webhooks.emit('version.released', { model }, { models: [model] });
    const ctx = {
      repo, sink, timeoutMs: 2000, retry: deliveryRetryPolicy({ baseMs: 10, maxMs: 100 }), logger,
      disableEndpoint: (id: string, reason: string) => webhooks.disable(id, reason),
    };
    const first = await attemptDelivery(ctx, { endpointId: created.id, deliveryId: deliveryId!, trigger: 'event', attemptInJob: 1, lastAttempt: false });
    assert.equal(first.outcome, 'retrying');
    const second = await attemptDelivery(ctx, { endpointId: created.id, deliveryId: deliveryId!, trigger: 'event', attemptInJob: 2, lastAttempt: false });
    assert.equal(second.outcome, 'delivered');
    const { deliveries: [next] } = await webhooks.emit('version.released', { model, version: 2 }, { models: [model] });
    const third = await attemptDelivery(ctx, { endpointId: created.id, deliveryId: next!, trigger: 'event', attemptInJob: 1, lastAttempt: false });
    assert.equal(third.outcome, 'disabled');
    assert.equal((await webhooks.get(created.id)).enabled, false);
    assert.equal(rx.requests.length, 3);
    assert.ok(lines.length >= 4, `expected log lines, got ${lines.length}`);
    const key = secret.slice('whsec_'.length);
    for (const line of lines) assert.ok(!line.includes(key), `secret in log line: ${line}`);
  });
});
