import { FlowProducer, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Tokens } from '../auth/tokens.js';
import { Batches } from '../batches/batches.js';
import { Catalog } from '../catalog/catalog.js';
import { EventHub, versionTopic } from '../catalog/event-hub.js';
import type { Config } from '../config.js';
import { createImageBuilder, createImageTarget } from '../image/index.js';
import type { ImageBuilder, ImageTarget } from '../image/types.js';
import { createLogger, type Logger } from '../log.js';
import { createMetrics, type Metrics } from '../metrics.js';
import { createObjectStore } from '../storage/index.js';
import type { ObjectStore } from '../storage/object-store.js';
import { RedisWriteLock } from '../storage/write-lock.js';
import { createWebhooks, type Webhooks } from '../webhooks/index.js';
import { dataDirSecret } from './secrets.js';

/** Every adapter a process needs, built once from the configuration (the composition root). */
export interface Services {
  config: Config;
  logger: Logger;
  store: ObjectStore;
  /** Commands (catalog, counters, events). Fails fast when Redis is down so requests get a 503. */
  redis: Redis;
  /** BullMQ's connection (no per-request retry limit, as BullMQ requires). */
  queueRedis: Redis;
  catalog: Catalog;
  flows: FlowProducer;
  builder: ImageBuilder;
  target: ImageTarget;
  storeUrlSecret: string;
  events: EventHub;
  metrics: Metrics;
  /** Webhook endpoints and event fan-out; `webhooks.emit(type, data)` sends an event. */
  webhooks: Webhooks;
  batches: Batches;
  tokens: Tokens;
  /** A producer handle on a queue (created once per name; for adding jobs and reading counts). */
  queue(name: string): Queue;
  close(): Promise<void>;
}

export async function createServices(config: Config, options: { logger?: Logger } = {}): Promise<Services> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const storeUrlSecret = await dataDirSecret(config.dataDirAbs, 'store-url.key');
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 2, connectTimeout: 5000, lazyConnect: false });
  const store = createObjectStore(config, storeUrlSecret, { writeLock: new RedisWriteLock(redis, { prefix: config.prefix }) });
  const queueRedis = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
  queueRedis.on('error', (err) => logger.warn({ err: err.message }, 'redis (queues) connection error'));
  const catalog = new Catalog(store, redis, config.prefix);
  const flows = new FlowProducer({ connection: queueRedis, prefix: config.prefix });
  const builder = createImageBuilder(config, { store, logger });
  const target = createImageTarget(config, { store, logger });
  const keys = catalog.redisKeys;
  const subscriber = new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: null });
  subscriber.on('error', (err) => logger.warn({ err: err.message }, 'redis (events) connection error'));
  const events = new EventHub(subscriber, [keys.eventChannel()], (_channel, message) => {
    try {
      const notice = JSON.parse(message) as { topic?: string; model: string; version: number; id: string };
      return { topic: notice.topic ?? versionTopic(notice.model, notice.version), id: notice.id };
    } catch {
      return undefined;
    }
  }, logger);
  // batch.completed goes to webhooks (created below; the hook only runs once services exist).
  const batches = new Batches(store, redis, catalog, config.prefix, () => config.baseUrl, (view) => webhooks.batchCompleted(view));
  catalog.onTransition(async (record) => {
    if (!record.batchId) return;
    await batches.versionTransition(record).catch((err: unknown) => logger.warn({ err, batch: record.batchId }, 'could not record a batch event'));
  });
  const queues = new Map<string, Queue>();
  const queue = (name: string) => {
    let q = queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: queueRedis, prefix: config.prefix });
      queues.set(name, q);
    }
    return q;
  };
  const webhooks = createWebhooks({ config, store, redis, logger, queue });
  webhooks.attach(catalog);
  return {
    queue, webhooks,
    config, logger, store, redis, queueRedis, catalog, flows, builder, target, storeUrlSecret, events, batches, tokens: new Tokens(store, redis, config.prefix), metrics: createMetrics(),
    async close() {
      await events.close();
      await flows.close().catch(() => undefined);
      await Promise.all([...queues.values()].map((q) => q.close().catch(() => undefined)));
      await store.close?.();
      redis.disconnect();
      queueRedis.disconnect();
    },
  };
}
