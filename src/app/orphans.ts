import { jobsOfVersion, requeueVersion } from '../../queues/flow.js';
import { redisKeys } from '../catalog/redis-keys.js';
import { isNotFound } from '../storage/object-store.js';
import type { Services } from './services.js';

/** Versions looked at per sweep, oldest first. */
const sweepLimit = 100;

/**
 * Enqueues versions the store has as queued whose jobs were never added: the API that took the
 * upload stopped (killed, or crashed) between writing the record and adding its flow, and no
 * retry of the client's would ever move that version. Looks at the versions queued for longer
 * than `minAgeMs` (oldest first, at most a hundred), skips those that have a job, and
 * enqueues the rest again (BullMQ's fixed job ids make a flow added twice one flow). A version the
 * store no longer has (its upload failed and was removed) leaves the list. Returns how many were enqueued.
 */
export async function enqueueOrphans(
  services: Pick<Services, 'catalog' | 'config' | 'flows' | 'queue' | 'redis' | 'logger'>, minAgeMs: number,
): Promise<number> {
  const { catalog, config, flows, queue, redis, logger } = services;
  const queuedSince = redisKeys(config.prefix).queuedSince();
  const members = await redis.zrangebyscore(queuedSince, '-inf', String(Date.now() - minAgeMs), 'LIMIT', 0, sweepLimit);
  let enqueued = 0;
  for (const member of members) {
    const at = member.lastIndexOf('/');
    const ref = { model: member.slice(0, at), version: Number(member.slice(at + 1)) };
    if ((await jobsOfVersion(queue, ref)).length > 0) continue;
    const record = await catalog.getDurable(ref.model, ref.version).catch((err: unknown) => {
      if (isNotFound(err)) return null;
      throw err;
    });
    if (record === null) {
      await redis.zrem(queuedSince, member);
      continue;
    }
    if (record.status !== 'queued') continue;
    if (await requeueVersion(queue, flows, config, ref)) {
      enqueued += 1;
      logger.warn({ model: ref.model, version: ref.version, createdAt: record.createdAt },
        'a queued version had no jobs (the process that took its upload stopped before enqueueing it); enqueued it');
    }
  }
  return enqueued;
}
