import type { FlowProducer, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Tokens } from '../auth/tokens.js';
import type { Batches } from '../batches/batches.js';
import type { Catalog } from '../catalog/catalog.js';
import type { EventHub } from '../catalog/event-hub.js';
import type { Config } from '../config.js';
import type { ImageBuilder, ImageTarget } from '../image/types.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { Webhooks } from '../webhooks/index.js';

/** What the HTTP API is built from. createApp never listens; the caller does. */
export interface ApiDeps {
  config: Config;
  logger: Logger;
  store: ObjectStore;
  redis: Redis;
  catalog: Catalog;
  flows: FlowProducer;
  builder: ImageBuilder;
  target: ImageTarget;
  storeUrlSecret: string;
  /** Live notices of new events (one Redis subscription per process). */
  events: EventHub;
  metrics: Metrics;
  /** Webhook endpoints, deliveries and event fan-out. */
  webhooks: Webhooks;
  batches: Batches;
  tokens: Tokens;
  queue(name: string): Queue;
  /** Set while the process shuts down: creating routes answer 503. */
  draining?: { value: boolean };
}
