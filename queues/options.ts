import type { JobsOptions } from 'bullmq';
import type { Config } from '../src/config.js';

/** Attempts and jittered exponential backoff for transient faults; bad input stops at once (UnrecoverableError). */
export function stageJobOptions(config: Pick<Config, 'stageAttempts' | 'stageBackoffMs'>): JobsOptions {
  return {
    attempts: config.stageAttempts,
    backoff: { type: 'exponential', delay: config.stageBackoffMs, jitter: 0.5 },
    removeOnComplete: { age: 24 * 3600, count: 10_000 },
    removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
  };
}
