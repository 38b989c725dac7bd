import { deploymentKeyPatterns } from '../../src/catalog/redis-keys.js';
import { connectRedis, masters, type RedisClient } from '../../src/redis/connect.js';
import { waitForRedis } from '../../src/redis/ready.js';
import { parseRedisUrl } from '../../src/redis/target.js';
import { services as svc } from './services.js';

/** A commands connection to the tests' Redis (one server or a Cluster, as REDIS_URL says). */
export function testRedis(url = svc.redisUrl()): RedisClient {
  return connectRedis(parseRedisUrl(url), 'commands');
}

/** Every key of a deployment prefix on every master (catalogue, counters, events and BullMQ queues). */
export async function keysOf(prefix: string, redis: RedisClient): Promise<string[]> {
  const found: string[] = [];
  for (const node of masters(redis)) {
    for (const pattern of deploymentKeyPatterns(prefix)) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        found.push(...keys);
      } while (cursor !== '0');
    }
  }
  return found;
}

/** Removes every Redis key of a test prefix. One key per DEL: in a Cluster, keys of one DEL must share a slot. */
export async function cleanRedis(prefix: string, url = svc.redisUrl()): Promise<void> {
  const redis = testRedis(url);
  try {
    await waitForRedis(redis, parseRedisUrl(url), 10_000);
    const keys = await keysOf(prefix, redis);
    for (let i = 0; i < keys.length; i += 500) await Promise.all(keys.slice(i, i + 500).map((k) => redis.unlink(k)));
  } finally {
    redis.disconnect();
  }
}
