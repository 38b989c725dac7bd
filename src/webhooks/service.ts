import type { Queue } from 'bullmq';
import { z } from 'zod';
import { presentVersion } from '../api/present.js';
import type { Catalog } from '../catalog/catalog.js';
import type { VersionRecord, VersionStatus } from '../domain/version.js';
import { MllError } from '../errors.js';
import type { Logger } from '../log.js';
import { deliveryId, eventId, newEndpointId } from './ids.js';
import { deliveryJobOptions, type DeliveryJobData } from './queue.js';
import type { WebhookRepository } from './repository.js';
import { assertValidSecret, generateSecret } from './signature.js';
import { checkTargetUrl } from './target-url.js';
import { webhookEventTypes, type Delivery, type DeliveryAttempt, type StoredEvent, type WebhookEndpoint, type WebhookEventType } from './types.js';

export interface WebhookSettings {
  /** Read on use: the API learns its port only once it listens. */
  baseUrl(): string;
  /** Distinguishes deterministic event ids of deployments that share receivers. */
  prefix: string;
  allowPrivate: boolean;
  attempts: number;
}

export interface EmitOptions {
  /** Models the event concerns; endpoints with a model filter get it only when one matches. */
  models?: string[];
  /** Makes the event id deterministic: emitting the same type and key twice delivers once. */
  key?: string;
}

/** How long the catalogue's transition listener waits for an emit before leaving it to finish alone. */
const listenerBudgetMs = 2000;

const modelPattern = /^[a-z0-9][a-z0-9_-]{0,62}\*?$|^\*$/;
const createInput = z.strictObject({
  url: z.string(),
  events: z.array(z.enum(webhookEventTypes)).min(1).optional(),
  models: z.array(z.string().regex(modelPattern, 'a model name, or a prefix ending in *')).min(1).max(100).nullable().optional(),
  secret: z.string().optional(),
  description: z.string().max(500).nullable().optional(),
});

/** An endpoint as the API shows it: never its secret. */
export function presentEndpoint(e: WebhookEndpoint, baseUrl: string) {
  const { secret: _secret, ...shown } = e;
  const url = `${baseUrl}/api/v1/webhooks/${e.id}`;
  return { ...shown, links: { self: url, deliveries: `${url}/deliveries` } };
}

export function modelMatches(filter: string[] | null, models: string[] | undefined): boolean {
  if (filter === null) return true;
  if (!models || models.length === 0) return false;
  return filter.some((f) => (f.endsWith('*') ? models.some((m) => m.startsWith(f.slice(0, -1))) : models.includes(f)));
}

const versionEventFor: Partial<Record<VersionStatus, WebhookEventType>> = { released: 'version.released', failed: 'version.failed' };

/**
 * Webhook endpoints and event fan-out. `emit` records one delivery per matching endpoint and
 * enqueues it on the `webhook-delivery` queue; the worker (workers/webhooks.ts) sends it.
 */
export class Webhooks {
  constructor(
    private readonly repo: WebhookRepository,
    private readonly queue: () => Queue,
    private readonly settings: WebhookSettings,
    private readonly logger: Logger,
  ) {}

  get repository(): WebhookRepository {
    return this.repo;
  }

  // Endpoints

