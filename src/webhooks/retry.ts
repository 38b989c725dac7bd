import { describeNetworkError } from '../shared/http/index.js';
import { parseRetryAfter, RetryPolicy, type RetryRules } from '../shared/retry.js';

export { parseRetryAfter } from '../shared/retry.js';

/**
 * What to do after one delivery attempt. Only 2xx succeeds. Network faults, timeouts, 408, 429 and
 * 5xx are retried with backoff (a Retry-After is honoured, capped). 410 Gone disables the endpoint.
 * Everything else — other 4xx, 3xx (redirects are not followed), a refused target — is final.
 */
export type Decision =
  | { kind: 'delivered' }
  | { kind: 'retry'; reason: string; retryAfterMs?: number }
  | { kind: 'final'; reason: string; disable?: boolean };

/** The delivery rules, as data for the shared retry policy; the numbers come from the configuration. */
const deliveryRules: Partial<RetryRules> = {
  statuses: [408, 429, [500, 599]],
  // A receiver may come back whatever broke (TLS included); only a refused target waits for a new URL.
  otherErrors: 'retry',
  finalErrorCodes: ['WEBHOOK_TARGET_BLOCKED'],
  // ±25%, so receivers recovering from an outage are not hit by every sender at once.
  jitter: [0.75, 1.25],
};

/**
 * The retry policy of webhook deliveries: base × 2^(retry−1), capped, with ±25% jitter; a
 * Retry-After replaces it (never below the base delay, never above the cap).
 */
export function deliveryRetryPolicy(settings: { baseMs: number; maxMs: number; attempts?: number }, random?: () => number): RetryPolicy {
  return new RetryPolicy({
    ...deliveryRules, baseDelayMs: settings.baseMs, maxDelayMs: settings.maxMs, retryAfterMaxMs: settings.maxMs,
    ...(settings.attempts === undefined ? {} : { attempts: settings.attempts }),
  }, random);
}

const rules = new RetryPolicy(deliveryRules);

export function decideResponse(status: number, retryAfter: string | undefined, now = Date.now()): Decision {
  if (status >= 200 && status < 300) return { kind: 'delivered' };
  if (status === 410) return { kind: 'final', reason: 'the receiver answered 410 Gone; the endpoint is now disabled', disable: true };
  if (rules.retryable({ status })) {
    const retryAfterMs = parseRetryAfter(retryAfter, now);
    return { kind: 'retry', reason: `the receiver answered ${status}`, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
  }
  if (status >= 300 && status < 400) return { kind: 'final', reason: `the receiver answered ${status} (a redirect); redirects are not followed, register the final URL` };
  return { kind: 'final', reason: `the receiver answered ${status}` };
}

/** Network faults and timeouts are retried; a refused target is not (its URL or DNS must change first). */
export function decideError(err: unknown): Decision {
  const reason = describeError(err);
  return rules.retryable({ error: err }) ? { kind: 'retry', reason } : { kind: 'final', reason };
}

/** What went wrong on the network, in words, with the error's own text. */
export const describeError = describeNetworkError;
