import { RetryPolicy, type Outcome } from '../shared/retry.js';
import { transientStatuses } from '../shared/transient.js';
import { CliError } from './errors.js';

/** What a failed API call came to, for the retry policy: the API's answer, or the network fault behind it. */
export function outcomeOf(err: unknown): Outcome {
  if (err instanceof CliError && err.status !== undefined) return { status: err.status, retryAfter: err.retryAfter };
  return { error: err instanceof CliError && err.cause !== undefined ? err.cause : err };
}

/**
 * Uploads and batches, once an attempt has reached the API: eight attempts, up to 2, 4, then 8 s
 * apart (jittered: 25-45 s in all), or what the API's Retry-After says but never sooner than 2 s. 409 is
 * retried too: the same Idempotency-Key still being processed means the first attempt may yet
 * succeed, and when its API stopped, the API answers 409 until that attempt's claim lapses (10 s)
 * and then goes on where it stopped. A client that gave up sooner and sent again under a new key
 * could make a second version.
 */
const uploadRetry = new RetryPolicy({ attempts: 8, baseDelayMs: 2000, maxDelayMs: 8000, statuses: [...transientStatuses, 409] });

/** While no attempt has reached the API (nothing was sent): three attempts, then "is it running?". */
const firstContactRetry = uploadRetry.with({ attempts: 3, baseDelayMs: 1000 });

/** Whether an attempt that failed with `err` reached the API: anything but a refused or unresolved connection. */
export function reachedApi(err: CliError): boolean {
  const code = (err.details as { code?: unknown } | undefined)?.code;
  return !(err.code === 'UNREACHABLE' && (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN'));
}

/**
 * The policy for the next attempt of an upload or batch sent under one Idempotency-Key: the long
 * one once any attempt reached the API (what it made must be waited for), the short one before.
 */
export const sendRetry = (reached: boolean): RetryPolicy => (reached ? uploadRetry : firstContactRetry);

/** Event streams: reconnected after a drop 250 ms, 500 ms, … 5 s apart, eight times in a row at most (about 30 s). */
export const reconnectRetry = new RetryPolicy({ attempts: 9, baseDelayMs: 250, maxDelayMs: 5000 });
