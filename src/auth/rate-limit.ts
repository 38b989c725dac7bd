import { redisKeys, type RedisKeys } from '../catalog/redis-keys.js';
import type { RedisClient } from '../redis/connect.js';
import { RedisScript } from '../redis/script.js';

/**
 * A token bucket per key in Redis, refilled continuously: `capacity` requests at once, then
 * `capacity` per `windowMs`. One atomic script per request; returns how long to wait if empty.
 */
const script = new RedisScript(`
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or capacity
local ts = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
if tokens < 1 then
  return math.ceil((1 - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tokens - 1, 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate) + 1000)
return 0`, 1);

export class RateLimiter {
  private readonly k: RedisKeys;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    private readonly capacity: number,
    private readonly windowMs: number,
  ) {
    this.k = redisKeys(prefix);
  }

  /** 0 when the request may go ahead, else the milliseconds until it may. */
  async take(key: string): Promise<number> {
    const rate = this.capacity / this.windowMs;
    return Number(await script.run(this.redis, [this.k.rate(key)], [String(this.capacity), String(rate), String(Date.now())]));
  }
}
