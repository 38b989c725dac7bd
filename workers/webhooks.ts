import { UnrecoverableError, Worker } from 'bullmq';
import type { Services } from '../src/app/services.js';
import { errorMessage } from '../src/errors.js';
import { attemptDelivery, markAbandoned } from '../src/webhooks/deliver.js';
import { createHttpSink } from '../src/webhooks/http-sink.js';
import { parseDeliveryJobData, webhookQueueName } from '../src/webhooks/queue.js';
import { deliveryRetryPolicy } from '../src/webhooks/retry.js';
import { isConnectionError, redisSource } from '../src/app/outage-log.js';
import type { ActiveJobs } from './active-jobs.js';

/** Carries the delay chosen by the attempt (backoff or Retry-After) to BullMQ's backoffStrategy. */
class RetryDelivery extends Error {
  constructor(message: string, readonly retryDelayMs: number) {
    super(message);
    this.name = 'RetryDelivery';
  }
}

const passThrough = { track: <T>(work: () => Promise<T>) => work() };

/**
 * Binds webhook delivery to the `webhook-delivery` queue: one attempt per job run, BullMQ
 * retrying transient failures after the delay the attempt chose; final outcomes end the job.
 */
export function startWebhookWorker(services: Services, options: { active?: ActiveJobs } = {}): Worker {
  const { config, logger, webhooks } = services;
  const sink = createHttpSink({ policy: { allowPrivate: config.webhookAllowPrivate } });
  const retry = deliveryRetryPolicy({ baseMs: config.webhookBackoffMs, maxMs: config.webhookBackoffMaxMs, attempts: config.webhookAttempts });
  const ctx = {
    repo: webhooks.repository,
    sink,
    timeoutMs: config.webhookTimeoutMs,
    retry,
    disableEndpoint: (id: string, reason: string) => webhooks.disable(id, reason),
    logger: logger.child({ component: 'webhooks' }),
    metrics: services.metrics,
  };
  const worker = new Worker(webhookQueueName, (job, _token, signal) => (options.active ?? passThrough).track(async () => {
    const data = parseDeliveryJobData(job.data);
    const attemptInJob = job.attemptsMade + 1;
    const result = await attemptDelivery(ctx, {
      endpointId: data.endpointId, deliveryId: data.deliveryId, trigger: data.trigger, attemptInJob, lastAttempt: attemptInJob >= (job.opts.attempts ?? 1), signal,
    });
    if (result.outcome === 'retrying') throw new RetryDelivery(result.reason ?? 'retrying', result.retryDelayMs ?? retry.delay(attemptInJob));
    if (result.outcome === 'delivered' || result.outcome === 'skipped') return result;
    throw new UnrecoverableError(result.reason ?? result.outcome);
  }), {
    connection: services.queueRedis,
    prefix: services.queuePrefix,
    concurrency: config.webhookConcurrency,
    lockDuration: Math.max(30_000, config.webhookTimeoutMs * 2),
    settings: {
      backoffStrategy: (attemptsMade, _type, err) =>
        err instanceof RetryDelivery ? err.retryDelayMs : retry.delay(attemptsMade),
    },
  });
  worker.on('failed', (job, err) => {
    if (!job) return;
    const final = err instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
    if (!final) return;
    const { endpointId, deliveryId } = job.data as { endpointId?: unknown; deliveryId?: unknown };
    if (typeof deliveryId !== 'string' || typeof endpointId !== 'string') return;
    markAbandoned(webhooks.repository, endpointId, deliveryId, errorMessage(err)).catch((e: unknown) => logger.error({ err: e }, 'could not record an abandoned webhook delivery'));
  });
  worker.on('error', (err) => {
    if (isConnectionError(err)) services.outages.failed(redisSource('queues'), err);
    else logger.error({ err }, 'webhook worker error');
  });
  worker.on('closed', () => sink.close());
  return worker;
}
