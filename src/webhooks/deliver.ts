import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { WebhookRepository } from './repository.js';
import type { RetryPolicy } from '../shared/retry.js';
import { decideError, decideResponse, type Decision } from './retry.js';
import { signedHeaders } from './signature.js';
import type { WebhookSink } from './sink.js';
import type { AttemptOutcome, Delivery, DeliveryAttempt } from './types.js';

export interface DeliveryContext {
  repo: WebhookRepository;
  sink: WebhookSink;
  timeoutMs: number;
  /** Delays between attempts (deliveryRetryPolicy). */
  retry: RetryPolicy;
  /** Called when a receiver answers 410 Gone. */
  disableEndpoint(id: string, reason: string): Promise<void>;
  logger: Logger;
  metrics?: Metrics;
}

export interface AttemptInput {
  endpointId: string;
  deliveryId: string;
  trigger: DeliveryAttempt['trigger'];
  /** 1-based attempt number within the current job (for the backoff). */
  attemptInJob: number;
  /** No attempt follows this one when it fails transiently. */
  lastAttempt: boolean;
  signal?: AbortSignal;
}

export type AttemptResult =
  | { outcome: AttemptOutcome; reason: string | null; retryDelayMs?: number }
  | { outcome: 'skipped'; reason: string };

/**
 * Makes one attempt to deliver one event to one endpoint, and records it: signs the stored body
 * with the endpoint's secret and a fresh timestamp, sends it, and decides from the answer whether
 * it succeeded, should be retried (and when) or has failed for good. The delivery's state is read
 * from the store first, so a replayed job (a duplicate, or one re-enqueued after Redis was lost)
 * never sends a delivered event again; the attempt is written to the store by compare-and-swap.
 */
export async function attemptDelivery(ctx: DeliveryContext, input: AttemptInput): Promise<AttemptResult> {
  const delivery = await ctx.repo.getDelivery(input.endpointId, input.deliveryId);
  if (!delivery) return { outcome: 'skipped', reason: 'the delivery no longer exists (endpoint deleted)' };
  if (delivery.status !== 'pending') {
    await ctx.repo.clearPending(delivery.id);
    return { outcome: 'skipped', reason: `the delivery is already ${delivery.status}` };
  }

  const stop = async (reason: string): Promise<AttemptResult> => {
    await ctx.repo.updateDelivery(delivery.endpointId, delivery.id, (d) => {
      if (d.status !== 'pending') return null;
      applyOutcome(d, 'failed', reason);
    });
    await ctx.repo.clearPending(delivery.id);
    return { outcome: 'skipped', reason };
  };
  const endpoint = await ctx.repo.getEndpointDurable(delivery.endpointId);
  if (!endpoint) return stop('the endpoint was deleted');
  if (!endpoint.enabled) return stop(`the endpoint is disabled: ${endpoint.disabledReason ?? 'no reason recorded'}`);
  const event = await ctx.repo.getEvent(delivery.eventId);
  if (!event) return stop('the event is no longer stored');

  const attemptNumber = delivery.attempts.length + 1;
  const body = Buffer.from(event.body, 'utf8');
  const started = Date.now();
  let statusCode: number | null = null;
  let decision: Decision;
  try {
    const response = await ctx.sink.send({
      url: endpoint.url, body, headers: signedHeaders(endpoint.secret, event.id, body), timeoutMs: ctx.timeoutMs, signal: input.signal,
    });
    statusCode = response.status;
    decision = decideResponse(response.status, response.retryAfter);
    if (decision.kind !== 'delivered' && response.bodySnippet.trim() !== '') {
      decision.reason += `: ${response.bodySnippet.trim().slice(0, 200)}`;
    }
  } catch (err) {
    decision = decideError(err);
  }
  const durationMs = Date.now() - started;

  let outcome: AttemptOutcome;
  let retryDelayMs: number | undefined;
  if (decision.kind === 'delivered') outcome = 'delivered';
  else if (decision.kind === 'retry') {
    outcome = input.lastAttempt ? 'gave_up' : 'retrying';
    if (!input.lastAttempt) retryDelayMs = ctx.retry.delay(input.attemptInJob, decision.retryAfterMs);
  } else outcome = decision.disable ? 'disabled' : 'failed';
  const reason = decision.kind === 'delivered' ? null : decision.reason;

  const attempt: DeliveryAttempt = {
    attempt: attemptNumber,
    at: new Date(started).toISOString(),
    trigger: input.trigger,
    statusCode,
    durationMs,
    error: reason,
    outcome,
    nextAttemptAt: retryDelayMs === undefined ? null : new Date(Date.now() + retryDelayMs).toISOString(),
  };
  ctx.metrics?.webhookDeliveries.inc({ outcome });
  // Disabled before the attempt says so: whoever sees the outcome sees the endpoint disabled.
  if (outcome === 'disabled') await ctx.disableEndpoint(endpoint.id, `The receiver answered 410 Gone at ${attempt.at}`);
  const stored = await ctx.repo.updateDelivery(delivery.endpointId, delivery.id, (d) => {
    attempt.attempt = d.attempts.length + 1;
    d.attempts.push(attempt);
    if (d.status === 'pending') applyOutcome(d, outcome, reason);
  });
  if (stored && stored.status !== 'pending') await ctx.repo.clearPending(delivery.id);
  const log = { webhook: endpoint.id, delivery: delivery.id, event: event.id, type: event.type, attempt: attemptNumber, statusCode, durationMs, outcome };
  if (outcome === 'delivered') ctx.logger.debug(log, 'webhook delivered');
  else ctx.logger.info({ ...log, reason }, 'webhook attempt failed');
  return { outcome, reason, ...(retryDelayMs === undefined ? {} : { retryDelayMs }) };
}

function applyOutcome(delivery: Delivery, outcome: AttemptOutcome, reason: string | null): void {
  if (outcome === 'retrying') return;
  delivery.status = outcome === 'delivered' ? 'delivered' : 'failed';
  delivery.outcome = outcome;
  delivery.error = reason;
}

/** Marks a delivery whose job died outside an attempt (stalled too often, unexpected error) as given up. */
export async function markAbandoned(repo: WebhookRepository, endpointId: string, deliveryId: string, reason: string): Promise<void> {
  const stored = await repo.updateDelivery(endpointId, deliveryId, (d) => {
    if (d.status !== 'pending') return null;
    applyOutcome(d, 'gave_up', reason);
  });
  if (stored) await repo.clearPending(deliveryId);
}
