import { redisKeys } from '../catalog/redis-keys.js';
import { keys } from '../domain/keys.js';
import { MllError } from '../errors.js';
import type { RedisClient } from '../redis/connect.js';
import { RedisScript } from '../redis/script.js';
import { mapLimit } from '../shared/map-limit.js';
import { compareAndSwapBackoff } from '../shared/retry.js';
import {
  getBufferWithEtag, getJson, getJsonIfPresent, isNotFound, isPreconditionFailed, putJson, putJsonIf, type ObjectStore,
} from '../storage/object-store.js';
import type { Delivery, DeliveryRecord, StoredEvent, WebhookEndpoint } from './types.js';

/** Most deliveries listed per endpoint; older ones drop off the listing index (they stay in the store). */
const deliveriesPerEndpoint = 1000;
/**
 * The endpoint index's values, or nil while it has not been built in this Redis (its marker is
 * missing): one call where a check and a read were two. KEYS: endpoints, indexed marker.
 */
const indexedEndpoints = new RedisScript("if redis.call('EXISTS', KEYS[2]) == 0 then return false end return redis.call('HVALS', KEYS[1])", 2);
/** Compare-and-swap attempts of one delivery update before it gives up. */
const updateAttempts = 12;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The webhook keys of the deployment's key catalogue (src/catalog/redis-keys.ts). */
function webhookRedisKeys(prefix: string) {
  const k = redisKeys(prefix);
  return {
    endpoints: k.webhookEndpoints,
    indexed: k.webhookEndpointsIndexed,
    deliveries: k.webhookDeliveries,
    deliveriesIndexed: k.webhookDeliveriesIndexed,
  };
}

function redisDown(err: unknown): unknown {
  if (err instanceof MllError) return err;
  return new MllError('QUEUE_UNAVAILABLE', 'Redis cannot be reached; retry shortly', { cause: err });
}

/**
 * Where webhook endpoints, events and deliveries live: all of them durably in the object store
 * (keys in src/domain/keys.ts), with Redis indexes (endpoints, each endpoint's deliveries by time)
 * that are rebuilt from the store whenever Redis has lost them. A delivery's attempts are written
 * by compare-and-swap into the delivery itself, so a lost Redis loses no delivery and no attempt.
 */
export class WebhookRepository {
  private readonly k: ReturnType<typeof webhookRedisKeys>;

  constructor(private readonly store: ObjectStore, private readonly redis: RedisClient, prefix: string) {
    this.k = webhookRedisKeys(prefix);
  }

  // Endpoints

  async saveEndpoint(endpoint: WebhookEndpoint): Promise<void> {
    await putJson(this.store, keys.webhookEndpoint(endpoint.id), endpoint);
    await this.redis.hset(this.k.endpoints(), endpoint.id, JSON.stringify(endpoint)).catch((e: unknown) => Promise.reject(redisDown(e)));
  }

