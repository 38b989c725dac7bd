import type { Queue } from 'bullmq';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { RedisClient } from '../redis/connect.js';
import type { ObjectStore } from '../storage/object-store.js';
import { webhookQueueName } from './queue.js';
import { WebhookRepository } from './repository.js';
import { Webhooks } from './service.js';

export { Webhooks } from './service.js';
export type { EmitOptions } from './service.js';
export type { WebhookEventType } from './types.js';
export { webhookQueueName } from './queue.js';

/** Builds the webhooks facade of one process (endpoints, emit, deliveries). */
export function createWebhooks(deps: { config: Config; store: ObjectStore; redis: RedisClient; logger: Logger; queue(name: string): Queue }): Webhooks {
  const { config } = deps;
  return new Webhooks(
    new WebhookRepository(deps.store, deps.redis, config.prefix),
    () => deps.queue(webhookQueueName),
    { baseUrl: () => config.baseUrl, prefix: config.prefix, allowPrivate: config.webhookAllowPrivate, attempts: config.webhookAttempts },
    deps.logger.child({ component: 'webhooks' }),
  );
}
