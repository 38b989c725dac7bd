import { redisKeys } from '../catalog/redis-keys.js';
import { keys } from '../domain/keys.js';
import { MllError } from '../errors.js';
import type { RedisClient } from '../redis/connect.js';
import { getJson, isNotFound, putJson, type ObjectStore } from '../storage/object-store.js';
import type { Delivery, DeliveryAttempt, StoredEvent, WebhookEndpoint } from './types.js';

/** How long events, deliveries and their attempts stay readable (and redeliverable). */
export const deliveryRetentionSeconds = 30 * 24 * 3600;
/** Most deliveries listed per endpoint; older ones drop off the index. */
const deliveriesPerEndpoint = 1000;


/** The webhook keys of the deployment's key catalogue (src/catalog/redis-keys.ts). */
function webhookRedisKeys(prefix: string) {
  const k = redisKeys(prefix);
  return {
    endpoints: k.webhookEndpoints,
    indexed: k.webhookEndpointsIndexed,
    event: k.webhookEvent,
    delivery: k.webhookDelivery,
    attempts: k.webhookAttempts,
    deliveries: k.webhookDeliveries,
  };
}

function redisDown(err: unknown): unknown {
  if (err instanceof MllError) return err;
  return new MllError('QUEUE_UNAVAILABLE', 'Redis cannot be reached; retry shortly', { cause: err });
}