  async listEndpoints(): Promise<WebhookEndpoint[]> {
    const indexed = await indexedEndpoints.run(this.redis, [this.k.endpoints(), this.k.indexed()]).catch((e: unknown) => Promise.reject(redisDown(e)));
    let values: string[];
    if (indexed !== null) values = indexed as string[];
    else {
      await this.reindex();
      values = await this.redis.hvals(this.k.endpoints()).catch((e: unknown) => Promise.reject(redisDown(e)));
    }
    return values.map((v) => JSON.parse(v) as WebhookEndpoint).sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  /** Every endpoint, read from the store itself (when the Redis index cannot be reached). */
  async listEndpointsDurable(): Promise<WebhookEndpoint[]> {
    const found: WebhookEndpoint[] = [];
    for await (const info of this.store.list(keys.webhookEndpointsPrefix())) {
      const endpoint = await getJson<WebhookEndpoint>(this.store, info.key).catch(() => null);
      if (endpoint) found.push(endpoint);
    }
    return found.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  async getEndpoint(id: string): Promise<WebhookEndpoint | null> {
    await this.ensureIndex();
    const value = await this.redis.hget(this.k.endpoints(), id).catch((e: unknown) => Promise.reject(redisDown(e)));
    return value ? (JSON.parse(value) as WebhookEndpoint) : null;
  }

  /** The endpoint as the store has it (deliveries read the truth, not the index). */
  async getEndpointDurable(id: string): Promise<WebhookEndpoint | null> {
    return (await getJsonIfPresent<WebhookEndpoint>(this.store, keys.webhookEndpoint(id))) ?? null;
  }

  async deleteEndpoint(id: string): Promise<void> {
    await this.store.delete(keys.webhookEndpoint(id));
    await this.redis.hdel(this.k.endpoints(), id).catch((e: unknown) => Promise.reject(redisDown(e)));
  }

  /** Builds the Redis index from the store once per Redis lifetime (the marker goes when Redis is emptied). */
  private async ensureIndex(): Promise<void> {
    const done = await this.redis.exists(this.k.indexed()).catch((e: unknown) => Promise.reject(redisDown(e)));
    if (done === 1) return;
    await this.reindex();
  }

  async reindex(): Promise<number> {
    const entries: string[] = [];
    for await (const info of this.store.list(keys.webhookEndpointsPrefix())) {
      const endpoint = await getJsonIfPresent<WebhookEndpoint>(this.store, info.key);
      if (endpoint) entries.push(endpoint.id, JSON.stringify(endpoint));
    }
    const multi = this.redis.multi().del(this.k.endpoints());
    if (entries.length > 0) multi.hset(this.k.endpoints(), ...entries);
    await multi.set(this.k.indexed(), new Date().toISOString()).exec().catch((e: unknown) => Promise.reject(redisDown(e)));
    return entries.length / 2;
  }

  // Events and deliveries

  /** Stores an event unless it exists; either way returns the stored one (its body is what is signed and sent). */
  async createEvent(event: StoredEvent): Promise<StoredEvent> {
    try {
      await putJsonIf(this.store, keys.webhookEvent(event.id), event, { ifNoneMatch: '*' });
      return event;
    } catch (err) {
      if (!isPreconditionFailed(err)) throw err;
      return (await this.getEvent(event.id)) ?? event;
    }
  }

  async getEvent(id: string): Promise<StoredEvent | null> {
    return (await getJsonIfPresent<StoredEvent>(this.store, keys.webhookEvent(id))) ?? null;
  }

  /**
   * Stores a new delivery (marked pending first, so recovery finds it even if this process dies
   * right after). Returns false if it existed already: a repeated relay of the same event.
   */
  async createDelivery(delivery: DeliveryRecord): Promise<boolean> {
    await this.markPending(delivery);
    try {
      await putJsonIf(this.store, keys.webhookDelivery(delivery.endpointId, delivery.id), delivery, { ifNoneMatch: '*' });
    } catch (err) {
      if (!isPreconditionFailed(err)) throw err;
      return false;
    }
    await this.index(delivery).catch(() => undefined);
    return true;
  }

  async getDelivery(endpointId: string, id: string): Promise<DeliveryRecord | null> {
    return (await getJsonIfPresent<DeliveryRecord>(this.store, keys.webhookDelivery(endpointId, id))) ?? null;
  }

  /**
   * Changes a delivery by compare-and-swap (re-read and re-applied on a conflict, so an attempt
   * and a redelivery never overwrite each other). `change` returns null to leave it as it is.
   * Returns the delivery as stored, or null if there is none.
   */
  async updateDelivery(endpointId: string, id: string, change: (d: DeliveryRecord) => DeliveryRecord | void | null): Promise<DeliveryRecord | null> {
    const key = keys.webhookDelivery(endpointId, id);
    for (let attempt = 1; ; attempt++) {
      let read: { body: Buffer; etag: string };
      try {
        read = await getBufferWithEtag(this.store, key);
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
      const current = JSON.parse(read.body.toString()) as DeliveryRecord;
      const changed = change(current);
      if (changed === null) return current;
      const next = changed ?? current;
      next.updatedAt = new Date().toISOString();
      try {
        await putJsonIf(this.store, key, next, { ifMatch: read.etag });
        return next;
      } catch (err) {
        if (!isPreconditionFailed(err) || attempt >= updateAttempts) throw err;
        await sleep(compareAndSwapBackoff.delay(attempt));
      }
    }
  }

  /** Remembers that a delivery may still need an attempt (recovery re-enqueues every one of these). */
  async markPending(delivery: Pick<Delivery, 'id' | 'endpointId'>): Promise<void> {
    await putJson(this.store, keys.webhookPending(delivery.id), { deliveryId: delivery.id, endpointId: delivery.endpointId });
  }

  async clearPending(deliveryId: string): Promise<void> {
    await this.store.delete(keys.webhookPending(deliveryId));
  }

  /** Every delivery marked pending: those whose last attempt may not have been their last. */
  async *pending(): AsyncIterable<{ deliveryId: string; endpointId: string }> {
    for await (const info of this.store.list(keys.webhookPendingPrefix())) {
      const marker = await getJsonIfPresent<{ deliveryId: string; endpointId: string }>(this.store, info.key);
      if (marker) yield marker;
    }
  }

  private async index(delivery: Delivery): Promise<void> {
    await this.redis.zadd(this.k.deliveries(delivery.endpointId), String(Date.parse(delivery.createdAt)), delivery.id);
    await this.redis.zremrangebyrank(this.k.deliveries(delivery.endpointId), 0, -deliveriesPerEndpoint - 1);
  }

  /** Builds an endpoint's delivery index from the store once per Redis lifetime. */
  private async ensureDeliveryIndex(endpointId: string): Promise<void> {
    const done = await this.redis.exists(this.k.deliveriesIndexed(endpointId)).catch((e: unknown) => Promise.reject(redisDown(e)));
    if (done === 1) return;
    const entries: string[] = [];
    for await (const info of this.store.list(keys.webhookDeliveriesPrefix(endpointId))) {
      const d = await getJson<Delivery>(this.store, info.key).catch(() => null);
      if (d) entries.push(String(Date.parse(d.createdAt)), d.id);
    }
    try {
      if (entries.length > 0) await this.redis.zadd(this.k.deliveries(endpointId), ...entries);
      await this.redis.zremrangebyrank(this.k.deliveries(endpointId), 0, -deliveriesPerEndpoint - 1);
      await this.redis.set(this.k.deliveriesIndexed(endpointId), new Date().toISOString());
    } catch (err) {
      throw redisDown(err);
    }
  }

  /** An endpoint's deliveries, newest first, each with its attempts. `before` is a creation time in ms (exclusive). */
  async listDeliveries(endpointId: string, options: { limit: number; before?: number }): Promise<{ items: DeliveryRecord[]; nextBefore: number | null }> {
    await this.ensureDeliveryIndex(endpointId);
    const max = options.before === undefined ? '+inf' : `(${options.before}`;
    const rows = await this.redis.zrevrangebyscore(this.k.deliveries(endpointId), max, '-inf', 'WITHSCORES', 'LIMIT', 0, options.limit + 1)
      .catch((e: unknown) => Promise.reject(redisDown(e)));
    const ids: string[] = [];
    const scores: number[] = [];
    for (let i = 0; i < rows.length; i += 2) {
      ids.push(rows[i]!);
      scores.push(Number(rows[i + 1]));
    }
    const page = ids.slice(0, options.limit);
    const found = await mapLimit(page, 16, (id) => this.getDelivery(endpointId, id));
    const items = found.filter((d): d is DeliveryRecord => d !== null);
    return { items, nextBefore: ids.length > options.limit ? scores[options.limit - 1]! : null };
  }

  async deleteDeliveries(endpointId: string): Promise<void> {
    for await (const info of this.store.list(keys.webhookDeliveriesPrefix(endpointId))) {
      const id = info.key.slice(keys.webhookDeliveriesPrefix(endpointId).length).replace(/\.json$/, '');
      await this.store.delete(keys.webhookPending(id));
      await this.store.delete(info.key);
    }
    await this.redis.del(this.k.deliveries(endpointId), this.k.deliveriesIndexed(endpointId)).catch((e: unknown) => Promise.reject(redisDown(e)));
  }
}
