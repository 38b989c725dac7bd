import type { RedisKeys } from '../catalog/redis-keys.js';
import type { VersionRecord } from '../domain/version.js';
import type { RedisClient } from '../redis/connect.js';

/** As long as an Idempotency-Key's answer is kept (src/api/idempotency.ts). */
const ttlSeconds = 24 * 3600;

/** An item a previous attempt of the batch numbered: the version and the payload it was made of. */
export interface NumberedItem {
  version: number;
  payloadKey: string;
}

/**
 * What a batch request sent with an Idempotency-Key has done so far, in one Redis hash under that
 * key: the batch it fills and each item's version, noted once the version has its number and
 * before its record is written. A retry of the request after it was cut off (the client's
 * connection dropped, or the API stopped) fills the same batch and takes each item the earlier
 * attempt numbered instead of making it again (Intake.adopt decides whether it was written). An
 * item is the same item when it comes at the same place in the request with the same model.
 * The middleware lets only one attempt run at a time.
 */
export class BatchResume {
  constructor(
    private readonly redis: RedisClient,
    private readonly key: string,
  ) {}

  static of(redis: RedisClient, k: RedisKeys, idempotencyKey: string): BatchResume {
    return new BatchResume(redis, k.batchResume(idempotencyKey));
  }

  /** The batch an earlier attempt started, or `fresh` (then noted for the next attempt). */
  async batchId(fresh: string): Promise<{ id: string; earlier: boolean }> {
    const [[, set], [, id]] = (await this.redis.multi()
      .hsetnx(this.key, '_batch', fresh)
      .hget(this.key, '_batch')
      .expire(this.key, ttlSeconds)
      .exec()) as [[unknown, number], [unknown, string | null], unknown];
    return { id: id ?? fresh, earlier: set === 0 };
  }

  /** Who takes an item's presigned upload (PresignedUploads.claim): this request's item, whichever attempt. */
  owner(index: number): string {
    return `${this.key}#${index}`;
  }

  async numbered(index: number, model: string): Promise<NumberedItem | null> {
    const raw = await this.redis.hget(this.key, field(index, model));
    return raw === null ? null : JSON.parse(raw) as NumberedItem;
  }

  async note(index: number, model: string, record: VersionRecord): Promise<void> {
    await this.redis.hset(this.key, field(index, model), JSON.stringify({ version: record.version, payloadKey: record.payload.key } satisfies NumberedItem));
  }
}

const field = (index: number, model: string) => `${index}:${model}`;