/**
 * Where webhook endpoints and deliveries live. Endpoints are durable in the object store
 * (`webhooks/endpoints/<id>.json`) with a Redis index that is rebuilt from the store whenever
 * Redis has lost it. Events, deliveries and attempts are operational history in Redis, kept for
 * `deliveryRetentionSeconds`.
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
    await this.ensureIndex();
    const values = await this.redis.hvals(this.k.endpoints()).catch((e: unknown) => Promise.reject(redisDown(e)));
    return values.map((v) => JSON.parse(v) as WebhookEndpoint).sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  async getEndpoint(id: string): Promise<WebhookEndpoint | null> {
    await this.ensureIndex();
    const value = await this.redis.hget(this.k.endpoints(), id).catch((e: unknown) => Promise.reject(redisDown(e)));
    return value ? (JSON.parse(value) as WebhookEndpoint) : null;
  }

  /** The endpoint as the store has it (deliveries read the truth, not the index). */
  async getEndpointDurable(id: string): Promise<WebhookEndpoint | null> {
    try {
      return await getJson<WebhookEndpoint>(this.store, keys.webhookEndpoint(id));
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
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
      try {
        const endpoint = await getJson<WebhookEndpoint>(this.store, info.key);
        entries.push(endpoint.id, JSON.stringify(endpoint));
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    const multi = this.redis.multi().del(this.k.endpoints());
    if (entries.length > 0) multi.hset(this.k.endpoints(), ...entries);
    await multi.set(this.k.indexed(), new Date().toISOString()).exec().catch((e: unknown) => Promise.reject(redisDown(e)));
    return entries.length / 2;
  }

  // Events and deliveries

  /**
   * Records an event and its deliveries. Both are created only if new (ids are deterministic for
   * a repeated emit), and only the deliveries created now are returned, to be enqueued.
   */
  async createDeliveries(event: StoredEvent, deliveries: Delivery[]): Promise<Delivery[]> {
    const ttl = deliveryRetentionSeconds;
    // Each key has a slot of its own, so these are separate commands, not one transaction: each
    // is created only if new, and the event is written before any delivery that refers to it.
    await this.redis.set(this.k.event(event.id), JSON.stringify(event), 'EX', ttl, 'NX').catch((e: unknown) => Promise.reject(redisDown(e)));
    const results = await Promise.all(deliveries.map((d) => this.redis.set(this.k.delivery(d.id), JSON.stringify(d), 'EX', ttl, 'NX')))
      .catch((e: unknown) => Promise.reject(redisDown(e)));
    const created = deliveries.filter((_, i) => results[i] === 'OK');
    await Promise.all(created.map((d) => this.redis.multi()
      .zadd(this.k.deliveries(d.endpointId), String(Date.parse(d.createdAt)), d.id)
      .zremrangebyrank(this.k.deliveries(d.endpointId), 0, -deliveriesPerEndpoint - 1)
      .exec())).catch((e: unknown) => Promise.reject(redisDown(e)));
    return created;
  }

  async getEvent(id: string): Promise<StoredEvent | null> {
    const value = await this.redis.get(this.k.event(id)).catch((e: unknown) => Promise.reject(redisDown(e)));
    return value ? (JSON.parse(value) as StoredEvent) : null;
  }

  async getDelivery(id: string): Promise<Delivery | null> {
    const value = await this.redis.get(this.k.delivery(id)).catch((e: unknown) => Promise.reject(redisDown(e)));
    return value ? (JSON.parse(value) as Delivery) : null;
  }

  async saveDelivery(delivery: Delivery): Promise<void> {
    delivery.updatedAt = new Date().toISOString();
    await this.redis.set(this.k.delivery(delivery.id), JSON.stringify(delivery), 'EX', deliveryRetentionSeconds)
      .catch((e: unknown) => Promise.reject(redisDown(e)));
  }

  async countAttempts(deliveryId: string): Promise<number> {
    return this.redis.llen(this.k.attempts(deliveryId)).catch((e: unknown) => Promise.reject(redisDown(e)));
  }

  /** Appends an attempt and saves the delivery's new state together. */
  async recordAttempt(delivery: Delivery, attempt: DeliveryAttempt): Promise<void> {
    delivery.updatedAt = new Date().toISOString();
    const ttl = deliveryRetentionSeconds;
    await this.redis.multi()
      .rpush(this.k.attempts(delivery.id), JSON.stringify(attempt))
      .expire(this.k.attempts(delivery.id), ttl)
      .set(this.k.delivery(delivery.id), JSON.stringify(delivery), 'EX', ttl)
      .exec()
      .catch((e: unknown) => Promise.reject(redisDown(e)));
  }

  async getAttempts(deliveryId: string): Promise<DeliveryAttempt[]> {
    const rows = await this.redis.lrange(this.k.attempts(deliveryId), 0, -1).catch((e: unknown) => Promise.reject(redisDown(e)));
    return rows.map((r) => JSON.parse(r) as DeliveryAttempt);
  }

  /** An endpoint's deliveries, newest first, each with its attempts. `before` is a creation time in ms (exclusive). */
  async listDeliveries(endpointId: string, options: { limit: number; before?: number }): Promise<{ items: Array<Delivery & { attempts: DeliveryAttempt[] }>; nextBefore: number | null }> {
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
    if (page.length === 0) return { items: [], nextBefore: null };
    // One transaction per delivery: a delivery's state and attempts share its slot, deliveries do not.
    const results = await Promise.all(page.map((id) => this.redis.multi().get(this.k.delivery(id)).lrange(this.k.attempts(id), 0, -1).exec()))
      .catch((e: unknown) => Promise.reject(redisDown(e)));
    const items: Array<Delivery & { attempts: DeliveryAttempt[] }> = [];
    results.forEach((result) => {
      const record = result?.[0]?.[1] as string | null;
      const attempts = (result?.[1]?.[1] as string[] | undefined) ?? [];
      if (record) items.push({ ...(JSON.parse(record) as Delivery), attempts: attempts.map((a) => JSON.parse(a) as DeliveryAttempt) });
    });
    return { items, nextBefore: ids.length > options.limit ? scores[options.limit - 1]! : null };
  }

  async deleteDeliveries(endpointId: string): Promise<void> {
    const ids = await this.redis.zrange(this.k.deliveries(endpointId), '0', '-1').catch((e: unknown) => Promise.reject(redisDown(e)));
    await Promise.all(ids.map((id) => this.redis.del(this.k.delivery(id), this.k.attempts(id))))
      .catch((e: unknown) => Promise.reject(redisDown(e)));
    await this.redis.del(this.k.deliveries(endpointId)).catch((e: unknown) => Promise.reject(redisDown(e)));
  }
}
