import { setTimeout as sleep } from 'node:timers/promises';
import { isMllError } from '../errors.js';
import { errorCode, statusMatches, transientErrorCodes, transientStatuses, type StatusRule } from './transient.js';

/**
 * The one retry policy of ML Lambda, as data: which answers and errors are worth another attempt,
 * how long to wait (exponential backoff with jitter, or the server's Retry-After, capped), and how
 * many attempts in all. The registry client, the webhook sender, the CLI and the stage queues
 * (through BullMQ's backoffStrategy) each hold one, made from these rules with their own numbers.
 */
export interface RetryRules {
  /** Attempts in all, the first included. */
  attempts: number;
  /** The delay before the first retry; it doubles with each retry, up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Each delay is the exponential one times a factor drawn uniformly from [low, high] (never above maxDelayMs). */
  jitter: readonly [number, number];
  /** A Retry-After is honoured instead of the backoff, never below baseDelayMs nor above this. */
  retryAfterMaxMs: number;
  /** Answers worth another attempt. */
  statuses: readonly StatusRule[];
  /** Error codes (on the error or its causes) worth another attempt. */
  errorCodes: readonly string[];
  /**
   * Errors the tables do not name: retried (a webhook receiver may come back whatever broke) or not.
   * MllErrors are always judged by their catalogue's transient flag.
   */
  otherErrors: 'retry' | 'final';
  /** Error codes never retried, whatever else says. */
  finalErrorCodes?: readonly string[];
}

/** What one attempt came to: an HTTP answer, or an error (network fault, timeout, refusal…). */
export type Outcome = { status: number; retryAfter?: string | null } | { error: unknown; retryAfter?: string | null };

export interface Decision {
  retry: boolean;
  /** How long to wait before the next attempt (0 when not retrying). */
  delayMs: number;
}

export const defaultRules: RetryRules = {
  attempts: 5,
  baseDelayMs: 250,
  maxDelayMs: 8000,
  jitter: [0.5, 1],
  retryAfterMaxMs: 60_000,
  statuses: transientStatuses,
  errorCodes: transientErrorCodes,
  otherErrors: 'final',
};

export class RetryPolicy {
  readonly rules: RetryRules;

  constructor(rules: Partial<RetryRules> = {}, private readonly random: () => number = Math.random, private readonly now: () => number = Date.now) {
    this.rules = { ...defaultRules, ...rules };
  }

  /** The same policy with some rules changed. */
  with(rules: Partial<RetryRules>): RetryPolicy {
    return new RetryPolicy({ ...this.rules, ...rules }, this.random, this.now);
  }

  /** After attempt number `attempt` (1-based) came to `outcome`: try again, and when? */
  decide(attempt: number, outcome: Outcome): Decision {
    if (attempt >= this.rules.attempts || !this.retryable(outcome)) return { retry: false, delayMs: 0 };
    const retryAfter = parseRetryAfter(outcome.retryAfter ?? undefined, this.now());
    return { retry: true, delayMs: this.delay(attempt, retryAfter) };
  }

  /** Whether the outcome is worth another attempt, whatever the count. */
  retryable(outcome: Outcome): boolean {
    if ('status' in outcome) return statusMatches(this.rules.statuses, outcome.status);
    const err = outcome.error;
    const code = errorCode(err);
    if (code !== undefined && this.rules.finalErrorCodes?.includes(code)) return false;
    if (isMllError(err)) return err.transient;
    if (code !== undefined && this.rules.errorCodes.includes(code)) return true;
    return this.rules.otherErrors === 'retry';
  }

  /**
   * The delay after attempt `attempt` (1 = before the first retry): base × 2^(attempt−1), capped,
   * times the jitter factor; or the server's Retry-After, within [base, retryAfterMaxMs].
   */
  delay(attempt: number, retryAfterMs?: number): number {
    const { baseDelayMs, maxDelayMs, jitter, retryAfterMaxMs } = this.rules;
    if (retryAfterMs !== undefined) return Math.min(Math.max(retryAfterMs, baseDelayMs), retryAfterMaxMs);
    const exponential = Math.min(baseDelayMs * 2 ** Math.min(Math.max(attempt, 1) - 1, 40), maxDelayMs);
    const factor = jitter[0] + this.random() * (jitter[1] - jitter[0]);
    return Math.min(Math.round(exponential * factor), maxDelayMs);
  }

  /**
   * Runs `fn` until it succeeds, the policy says stop, or the signal aborts; the last error is
   * thrown. `fn` reports answers by throwing errors the policy can judge (MllErrors, whose
   * details.retryAfter is honoured, or network errors), or `retryIf` judges them instead.
   */
  async run<T>(
    fn: (attempt: number) => Promise<T>,
    options: { signal?: AbortSignal; onRetry?: (err: unknown, attempt: number, delayMs: number) => void; retryIf?: (err: unknown) => boolean } = {},
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      options.signal?.throwIfAborted();
      try {
        return await fn(attempt);
      } catch (err) {
        if (options.signal?.aborted) throw err;
        const decision = options.retryIf
          ? (attempt < this.rules.attempts && options.retryIf(err) ? { retry: true, delayMs: this.delay(attempt) } : { retry: false, delayMs: 0 })
          : this.decide(attempt, { error: err, retryAfter: retryAfterOf(err) });
        if (!decision.retry) throw err;
        options.onRetry?.(err, attempt, decision.delayMs);
        await sleep(decision.delayMs, undefined, { signal: options.signal }).catch((e: unknown) => {
          throw options.signal?.aborted ? options.signal.reason : e;
        });
      }
    }
  }
}

/**
 * Waits between compare-and-swap attempts on a contended record (version records, webhook
 * deliveries): 10 ms doubling to 250 ms, times a uniform [0, 1] (full jitter spreads the writers).
 */
export const compareAndSwapBackoff = new RetryPolicy({ baseDelayMs: 10, maxDelayMs: 250, jitter: [0, 1] });

/** The Retry-After an error carries from the answer that caused it (MllError details.retryAfter). */
function retryAfterOf(err: unknown): string | undefined {
  const value = isMllError(err) ? (err.details as { retryAfter?: unknown } | undefined)?.retryAfter : undefined;
  return typeof value === 'string' ? value : undefined;
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
