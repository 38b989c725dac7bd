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

export function isRedisUnavailable(err: unknown): boolean {
  const message = err instanceof Error ? err.message : typeof err === 'string' ? err : '';
  return unavailable.some((pattern) => pattern.test(message));
}

/** The error users see when Redis is unavailable: 503, transient, "retry shortly". */
export function redisUnavailable(err: unknown): MllError {
  return new MllError('QUEUE_UNAVAILABLE', 'Redis cannot be reached; retry shortly', { cause: err });
}
