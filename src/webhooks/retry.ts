/**
 * What to do after one delivery attempt. Only 2xx succeeds. Network faults, timeouts, 408, 429 and
 * 5xx are retried with backoff (a Retry-After is honoured, capped). 410 Gone disables the endpoint.
 * Everything else — other 4xx, 3xx (redirects are not followed), a refused target — is final.
 */
export type Decision =
  | { kind: 'delivered' }
  | { kind: 'retry'; reason: string; retryAfterMs?: number }
  | { kind: 'final'; reason: string; disable?: boolean };

export function decideResponse(status: number, retryAfter: string | undefined, now = Date.now()): Decision {
  if (status >= 200 && status < 300) return { kind: 'delivered' };
  if (status === 410) return { kind: 'final', reason: 'the receiver answered 410 Gone; the endpoint is now disabled', disable: true };
  if (status === 408 || status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(retryAfter, now);
    return { kind: 'retry', reason: `the receiver answered ${status}`, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
  }
  if (status >= 300 && status < 400) return { kind: 'final', reason: `the receiver answered ${status} (a redirect); redirects are not followed, register the final URL` };
  return { kind: 'final', reason: `the receiver answered ${status}` };
}

/** Network faults and timeouts are retried; a refused target is not (its URL or DNS must change first). */
export function decideError(err: unknown): Decision {
  const e = err as { name?: string; code?: string; message?: string };
  const message = describeError(err);
  if (e?.code === 'WEBHOOK_TARGET_BLOCKED') return { kind: 'final', reason: message };
  return { kind: 'retry', reason: message };
}

export function describeError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const text = e?.message || String(err);
  const known: Record<string, string> = {
    ECONNREFUSED: 'connection refused', ECONNRESET: 'connection reset', ENOTFOUND: 'the host name does not resolve',
    EAI_AGAIN: 'DNS lookup failed (temporary)', EHOSTUNREACH: 'host unreachable', ENETUNREACH: 'network unreachable',
  };
  if (e?.code && known[e.code]) return `${known[e.code]} (${text})`;
  return text;
}

/** Retry-After as milliseconds from `now`: delta-seconds or an HTTP date. Undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

export interface BackoffSettings {
  baseMs: number;
  maxMs: number;
}

/**
 * The delay before retry number `retry` (1 for the first retry): base × 2^(retry−1), capped, with
 * ±25% jitter so receivers recovering from an outage are not hit by every sender at once. A
 * Retry-After replaces it (never below the base delay, never above the cap).
 */
export function retryDelay(retry: number, settings: BackoffSettings, retryAfterMs?: number, random = Math.random): number {
  if (retryAfterMs !== undefined) return Math.min(Math.max(retryAfterMs, settings.baseMs), settings.maxMs);
  const exponential = Math.min(settings.baseMs * 2 ** Math.min(retry - 1, 40), settings.maxMs);
  return Math.min(Math.round(exponential * (0.75 + random() * 0.5)), settings.maxMs);
}
