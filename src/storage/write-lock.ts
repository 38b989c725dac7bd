import { randomUUID } from 'node:crypto';
import { redisKeys, writeLockEpochKey } from '../catalog/redis-keys.js';
import type { RedisClient } from '../redis/connect.js';
import { deleteIfHeldScript } from '../redis/script.js';
import { MllError } from '../errors.js';

/** What a writer holding a lease may ask of it. */
export interface Lease {
  /** Milliseconds before the lease may pass to another writer (by this process's clock, rounded down). */
  remainingMs(): number;
  /**
   * Keeps the lease until it runs out instead of releasing it when the work ends: for a write whose
   * outcome is unknown (a timeout, a cut connection), which the server may still apply.
   */
  holdUntilExpiry(): void;
}

/** Mutual exclusion between writers of one object, for stores that cannot compare-and-swap themselves. */
export interface WriteLock {
  withLock<T>(name: string, work: (lease: Lease) => Promise<T>): Promise<T>;
}

export interface RedisWriteLockOptions {
  /** Key prefix of the locks (the deployment prefix). */
  prefix: string;
  /** How long a lease lasts; the work must have written by then. */
  leaseMs?: number;
  /** How long to wait for a lease held by another writer before giving up (TIMEOUT, transient). */
  waitMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Leases in Redis (SET NX PX, released by token). A Redis that lost its keys (restarted empty,
 * flushed) has also lost the leases that were held, so a lease is granted only once a full lease
 * period has passed since Redis was first seen empty: the epoch key records when that was (by
 * Redis's clock), and every lease taken before then has run out by the time one is granted after.
 * The key is global to the Redis, not to a deployment: it says nothing but "these leases are safe".
 *
 * What it assumes, like every lease: a writer finishes before its lease runs out (it checks the
 * time left before writing, and never releases early a write whose outcome it does not know), and
 * the store applies or drops a request within the rest of the lease. A Redis failover to a replica
 * that missed a lease is not detected; a store with native conditional writes needs none of this.
 */
export class RedisWriteLock implements WriteLock {
  static readonly epochKey = writeLockEpochKey;
  private readonly leaseMs: number;
  private readonly waitMs: number;

  constructor(private readonly redis: RedisClient, private readonly options: RedisWriteLockOptions) {
    this.leaseMs = options.leaseMs ?? 10_000;
    this.waitMs = options.waitMs ?? 30_000;
  }

  async withLock<T>(name: string, work: (lease: Lease) => Promise<T>): Promise<T> {
    const key = redisKeys(this.options.prefix).writeLock(name);
    const { token, expiresAt } = await this.acquire(key, name);
    let hold = false;
    const lease: Lease = {
      remainingMs: () => Math.floor(expiresAt - performance.now()),
      holdUntilExpiry: () => void (hold = true),
    };
    try {
      return await work(lease);
    } finally {
      if (!hold) await this.release(key, token).catch(() => undefined);
    }
  }

  private async acquire(key: string, name: string): Promise<{ token: string; expiresAt: number }> {
    const token = randomUUID();
    const giveUpAt = Date.now() + this.waitMs;
    for (let pause = 5; ; pause = Math.min(pause * 2, 200)) {
      const asked = performance.now();
      const granted = await this.redis.set(key, token, 'PX', this.leaseMs, 'NX').catch((err: unknown) => {
        throw new MllError('QUEUE_UNAVAILABLE', 'Redis cannot be reached to coordinate a write; retry shortly', { cause: err });
      });
      if (granted === 'OK') {
        // Checked after taking the lease: Redis may have lost its keys just before it granted it.
        const graceMs = await this.graceLeftMs();
        if (graceMs <= 0) return { token, expiresAt: asked + this.leaseMs };
        await this.release(key, token);
        await sleep(graceMs);
        continue;
      }
      if (Date.now() > giveUpAt) {
        throw new MllError('TIMEOUT', `Gave up waiting to write "${name}": another writer has held it for ${this.waitMs} ms`);
      }
      await sleep(pause * (0.5 + Math.random()));
    }
  }

  /** Milliseconds until leases granted before Redis lost its keys have all run out (0 or less: none can be held). */
  private async graceLeftMs(): Promise<number> {
    const now = async () => {
      const [seconds, micros] = await this.redis.time();
      return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    };
    let until = await this.redis.get(RedisWriteLock.epochKey);
    if (until === null) {
      await this.redis.set(RedisWriteLock.epochKey, String((await now()) + this.leaseMs), 'NX');
      until = await this.redis.get(RedisWriteLock.epochKey);
    }
    return Number(until ?? 0) - (await now());
  }

  private async release(key: string, token: string): Promise<void> {
    await deleteIfHeldScript.run(this.redis, [key], [token]);
  }
}