  /** Registers an endpoint; the answer is the only place its secret is ever shown. */
  async create(body: unknown): Promise<ReturnType<typeof presentEndpoint> & { secret: string }> {
    const parsed = createInput.safeParse(body);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`);
      throw new MllError('BAD_REQUEST', `The webhook is not valid: ${issues.join('; ')}`, { details: issues });
    }
    const input = parsed.data;
    const url = await checkTargetUrl(input.url, { allowPrivate: this.settings.allowPrivate });
    const secret = input.secret === undefined ? generateSecret() : assertValidSecret(input.secret);
    const now = new Date().toISOString();
    const endpoint: WebhookEndpoint = {
      id: newEndpointId(),
      url,
      events: [...new Set(input.events ?? webhookEventTypes)],
      models: input.models ? [...new Set(input.models)] : null,
      description: input.description ?? null,
      secret,
      enabled: true,
      disabledReason: null,
      createdAt: now,
      updatedAt: now,
    };
    await this.repo.saveEndpoint(endpoint);
    this.logger.info({ webhook: endpoint.id, host: new URL(url).host, events: endpoint.events }, 'webhook endpoint registered');
    return { ...presentEndpoint(endpoint, this.settings.baseUrl()), secret };
  }

  async list(): Promise<Array<ReturnType<typeof presentEndpoint>>> {
    return (await this.repo.listEndpoints()).map((e) => presentEndpoint(e, this.settings.baseUrl()));
  }

  async get(id: string): Promise<ReturnType<typeof presentEndpoint>> {
    return presentEndpoint(await this.mustGet(id), this.settings.baseUrl());
  }

  async delete(id: string): Promise<void> {
    await this.mustGet(id);
    await this.repo.deleteEndpoint(id);
    await this.repo.deleteDeliveries(id);
    this.logger.info({ webhook: id }, 'webhook endpoint deleted');
  }

  /** Stops deliveries to an endpoint (a 410 Gone from the receiver). */
  async disable(id: string, reason: string): Promise<void> {
    const endpoint = await this.repo.getEndpointDurable(id);
    if (!endpoint || !endpoint.enabled) return;
    endpoint.enabled = false;
    endpoint.disabledReason = reason;
    endpoint.updatedAt = new Date().toISOString();
    await this.repo.saveEndpoint(endpoint);
    this.logger.warn({ webhook: id, reason }, 'webhook endpoint disabled');
  }

  private async mustGet(id: string): Promise<WebhookEndpoint> {
    const endpoint = /^wh_[0-9a-f]{20}$/.test(id) ? await this.repo.getEndpoint(id) : null;
    if (!endpoint) throw new MllError('WEBHOOK_NOT_FOUND', `No webhook endpoint "${id}"`, { details: { id } });
    return endpoint;
  }

  // Deliveries

  async deliveries(endpointId: string, options: { limit: number; before?: number }) {
    await this.mustGet(endpointId);
    return this.repo.listDeliveries(endpointId, options);
  }

  /** Sends a delivery again (same event id and body, fresh timestamp and signature), with a full set of attempts. */
  async redeliver(endpointId: string, id: string): Promise<Delivery & { attempts: DeliveryAttempt[] }> {
    const endpoint = await this.mustGet(endpointId);
    const delivery = /^dlv_[0-9a-f]{24}$/.test(id) ? await this.repo.getDelivery(id) : null;
    if (!delivery || delivery.endpointId !== endpointId) {
      throw new MllError('WEBHOOK_NOT_FOUND', `Webhook endpoint "${endpointId}" has no delivery "${id}"`, { details: { endpointId, deliveryId: id } });
    }
    if (!endpoint.enabled) {
      throw new MllError('CONFLICT', `Webhook endpoint "${endpointId}" is disabled (${endpoint.disabledReason ?? 'no reason recorded'}); register it again to resume deliveries`);
    }
    if (delivery.status === 'pending') {
      throw new MllError('CONFLICT', `Delivery "${id}" is still in progress; redeliver it once it has succeeded or stopped`);
    }
    if (!(await this.repo.getEvent(delivery.eventId))) {
      throw new MllError('WEBHOOK_NOT_FOUND', `The event of delivery "${id}" is older than the retention period and cannot be sent again`);
    }
    delivery.status = 'pending';
    delivery.outcome = null;
    delivery.error = null;
    delivery.redeliveries += 1;
    await this.repo.saveDelivery(delivery);
    const data: DeliveryJobData = { deliveryId: delivery.id, trigger: 'redeliver' };
    await this.queue().add('redeliver', data, deliveryJobOptions(this.settings.attempts, `${delivery.id}-r${delivery.redeliveries}`));
    return { ...delivery, attempts: await this.repo.getAttempts(delivery.id) };
  }

  // Events

  /**
   * Sends an event to every enabled endpoint subscribed to its type (and, when it has a model
   * filter, to one of `options.models`). The body `{type, timestamp, data}` is serialized once here.
   * Resolves once the deliveries are queued; throws when Redis is unavailable.
   */
  async emit(type: WebhookEventType, data: unknown, options: EmitOptions = {}): Promise<{ eventId: string; deliveries: string[] }> {
    const id = eventId(this.settings.prefix, options.key === undefined ? undefined : `${type}\n${options.key}`);
    const endpoints = (await this.repo.listEndpoints()).filter((e) => e.enabled && e.events.includes(type) && modelMatches(e.models, options.models));
    if (endpoints.length === 0) return { eventId: id, deliveries: [] };
    const createdAt = new Date().toISOString();
    const event: StoredEvent = { id, type, createdAt, body: JSON.stringify({ type, timestamp: createdAt, data }) };
    const planned: Delivery[] = endpoints.map((e) => ({
      id: deliveryId(id, e.id), endpointId: e.id, eventId: id, eventType: type, createdAt, updatedAt: createdAt,
      status: 'pending', outcome: null, error: null, redeliveries: 0,
    }));
    const created = await this.repo.createDeliveries(event, planned);
    if (created.length > 0) {
      await this.queue().addBulk(created.map((d) => ({
        name: type,
        data: { deliveryId: d.id, trigger: 'event' } satisfies DeliveryJobData,
        opts: deliveryJobOptions(this.settings.attempts, d.id),
      })));
    }
    return { eventId: id, deliveries: created.map((d) => d.id) };
  }

  /** The body of a version event: the version record as the API shows it, plus its image digest. */
  versionEventData(record: VersionRecord) {
    return { ...presentVersion(record, this.settings.baseUrl()), imageDigest: record.image?.digest ?? null };
  }

  /**
   * Emits version.released / version.failed on the catalogue's terminal transitions. The listener
   * never throws into the stage and waits at most a short budget; a slow emit finishes on its own.
   */
  attach(catalog: Catalog): void {
    catalog.onTransition((record, previous) => {
      const type = versionEventFor[record.status];
      if (!type || previous === record.status) return;
      return this.withinBudget(
        this.emit(type, this.versionEventData(record), { models: [record.model], key: `${record.model}\n${record.version}` }),
        { model: record.model, version: record.version, type },
      );
    });
  }

  /**
   * batch.completed for a finished batch (the Batches onCompleted hook): its data is the batch
   * summary; endpoints with a model filter get it when one of the batch's models matches. Once per
   * batch id. Like the transition listener, it never throws and waits at most a short budget.
   */
  batchCompleted(summary: { id: string; items: Array<{ model: string }> }): Promise<void> {
    const models = [...new Set(summary.items.map((i) => i.model))];
    return this.withinBudget(this.emit('batch.completed', summary, { models, key: summary.id }), { batch: summary.id, type: 'batch.completed' });
  }

  private withinBudget(emitting: Promise<unknown>, context: Record<string, unknown>): Promise<void> {
    const settled = emitting.then(() => undefined, (err: unknown) => {
      this.logger.error({ err, ...context }, 'could not queue webhook deliveries');
    });
    let timer: NodeJS.Timeout | undefined;
    const budget = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, listenerBudgetMs);
      timer.unref();
    });
    return Promise.race([settled, budget]).finally(() => clearTimeout(timer));
  }
}
