import type { Logger } from '../log.js';

interface Outage {
  since: number;
  failures: number;
  first: string;
}

/**
 * Logs a connection's outages at a bounded rate: the first failure of an outage is one line, the
 * failures after it (every reconnect attempt, every client of the connection that notices) are only
 * counted, and one line says how long it lasted and how many failures there were, when the
 * connection is back or, if it never came back, when the process exits.
 */
export class OutageLog {
  private readonly outages = new Map<string, Outage>();

  constructor(private readonly logger: Logger) {}

  failed(source: string, err: unknown): void {
    const outage = this.outages.get(source);
    if (outage) {
      outage.failures += 1;
      return;
    }
    const first = describe(err);
    this.outages.set(source, { since: Date.now(), failures: 1, first });
    this.logger.warn({ source, err: first }, `${source} unreachable; retrying (further failures are counted, not logged, until it is back)`);
  }

  recovered(source: string): void {
    const outage = this.outages.get(source);
    if (!outage) return;
    this.outages.delete(source);
    this.logger.info({ source, downMs: Date.now() - outage.since, failures: outage.failures }, `${source} is back`);
  }

  isDown(source: string): boolean {
    return this.outages.has(source);
  }

  /** One line per source that is still down (at exit). */
  summary(): void {
    for (const [source, outage] of this.outages) {
      this.logger.warn({ source, downMs: Date.now() - outage.since, failures: outage.failures, first: outage.first }, `${source} was still unreachable at exit`);
    }
    this.outages.clear();
  }
}

function describe(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return typeof e?.code === 'string' && !message.includes(e.code) ? `${e.code}: ${message}` : message;
}

/** The outage log's name for a Redis connection of a role (commands, queues, subscriber). */
export const redisSource = (role: string) => `redis (${role})`;

/** Errors that say a connection is down (as opposed to a command that failed on a working one). */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : '';
  return ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'].includes(code)
    || /Connection is closed|connect E[A-Z]+|Stream isn't writeable|Reached the max retries per request limit|write after end|Socket closed unexpectedly/i.test(message);
}
