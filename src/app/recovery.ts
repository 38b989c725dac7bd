import { requeueVersion } from '../../queues/flow.js';
import { redisKeys, type RedisKeys } from '../catalog/redis-keys.js';
import { isCluster, type RedisClient } from '../redis/connect.js';
import type { RecoveredEvents } from '../webhooks/outbox.js';
import { enqueueOrphans } from './orphans.js';
import { isConnectionError, redisSource } from './outage-log.js';
import type { Services } from './services.js';

/**
 * 128 markers over 16384 slots: a master with a tenth of the slots holds none of them with a
 * chance of about 1 in 700,000. Markers move with their slots when a cluster is resharded.
 */
const shardMarkers = 128;

/** The keys whose absence means Redis lost (part of) the index. */
function recoveryMarkers(redis: RedisClient, k: RedisKeys): string[] {
  if (!isCluster(redis)) return [k.indexBuilt()];
  return [k.indexBuilt(), ...Array.from({ length: shardMarkers }, (_, i) => k.shardMarker(i))];
}

export interface RecoveryResult {
  models: number;
  versions: number;
  requeued: number;
  /** Records that could not be read (damaged, or from a newer release): left as they are, listed in the log. */
  unreadable: { key: string; message: string }[];
  /** Webhook events relayed from the outbox, pending deliveries queued again, batch.completed events made. */
  webhooks?: RecoveredEvents;
  ms: number;
}

/**
 * Rebuilds Redis from the object store (counters, caches, indexes) and re-enqueues every version
 * that is not terminal. Safe to run at any time and from several processes: counters only go up,
 * older records never overwrite newer ones, and a re-enqueued stage finds its work done.
 */
export async function rebuildFromStore(
  services: Pick<Services, 'catalog' | 'config' | 'flows' | 'queue' | 'redis' | 'hydrosphereIds'> & Partial<Pick<Services, 'outbox'>>,
): Promise<RecoveryResult> {
  const { catalog, config, flows, queue, redis, outbox } = services;
  const started = Date.now();
  const result = await catalog.reindex();
  await services.hydrosphereIds.rebuild();
  for (const record of result.unfinished) {
    await requeueVersion(queue, flows, config, { model: record.model, version: record.version });
  }
  // The webhook jobs and their schedule were in Redis too; the events and deliveries are in the store.
  const webhooks = await outbox?.recover();
  const now = new Date().toISOString();
  await Promise.all(recoveryMarkers(redis, redisKeys(config.prefix)).map((key) => redis.set(key, now)));
  return {
    models: result.models, versions: result.versions, requeued: result.unfinished.length, unreadable: result.unreadable, webhooks, ms: Date.now() - started,
  };
}

/**
 * Rebuilds only when Redis has lost its state (a marker is gone: all of Redis, or in a Cluster a
 * shard that came back empty): at start-up and periodically.
 */
export async function recoverIfRedisWasLost(services: Services): Promise<RecoveryResult | null> {
  const { redis, config, logger } = services;
  const k = redisKeys(config.prefix);
  const present = await Promise.all(recoveryMarkers(redis, k).map((key) => redis.exists(key)));
  if (present.every((n) => n === 1)) return null;
  // One process rebuilds at a time; the others find the marker when it is done.
  const claimed = await redis.set(k.reindexing(), String(process.pid), 'EX', 300, 'NX');
  if (claimed !== 'OK') return null;
  try {
    const result = await rebuildFromStore(services);
    logger.info(result, 'Redis had no index: rebuilt it from the object store and re-enqueued unfinished versions');
    return result;
  } finally {
    await redis.del(k.reindexing()).catch(() => undefined);
  }
}

/** The outbox sweep leaves younger intents to the transition that wrote them. */
const sweepMinAgeMs = 5_000;

/**
 * Checks every `intervalMs` that Redis still holds the index (a Redis that restarted empty is
 * rebuilt), relays webhook events left in the outbox by a process that stopped before it could,
 * and enqueues versions left queued without jobs by one (after three intervals, at least 1 s).
 */
export function watchForRedisLoss(services: Services, intervalMs: number): () => void {
  if (intervalMs <= 0) return () => {};
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    recoverIfRedisWasLost(services)
      .then(() => services.outbox.sweep(sweepMinAgeMs))
      .then(() => enqueueOrphans(services, Math.max(1000, 3 * intervalMs)))
      .catch((err: unknown) => {
        const code = (err as { code?: unknown })?.code;
        if (isConnectionError(err) || code === 'QUEUE_UNAVAILABLE') services.outages.failed(redisSource('commands'), err);
        else if (code === 'STORE_UNAVAILABLE') services.outages.failed('object store', err);
        else services.logger.warn({ err }, 'could not check or rebuild the Redis index');
      })
      .finally(() => (running = false));
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
