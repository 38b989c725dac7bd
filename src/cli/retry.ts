import { RetryPolicy, type Outcome } from '../shared/retry.js';
import { transientStatuses } from '../shared/transient.js';
import { CliError } from './errors.js';

/** What a failed API call came to, for the retry policy: the API's answer, or the network fault behind it. */
export function outcomeOf(err: unknown): Outcome {
  if (err instanceof CliError && err.status !== undefined) return { status: err.status, retryAfter: err.retryAfter };
  return { error: err instanceof CliError && err.cause !== undefined ? err.cause : err };
}

/**
 * Uploads: three attempts, 1 s then 2 s apart (or what the API's Retry-After says). 409 is retried
 * too: the same Idempotency-Key still being processed means the first attempt may yet succeed.
 */
export const uploadRetry = new RetryPolicy({ attempts: 3, baseDelayMs: 1000, maxDelayMs: 8000, statuses: [...transientStatuses, 409] });

/**
 * Batches: a batch cut off midway is sent again with its Idempotency-Key (the API makes no item
 * twice), for about forty seconds: long enough for the claim of an attempt whose API stopped to
 * lapse (10 s; until then the API answers 409).
 */
export const batchRetry = uploadRetry.with({ attempts: 8 });

/** Event streams: reconnected after a drop 250 ms, 500 ms, … 5 s apart, eight times in a row at most (about 30 s). */
export const reconnectRetry = new RetryPolicy({ attempts: 9, baseDelayMs: 250, maxDelayMs: 5000 });
