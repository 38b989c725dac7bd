import type { JobsOptions } from 'bullmq';
import { z } from 'zod';
import { MllError } from '../errors.js';

/** The BullMQ queue of webhook deliveries (under the deployment prefix, like the stage queues). */
export const webhookQueueName = 'webhook-delivery';
/** The job's backoff type; the worker's backoffStrategy computes it (exponential with jitter, or Retry-After). */
export const webhookBackoffType = 'webhook';

export const deliveryJobData = z.object({
  endpointId: z.string().regex(/^wh_[0-9a-f]{20}$/),
  deliveryId: z.string().regex(/^dlv_[0-9a-f]{24}$/),
  trigger: z.enum(['event', 'redeliver']),
});
export type DeliveryJobData = z.infer<typeof deliveryJobData>;

export function parseDeliveryJobData(data: unknown): DeliveryJobData {
  const result = deliveryJobData.safeParse(data);
  if (!result.success) throw new MllError('BAD_REQUEST', `Malformed webhook delivery job data: ${result.error.issues.map((i) => i.message).join('; ')}`);
  return result.data;
}

export function deliveryJobOptions(attempts: number, jobId: string): JobsOptions {
  return {
    jobId,
    attempts,
    backoff: { type: webhookBackoffType },
    removeOnComplete: { age: 24 * 3600, count: 10_000 },
    removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
  };
}
