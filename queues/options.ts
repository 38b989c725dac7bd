import type { BackoffStrategy, JobsOptions } from 'bullmq';
import type { Config } from '../src/config.js';
import { RetryPolicy } from '../src/shared/retry.js';

/** The backoff type of stage jobs: BullMQ asks the workers' backoffStrategy (the shared retry policy) for each delay. */
export const stageBackoffType = 'mll-stage';

/** Stage retries: MLL_STAGE_BACKOFF_MS doubling with each attempt, jittered, at most five minutes. */
export function stageRetryPolicy(baseDelayMs: number): RetryPolicy {
  return new RetryPolicy({ baseDelayMs, maxDelayMs: 5 * 60_000 });
}

/** Attempts and jittered exponential backoff for transient faults; bad input stops at once (UnrecoverableError). */
export function stageJobOptions(config: Pick<Config, 'stageAttempts' | 'stageBackoffMs'>): JobsOptions {
  return {
    attempts: config.stageAttempts,
    // The base delay travels with the job, so every worker computes the same policy.
    backoff: { type: stageBackoffType, delay: config.stageBackoffMs },
    removeOnComplete: { age: 24 * 3600, count: 10_000 },
    removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
  };
}

/** BullMQ's backoffStrategy for stage workers: the delay after `attemptsMade` attempts. */
export const stageBackoffStrategy: BackoffStrategy = (attemptsMade, _type, _err, job) => {
  const backoff = job?.opts.backoff;
  const base = typeof backoff === 'number' ? backoff : backoff?.delay ?? 1000;
  return stageRetryPolicy(base).delay(attemptsMade);
};
