import { FlowProducer, Queue } from 'bullmq';
import { Tokens } from '../auth/tokens.js';
import { Batches } from '../batches/batches.js';
import { Catalog } from '../catalog/catalog.js';
import { EventHub, versionTopic } from '../catalog/event-hub.js';
import { redisKeys, slotGroups } from '../catalog/redis-keys.js';
import { HydrosphereIds } from '../hydrosphere/ids.js';
import { recordModelUpdates } from '../hydrosphere/updates.js';
import type { Config } from '../config.js';
import { createImageBuilder, createImageTarget } from '../image/index.js';
import type { ImageBuilder, ImageTarget } from '../image/types.js';
import { createLogger, type Logger } from '../log.js';
import { createMetrics, type Metrics } from '../metrics.js';
import { connectRedis, type RedisClient } from '../redis/connect.js';
import { waitForRedis } from '../redis/ready.js';
import { assertSlotSafe } from '../redis/slots.js';
import { createObjectStore } from '../storage/index.js';
import type { ObjectStore } from '../storage/object-store.js';
import { RedisWriteLock } from '../storage/write-lock.js';
import { createWebhooks, type Webhooks } from '../webhooks/index.js';
import { Outbox } from '../webhooks/outbox.js';
import { settleWithin } from '../shared/deadline.js';
import { OutageLog, redisSource } from './outage-log.js';
import { dataDirSecret } from './secrets.js';

/** Every adapter a process needs, built once from the configuration (the composition root). */
export interface Services {
  config: Config;
  logger: Logger;
  store: ObjectStore;
  /** Commands (catalog, counters, events). Fails fast when Redis is down so requests get a 503. */
  redis: RedisClient;
  /** BullMQ's connection (no per-request retry limit, as BullMQ requires). */
  queueRedis: RedisClient;
  /** BullMQ's key prefix (a hash tag of MLL_PREFIX). */
  queuePrefix: string;
  catalog: Catalog;
  flows: FlowProducer;
  builder: ImageBuilder;
  target: ImageTarget;
  storeUrlSecret: string;
  events: EventHub;
  metrics: Metrics;
  /** Webhook endpoints and event fan-out; `webhooks.emit(type, data)` sends an event. */
  webhooks: Webhooks;
  /** Terminal events made durable with their records, relayed into webhook deliveries. */
  outbox: Outbox;
  batches: Batches;
  tokens: Tokens;
  /** Hydrosphere's integer ids of models and versions (src/api/hydrosphere/). */
  hydrosphereIds: HydrosphereIds;
  /** A producer handle on a queue (created once per name; for adding jobs and reading counts). */
  queue(name: string): Queue;
  /** Connection outages, logged once each (then a summary), never once per reconnect attempt. */
  outages: OutageLog;
  /** Closes every connection; each close has a deadline, after which the connection is cut. Never hangs. */
  close(): Promise<void>;
}

/** How long one close may take before its connection is cut instead. */
const closeDeadlineMs = 1_000;


export interface ServicesOptions {
  logger?: Logger;
  metrics?: Metrics;
  /**
   * Whether this thread serves only requests (the API without workers beside it on its event loop):
   * its local store then writes through the thread pool rather than block for the disk.
   */
  servesRequestsOnly?: boolean;
}

export async function createServices(config: Config, options: ServicesOptions = {}): Promise<Services> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const storeUrlSecret = await dataDirSecret(config.dataDirAbs, 'store-url.key');
  const keys = redisKeys(config.prefix);
  assertSlotSafe(slotGroups(keys));
  const outages = new OutageLog(logger);
  const redis = connectRedis(config.redis, 'commands', { outages });
  try {
    await waitForRedis(redis, config.redis, config.redisWaitMs);
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  const store = createObjectStore(config, storeUrlSecret, { writeLock: new RedisWriteLock(redis, { prefix: config.prefix }), blockingWrites: !options.servesRequestsOnly });
  const queueRedis = connectRedis(config.redis, 'queues', { outages });
  const catalog = new Catalog(store, redis, config.prefix);
  const flows = new FlowProducer({ connection: queueRedis, prefix: keys.queuePrefix });
  flows.on('error', (err: unknown) => outages.failed(redisSource('queues'), err));
  const builder = createImageBuilder(config, { store, logger });
  const target = createImageTarget(config, { store, logger });
  const subscriber = connectRedis(config.redis, 'subscriber', { outages });
  const events = new EventHub(subscriber, [keys.eventChannel()], (_channel, message) => {
    try {
      const notice = JSON.parse(message) as { topic?: string; model: string; version: number; id: string };
      return { topic: notice.topic ?? versionTopic(notice.model, notice.version), id: notice.id };
    } catch {
      return undefined;
    }
  }, logger);
  // batch.completed goes to webhooks (created below; the hook only runs once services exist).
  const batches: Batches = new Batches(store, redis, catalog, config.prefix, () => config.baseUrl, (view) => outbox.batchCompleted(view));
  catalog.onTransition(async (record) => {
    if (!record.batchId) return;
    await batches.versionTransition(record).catch((err: unknown) => logger.warn({ err, batch: record.batchId }, 'could not record a batch event'));
  });
  const queues = new Map<string, Queue>();
  const queue = (name: string) => {
    let q = queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: queueRedis, prefix: keys.queuePrefix });
      q.on('error', (err: unknown) => outages.failed(redisSource('queues'), err));
      queues.set(name, q);
    }
    return q;
  };
  const webhooks = createWebhooks({ config, store, redis, logger, queue });
  const outbox: Outbox = new Outbox({
    store, catalog, batches: () => batches, webhooks, logger: logger.child({ component: 'outbox' }),
    failpoints: config.failpoints,
  });
  outbox.attach(catalog);
  recordModelUpdates(catalog, redis, config.prefix, logger);
  return {
    queue, webhooks, outbox, outages,
    config, logger, store, redis, queueRedis, queuePrefix: keys.queuePrefix, catalog, flows, builder, target, storeUrlSecret, events, batches, tokens: new Tokens(store, redis, config.prefix, events), metrics: options.metrics ?? createMetrics(),
    hydrosphereIds: new HydrosphereIds(store, redis, config.prefix),
    async close() {
      // Log lines still waiting to be coalesced (the stages have stopped by now).
      await settleWithin(catalog.flushEvents(), closeDeadlineMs);
      await settleWithin(events.close(), closeDeadlineMs);
      // BullMQ's close waits for Redis to answer QUIT; a Redis that is down never does.
      const quitWithin = outages.isDown(redisSource('queues')) ? 0 : closeDeadlineMs;
      await settleWithin(Promise.all([flows.close(), ...[...queues.values()].map((q) => q.close())]), quitWithin);
      await settleWithin(Promise.all([flows.disconnect(), ...[...queues.values()].map((q) => q.disconnect())]), closeDeadlineMs);
      await settleWithin(store.close?.() ?? Promise.resolve(), closeDeadlineMs);
      redis.disconnect();
      queueRedis.disconnect();
      subscriber.disconnect();
    },
  };
}
