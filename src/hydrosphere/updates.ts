import type { RedisClient } from '../redis/connect.js';
import type { Catalog } from '../catalog/catalog.js';
import { redisKeys } from '../catalog/redis-keys.js';
import { appendAndAnnounce } from '../catalog/stream-append.js';
import { terminalStatuses, type VersionStatus } from '../domain/version.js';
import type { Logger } from '../log.js';

/**
 * The feed behind Hydrosphere's `GET /api/v2/events`: one entry when a version is created and one
 * when it is released or failed — never for the stages in between, because hydrosdk's wait reads
 * any `ModelUpdate` of its version that is not `Released` as a failure. Entries live in a Redis
 * stream (bounded), announced on the catalog's event channel under one topic.
 */
export interface ModelUpdate {
  id: string;
  model: string;
  version: number;
  status: VersionStatus;
}

export const hydrosphereUpdatesTopic = 'hydrosphere:updates';
const maxEntries = 10_000;

export function recordModelUpdates(catalog: Catalog, redis: RedisClient, prefix: string, logger: Logger): void {
  const k = redisKeys(prefix);
  catalog.onTransition(async (record, previous) => {
    if (previous !== null && !terminalStatuses.has(record.status)) return;
    try {
      await appendAndAnnounce(redis, {
        stream: k.hydrosphereUpdates(), maxLen: maxEntries,
        fields: ['model', record.model, 'version', String(record.version), 'status', record.status],
        channel: k.eventChannel(), notice: { topic: hydrosphereUpdatesTopic },
      });
    } catch (err) {
      // The version itself is recorded; only a live Hydrosphere client's wait misses this update.
      logger.warn({ err, model: record.model, version: record.version }, 'could not record a Hydrosphere model update');
    }
  });
}

export async function readModelUpdates(redis: RedisClient, prefix: string, afterId: string, count = 500): Promise<ModelUpdate[]> {
  const rows = await redis.xrange(redisKeys(prefix).hydrosphereUpdates(), `(${afterId}`, '+', 'COUNT', count);
  return rows.map(([id, fields]) => {
    const f: Record<string, string> = {};
    for (let i = 0; i < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
    return { id, model: f.model!, version: Number(f.version), status: f.status as VersionStatus };
  });
}

/** The id of the newest entry ('0-0' when there is none): a stream read from here is live only. */
export async function lastModelUpdateId(redis: RedisClient, prefix: string): Promise<string> {
  const last = await redis.xrevrange(redisKeys(prefix).hydrosphereUpdates(), '+', '-', 'COUNT', 1);
  return last[0]?.[0] ?? '0-0';
}
