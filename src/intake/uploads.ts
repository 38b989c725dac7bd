import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../redis/connect.js';
import type { RedisKeys } from '../catalog/redis-keys.js';
import { keys } from '../domain/keys.js';
import { MllError } from '../errors.js';
import type { ObjectStore } from '../storage/object-store.js';

export const uploadIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const claimSeconds = 30 * 24 * 3600;

export interface PresignedUpload {
  id: string;
  method: 'PUT';
  url: string;
  expiresAt: string;
}

/**
 * Presigned uploads for large payloads: the client PUTs the bytes straight to the store (S3) or
 * to the API's signed store route (fs), then creates a version that references the upload id.
 * An upload id makes at most one version; the claim lives as long as uploads are kept.
 */
export class PresignedUploads {
  constructor(
    private readonly store: ObjectStore,
    private readonly redis: RedisClient,
    private readonly redisKeys: RedisKeys,
  ) {}

  async create(expiresIn: number): Promise<PresignedUpload> {
    const id = randomUUID();
    const url = await this.store.presignPut(keys.upload(id), expiresIn);
    return { id, method: 'PUT', url, expiresAt: new Date(Date.now() + expiresIn * 1000).toISOString() };
  }

  /**
   * Takes an upload for one version. `owner` names the request taking it (its Idempotency-Key, and
   * the item for a batch): the same request, retried after its process stopped between taking the
   * upload and writing the version, takes it again; any other is refused.
   */
  async claim(id: string, owner?: string): Promise<void> {
    if (!uploadIdPattern.test(id)) throw new MllError('BAD_REQUEST', `"${id}" is not an upload id`);
    const key = this.redisKeys.uploadClaim(id);
    const value = owner === undefined ? '1' : `owner:${owner}`;
    if ((await this.redis.set(key, value, 'EX', claimSeconds, 'NX')) === 'OK') return;
    if (owner !== undefined && (await this.redis.get(key)) === value) return;
    throw new MllError('CONFLICT', `Upload ${id} was already used for a version`);
  }

  async release(id: string): Promise<void> {
    await this.redis.del(this.redisKeys.uploadClaim(id));
  }
}
