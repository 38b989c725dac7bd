import { errorCode } from '../transient.js';

/** Network fault codes in words, for messages users read. */
const meanings: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed while sending',
  ETIMEDOUT: 'connection timed out',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'host name lookup failed (temporary)',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_SOCKET: 'connection closed',
  UND_ERR_CLOSED: 'connection closed',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_HEADERS_TIMEOUT: 'no answer in time',
  UND_ERR_BODY_TIMEOUT: 'the answer stalled',
  ERR_STREAM_PREMATURE_CLOSE: 'connection closed early',
};

/** What went wrong on the network, in words: `connection refused`, or the error's own message. */
export function networkReason(err: unknown): string {
  const code = errorCode(err);
  return (code && meanings[code]) ?? ((err as Error | undefined)?.message || String(err));
}

/** The same with the error's own text for the details: `connection refused (connect ECONNREFUSED 127.0.0.1:1)`. */
export function describeNetworkError(err: unknown): string {
  const code = errorCode(err);
  const text = (err as Error | undefined)?.message || String(err);
  return code && meanings[code] ? `${meanings[code]} (${text})` : text;
}
