import { Redis } from 'ioredis';
import { services as svc } from './services.js';

/** Removes every Redis key of a test prefix (catalogue, counters, events and BullMQ queues). */
export async function cleanRedis(prefix: string): Promise<void> {
  const redis = new Redis(svc.redisUrl());
  try {
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (found.length > 0) await redis.del(...found);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
