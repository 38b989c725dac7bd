import type { Queue } from 'bullmq';
import { presentVersion } from '../api/present.js';
import {
  webhookEndpointInput as createInput, type VersionEventData, type WebhookEndpointBody, type WebhookEndpointCreatedBody,
} from '../api/schemas/webhooks.js';
import type { VersionRecord } from '../domain/version.js';
import { MllError } from '../errors.js';
import type { Logger } from '../log.js';
import { deliveryId, eventId, newEndpointId } from './ids.js';
import { deliveryJobOptions, type DeliveryJobData } from './queue.js';
import type { WebhookRepository } from './repository.js';
import { assertValidSecret, generateSecret } from './signature.js';
import { checkTargetUrl } from './target-url.js';
import { webhookEventTypes, type DeliveryRecord, type WebhookEndpoint, type WebhookEventType } from './types.js';

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

/** An endpoint as the API shows it: never its secret. */
export function presentEndpoint(e: WebhookEndpoint, baseUrl: string): WebhookEndpointBody {
  const { secret: _secret, ...shown } = e;
  const url = `${baseUrl}/api/v1/webhooks/${e.id}`;
  return { ...shown, links: { self: url, deliveries: `${url}/deliveries` } };
}

export function modelMatches(filter: string[] | null, models: string[] | undefined): boolean {
  if (filter === null) return true;
  if (!models || models.length === 0) return false;
  return filter.some((f) => (f.endsWith('*') ? models.some((m) => m.startsWith(f.slice(0, -1))) : models.includes(f)));
}

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
  async create(body: unknown): Promise<WebhookEndpointCreatedBody> {
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

  async list(): Promise<WebhookEndpointBody[]> {
    return (await this.repo.listEndpoints()).map((e) => presentEndpoint(e, this.settings.baseUrl()));
  }

  async get(id: string): Promise<WebhookEndpointBody> {
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
  async redeliver(endpointId: string, id: string): Promise<DeliveryRecord> {
    const endpoint = await this.mustGet(endpointId);
    const delivery = /^dlv_[0-9a-f]{24}$/.test(id) ? await this.repo.getDelivery(endpointId, id) : null;
    if (!delivery) {
      throw new MllError('WEBHOOK_NOT_FOUND', `Webhook endpoint "${endpointId}" has no delivery "${id}"`, { details: { endpointId, deliveryId: id } });
    }
    if (!endpoint.enabled) {
      throw new MllError('CONFLICT', `Webhook endpoint "${endpointId}" is disabled (${endpoint.disabledReason ?? 'no reason recorded'}); register it again to resume deliveries`);
    }
    const inProgress = () => new MllError('CONFLICT', `Delivery "${id}" is still in progress; redeliver it once it has succeeded or stopped`);
    if (delivery.status === 'pending') throw inProgress();
    if (!(await this.repo.getEvent(delivery.eventId))) {
      throw new MllError('WEBHOOK_NOT_FOUND', `The event of delivery "${id}" is no longer stored and cannot be sent again`);
    }
    // Marked pending before it is: recovery finds it even if this process stops right after.
    await this.repo.markPending(delivery);
    let mine = false;
    const updated = await this.repo.updateDelivery(endpointId, id, (d) => {
      mine = false;
      if (d.status === 'pending') return null;
      mine = true;
      d.status = 'pending';
      d.outcome = null;
      d.error = null;
      d.redeliveries += 1;
    });
    if (!updated || !mine) throw inProgress();
    await this.enqueue([updated]);
    return updated;
  }

  // Events

  /** Enabled endpoints subscribed to `type` (and, with a model filter, to one of `models`). Reads the store if Redis is down. */
  async matchingEndpoints(type: WebhookEventType, models: string[] | undefined): Promise<WebhookEndpoint[]> {
    const all = await this.repo.listEndpoints().catch(() => this.repo.listEndpointsDurable());
    return all.filter((e) => e.enabled && e.events.includes(type) && modelMatches(e.models, models));
  }

  /** The id of the event of `type` about `key`: the same for every emit of it, so it is sent once. */
  eventId(type: WebhookEventType, key: string): string {
    return eventId(this.settings.prefix, `${type}\n${key}`);
  }

  /**
   * Sends an event to every enabled endpoint subscribed to its type (and, when it has a model
   * filter, to one of `options.models`). The body `{type, timestamp, data}` is serialized once and
   * stored with the event; every delivery is stored before it is queued. Emitting the same event
   * again (same key) creates nothing new and re-queues only deliveries still pending, so a replay
   * never sends a delivered event twice. Returns the deliveries created now.
   */
  async emit(type: WebhookEventType, data: unknown, options: EmitOptions = {}): Promise<{ eventId: string; deliveries: string[] }> {
    const id = options.key === undefined ? eventId(this.settings.prefix) : this.eventId(type, options.key);
    const endpoints = await this.matchingEndpoints(type, options.models);
    if (endpoints.length === 0) return { eventId: id, deliveries: [] };
    const createdAt = new Date().toISOString();
    await this.repo.createEvent({ id, type, createdAt, body: JSON.stringify({ type, timestamp: createdAt, data }) });
    const created: DeliveryRecord[] = [];
    const pending: DeliveryRecord[] = [];
    for (const e of endpoints) {
      const delivery: DeliveryRecord = {
        id: deliveryId(id, e.id), endpointId: e.id, eventId: id, eventType: type, createdAt, updatedAt: createdAt,
        status: 'pending', outcome: null, error: null, redeliveries: 0, attempts: [],
      };
      if (await this.repo.createDelivery(delivery)) created.push(delivery);
      else {
        const existing = await this.repo.getDelivery(e.id, delivery.id);
        if (existing?.status === 'pending') pending.push(existing);
      }
    }
    await this.enqueue([...created, ...pending]);
    return { eventId: id, deliveries: created.map((d) => d.id) };
  }

  /**
   * Queues an attempt of each pending delivery; a job already queued for one is left as it is.
   * `replaceFinishedJobs` (recovery): a finished job kept under the same id would make the add a
   * no-op, so it is removed first; the delivery itself says it is still pending.
   */
  async enqueue(deliveries: DeliveryRecord[], options: { replaceFinishedJobs?: boolean } = {}): Promise<void> {
    if (deliveries.length === 0) return;
    const jobId = (d: DeliveryRecord) => (d.redeliveries > 0 ? `${d.id}-r${d.redeliveries}` : d.id);
    if (options.replaceFinishedJobs) {
      for (const d of deliveries) {
        const job = await this.queue().getJob(jobId(d));
        if (job && ((await job.isCompleted()) || (await job.isFailed()))) await job.remove();
      }
    }
    await this.queue().addBulk(deliveries.map((d) => ({
      name: d.eventType,
      data: { endpointId: d.endpointId, deliveryId: d.id, trigger: d.redeliveries > 0 ? 'redeliver' : 'event' } satisfies DeliveryJobData,
      opts: deliveryJobOptions(this.settings.attempts, jobId(d)),
    })));
  }

  /** The body of a version event: the version record as the API shows it, plus its image digest. */
  versionEventData(record: VersionRecord): VersionEventData {
    return { ...presentVersion(record, this.settings.baseUrl()), imageDigest: record.image?.digest ?? null };
  }
}
