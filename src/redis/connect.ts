import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { OutageLog } from '../app/outage-log.js';
import type { Logger } from '../log.js';
import { describeRedisTarget, type RedisTarget } from './target.js';
import { coalesceClientWrites } from './write-coalescing.js';

/** A connection to the deployment's Redis, whichever kind it is. Code that uses Redis takes this. */
export type RedisClient = Redis | Cluster;

/**
 * What a connection is for:
 * - `commands`: catalogue, counters, events, auth. Bounded retries, so a request gets a 503 rather
 *   than hanging when Redis is gone, yet long enough to ride out a failover.
 * - `queues`: BullMQ. It requires `maxRetriesPerRequest: null` (its blocking commands wait, and its
 *   loops retry on their own); BullMQ duplicates it for each blocking client.
 * - `subscriber`: the one pub/sub subscription of a process (a Cluster subscribes on one node and
 *   moves to another if that node goes).
 */
export type RedisRole = 'commands' | 'queues' | 'subscriber';

/**
 * In a Cluster, a command sent to a master that just died is retried every `retryDelayOnFailover`
 * ms (refreshing the slot map each time) up to `maxRedirections` times: the product is how long a
 * failover may take before the command fails. Redis's default cluster-node-timeout is 15 s, plus
 * about a second for the replica's election.
 */
const clusterRetry: Record<RedisRole, Pick<ClusterOptions, 'retryDelayOnFailover' | 'maxRedirections' | 'retryDelayOnClusterDown' | 'retryDelayOnTryAgain'>> = {
  commands: { retryDelayOnFailover: 250, maxRedirections: 80, retryDelayOnClusterDown: 250, retryDelayOnTryAgain: 100 },
  queues: { retryDelayOnFailover: 500, maxRedirections: 120, retryDelayOnClusterDown: 500, retryDelayOnTryAgain: 100 },
  subscriber: { retryDelayOnFailover: 500, maxRedirections: 120, retryDelayOnClusterDown: 500, retryDelayOnTryAgain: 100 },
};

/** Per-connection options of each role (for a Cluster, those of its connection to each node). */
function roleOptions(role: RedisRole, mode: RedisTarget['mode']): RedisOptions {
  switch (role) {
    case 'commands':
      // Sentinel: reconnects ask the sentinels for the master, so retries ride out its failover.
      return mode === 'sentinel'
        ? { maxRetriesPerRequest: 20, connectTimeout: 5000, retryStrategy: (times) => Math.min(times * 100, 1000) }
        : { maxRetriesPerRequest: 2, connectTimeout: 5000 };
    case 'queues':
      return { maxRetriesPerRequest: null };
    case 'subscriber':
      return { maxRetriesPerRequest: null, lazyConnect: true };
  }
}

/**
 * The one place that makes Redis connections: every connection a process needs (commands, BullMQ,
 * the subscriber), for one server, a Cluster or Sentinel, with options right for its role.
 */
export function connectRedis(target: RedisTarget, role: RedisRole, options: { logger?: Logger; outages?: OutageLog } = {}): RedisClient {
  const base = roleOptions(role, target.mode);
  const auth = {
    ...(target.username ? { username: target.username } : {}),
    ...(target.password ? { password: target.password } : {}),
    ...(target.tls ? { tls: {} } : {}),
  };
  let client: RedisClient;
  switch (target.mode) {
    case 'single':
      client = new Redis(target.url, { ...base, ...auth });
      break;
    case 'sentinel':
      client = new Redis({
        ...base, ...auth,
        sentinels: target.sentinels,
        name: target.name,
        db: target.db,
        ...(target.sentinelUsername ? { sentinelUsername: target.sentinelUsername } : {}),
        ...(target.sentinelPassword ? { sentinelPassword: target.sentinelPassword } : {}),
        ...(target.tls ? { enableTLSForSentinelMode: true } : {}),
      });
      break;
    case 'cluster': {
      const { lazyConnect, retryStrategy: _ignored, ...redisOptions } = base;
      client = new Cluster(target.nodes, {
        ...clusterRetry[role],
        lazyConnect: lazyConnect ?? false,
        // Requests fail at once while no node at all can be reached (the retries above cover a
        // failover, during which the client stays ready); BullMQ's connections wait instead.
        enableOfflineQueue: role !== 'commands',
        slotsRefreshTimeout: 2000,
        clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
        redisOptions: { ...redisOptions, ...auth },
      });
      break;
    }
  }
  coalesceClientWrites(client);
  const { logger, outages } = options;
  if (outages) {
    // Every reconnect attempt fails with an error: one line per outage, not one per attempt.
    const source = `redis (${role})`;
    client.on('error', (err: Error) => outages.failed(source, err));
    client.on('ready', () => outages.recovered(source));
    if (client instanceof Cluster) client.on('node error', (err: Error) => outages.failed(source, err));
  } else if (logger) {
    const where = describeRedisTarget(target);
    client.on('error', (err: Error) => logger.warn({ err: err.message, role, redis: where }, 'redis connection error'));
    if (client instanceof Cluster) {
      client.on('node error', (err: Error, node: string) => logger.warn({ err: err.message, role, node }, 'redis cluster node error'));
    }
  }
  return client;
}

export const isCluster = (client: RedisClient): client is Cluster => client instanceof Cluster;

/** The connections of every master (a Cluster) or the one connection itself: for SCAN and INFO. */
export function masters(client: RedisClient): Redis[] {
  return isCluster(client) ? client.nodes('master') : [client];
}
