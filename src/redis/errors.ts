import { MllError } from '../errors.js';

/**
 * Errors that mean Redis (a server, a Cluster or the master Sentinel names) cannot serve right
 * now, as ioredis reports them: closed or refused connections, a Cluster that is down, resharding
 * or still failing over after its retries. Anything else (a script error, a wrong type) is a bug.
 */
const unavailable = [
  /Connection is closed/i, /connect E[A-Z]+/, /Stream isn't writeable/i, /ECONNRESET|EPIPE|ETIMEDOUT/,
  /Cluster isn't ready/i, /Cluster is ended/i, /Too many Cluster redirections/i, /None of startup nodes is available/i,
  /^CLUSTERDOWN/, /^TRYAGAIN/, /^LOADING/, /^MASTERDOWN/, /^READONLY/, /All sentinels are unreachable/i,
  /Reached the max retries per request limit/i,
];

const messageOf = (err: unknown) => (err instanceof Error ? err.message : typeof err === 'string' ? err : '');

export function isRedisUnavailable(err: unknown): boolean {
  return unavailable.some((pattern) => pattern.test(messageOf(err))) || isReshardingAbort(err);
}

/**
 * A transaction (MULTI/EXEC, as BullMQ adds a flow) that a Redis Cluster refused while one of its
 * slots was moving: EXEC answers EXECABORT because a queued command was redirected (MOVED, ASK) or
 * told to try again. Nothing of it ran, so it may simply be sent again.
 */
export function isReshardingAbort(err: unknown): boolean {
  if (!/^EXECABORT/.test(messageOf(err))) return false;
  const previous = (err as { previousErrors?: unknown[] }).previousErrors ?? [];
  return previous.some((e) => /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN)\b/.test(messageOf(e)));
}

/** The error users see when Redis is unavailable: 503, transient, "retry shortly". */
export function redisUnavailable(err: unknown): MllError {
  return new MllError('QUEUE_UNAVAILABLE', 'Redis cannot be reached; retry shortly', { cause: err });
}
