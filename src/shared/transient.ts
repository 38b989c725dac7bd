/**
 * What counts as a transient fault, as data: the answers and error codes after which the same
 * request may succeed. isTransient (src/errors.ts) and every RetryPolicy (src/shared/retry.ts)
 * read these tables; a policy may narrow or widen them for its own use.
 */

/** An HTTP status, or an inclusive range of them. */
export type StatusRule = number | readonly [number, number];

/** 408 Request Timeout, 425 Too Early, 429 Too Many Requests and every 5xx. */
export const transientStatuses: readonly StatusRule[] = [408, 425, 429, [500, 599]];

/** Network faults and timeouts, as Node, libuv and undici name them. */
export const transientErrorCodes: readonly string[] = [
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN',
  'EAI_AGAIN', 'ENOTFOUND', 'EADDRNOTAVAIL', 'ESOCKETTIMEDOUT', 'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED',
];

export function statusMatches(rules: readonly StatusRule[], status: number): boolean {
  return rules.some((r) => (typeof r === 'number' ? r === status : status >= r[0] && status <= r[1]));
}

/** The first string `code` on an error or its chain of causes. */
export function errorCode(err: unknown): string | undefined {
  let e = err as { code?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; e && typeof e === 'object' && depth < 6; depth++) {
    if (typeof e.code === 'string') return e.code;
    e = e.cause as typeof e;
  }
  return undefined;
}
