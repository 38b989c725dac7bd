import type { Batches, BatchView } from '../batches/batches.js';
import type { Catalog, OutboxHook } from '../catalog/catalog.js';
import { keys } from '../domain/keys.js';
import { terminalStatuses, type OutboxEntry, type VersionRecord } from '../domain/version.js';
import { failpoint, type Failpoints } from '../failpoints.js';
import type { Logger } from '../log.js';
import { getJson, getJsonIfPresent, isNotFound, putJson, type ObjectStore } from '../storage/object-store.js';
import type { Webhooks } from './service.js';
import type { OutboxIntent, WebhookEventType } from './types.js';

/** How long a transition's relay may hold up the stage that made it; the rest finishes on its own. */
const listenerBudgetMs = 2000;
/**
 * An intent whose record does not (yet) hold its event is left alone this long: its compare-and-swap
 * may still be in flight. After that, the transition did not happen (another writer won) and the
 * intent is dropped.
 */
const intentStaleMs = 60_000;
/** Batches older than this are not checked for a missed batch.completed at recovery. */
const batchLookbackMs = 7 * 24 * 3600 * 1000;

const versionEventFor: Partial<Record<VersionRecord['status'], OutboxEntry['type']>> = { released: 'version.released', failed: 'version.failed' };

export interface OutboxDeps {
  store: ObjectStore;
  catalog: Catalog;
  batches(): Batches;
  webhooks: Webhooks;
  logger: Logger;
  /** Testing only: `outbox-relay` pauses between a transition's commit and its relay. */
  failpoints?: Failpoints;
}

export interface RecoveredEvents {
  /** Events relayed from intents left over. */
  relayed: number;
  /** Pending deliveries queued again (their jobs were lost with Redis). */
  requeued: number;
  /** Finished batches whose batch.completed had never been made. */
  batchesCompleted: number;
}

/**
 * The transactional outbox of terminal events (version.released, version.failed, batch.completed).
 *
 * A version's event is written into its record in the same compare-and-swap as the status that
 * makes it, and an intent (`outbox/<event id>.json`) is written just before, so the event can be
 * found without scanning every record. The relay turns an intent into the stored event and its
 * deliveries (all keyed by the event id, so relaying twice creates nothing twice), queues them, and
 * deletes the intent. It runs right after the transition, from a periodic sweep, and at recovery,
 * which also re-queues every delivery still pending. A crash at any point leaves either the intent
 * or a pending delivery behind, and the next sweep or recovery carries on from there.
 */
export class Outbox {
  constructor(private readonly deps: OutboxDeps) {}

  /** The catalogue hook (events into records, intents before them) and the relay after each transition. */
  attach(catalog: Catalog): void {
    const hook: OutboxHook = {
      entriesFor: (previous, next) => this.entriesFor(previous, next),
      beforeCommit: (record, entries) => this.writeIntents(record, entries),
    };
    catalog.useOutbox(hook);
    catalog.onTransition((record, previous) => {
      const fresh = (record.outbox ?? []).filter((e) => previous !== record.status && versionEventFor[record.status] === e.type);
      if (fresh.length === 0) return;
      const relaying = failpoint(this.deps.failpoints, 'outbox-relay').then(() => Promise.all(fresh.map((e) => this.relayEvent(e.id))));
      return this.withinBudget(relaying, { model: record.model, version: record.version });
    });
  }

  /** The event a transition makes, if some endpoint wants it (none is recorded otherwise). */
  private async entriesFor(previous: VersionRecord, next: VersionRecord): Promise<OutboxEntry[]> {
    const type = versionEventFor[next.status];
    if (!type || terminalStatuses.has(previous.status)) return [];
    const id = this.deps.webhooks.eventId(type, `${next.model}\n${next.version}`);
    if (previous.outbox?.some((e) => e.id === id)) return [];
    if ((await this.deps.webhooks.matchingEndpoints(type, [next.model])).length === 0) return [];
    return [{ id, type, at: new Date().toISOString() }];
  }

  private async writeIntents(record: VersionRecord, entries: OutboxEntry[]): Promise<void> {
    for (const e of entries) {
      const intent: OutboxIntent = { eventId: e.id, type: e.type, subject: { kind: 'version', model: record.model, version: record.version }, at: e.at };
      await putJson(this.deps.store, keys.outboxIntent(e.id), intent);
    }
  }

  /** batch.completed for a finished batch (the Batches onCompleted hook): made durable, then relayed. Never throws. */
  batchCompleted(view: Pick<BatchView, 'id'>): Promise<void> {
    const type: WebhookEventType = 'batch.completed';
    const eventId = this.deps.webhooks.eventId(type, view.id);
    const intent: OutboxIntent = { eventId, type, subject: { kind: 'batch', id: view.id }, at: new Date().toISOString() };
    const work = putJson(this.deps.store, keys.outboxIntent(eventId), intent).then(() => this.relayEvent(eventId));
    return this.withinBudget(work, { batch: view.id, type });
  }

  /** Relays the intent of one event, if it is still there. */
  async relayEvent(eventId: string): Promise<'relayed' | 'waiting' | 'dropped' | 'gone'> {
    const intent = await getJsonIfPresent<OutboxIntent>(this.deps.store, keys.outboxIntent(eventId));
    return intent ? this.relay(intent) : 'gone';
  }

  private async relay(intent: OutboxIntent): Promise<'relayed' | 'waiting' | 'dropped'> {
    const { webhooks, store } = this.deps;
    const key = keys.outboxIntent(intent.eventId);
    const notMade = async (): Promise<'waiting' | 'dropped'> => {
      if (Date.now() - Date.parse(intent.at) < intentStaleMs) return 'waiting';
      await store.delete(key);
      return 'dropped';
    };
    let emitted: string;
    if (intent.subject.kind === 'version') {
      const { model, version } = intent.subject;
      let record: VersionRecord;
      try {
        record = await this.deps.catalog.getDurable(model, version);
      } catch (err) {
        if (!isNotFound(err)) throw err;
        await store.delete(key);
        return 'dropped';
      }
      const entry = record.outbox?.find((e) => e.id === intent.eventId);
      if (!entry) return notMade();
      emitted = (await webhooks.emit(entry.type, webhooks.versionEventData(record), { models: [model], key: `${model}\n${version}` })).eventId;
    } else {
      const view = await this.deps.batches().view(intent.subject.id).catch((err: unknown) => {
        if ((err as { code?: string }).code === 'NOT_FOUND') return null;
        throw err;
      });
      if (!view) {
        await store.delete(key);
        return 'dropped';
      }
      if (!view.done) return notMade();
      const models = [...new Set(view.items.map((i) => i.model))];
      emitted = (await webhooks.emit('batch.completed', view, { models, key: view.id })).eventId;
    }
    if (emitted !== intent.eventId) this.deps.logger.error({ intent, emitted }, 'an outbox intent and its event have different ids');
    await store.delete(key);
    return 'relayed';
  }

  /** Relays every intent at least `minAgeMs` old (younger ones are being relayed by their transition). */
  async sweep(minAgeMs: number): Promise<number> {
    let relayed = 0;
    for await (const info of this.deps.store.list(keys.outboxPrefix())) {
      if (Date.now() - info.lastModified.getTime() < minAgeMs) continue;
      const intent = await getJson<OutboxIntent>(this.deps.store, info.key).catch(() => null);
      if (intent && (await this.relay(intent)) === 'relayed') relayed += 1;
    }
    return relayed;
  }

  /**
   * After Redis was lost (or on `mll reindex`): relays every intent, queues every pending delivery
   * again (the jobs and their retry schedule were in Redis), and makes the batch.completed of recent
   * batches that finished while Redis could not count them.
   */
  async recover(): Promise<RecoveredEvents> {
    const { webhooks, store } = this.deps;
    const relayed = await this.sweep(0);
    const pending = [];
    const repo = webhooks.repository;
    for await (const marker of repo.pending()) {
      const delivery = await repo.getDelivery(marker.endpointId, marker.deliveryId);
      if (!delivery || delivery.status !== 'pending') await repo.clearPending(marker.deliveryId);
      else pending.push(delivery);
    }
    await webhooks.enqueue(pending, { replaceFinishedJobs: true });
    let batchesCompleted = 0;
    if (await this.anyBatchEndpoint()) {
      for await (const info of store.list(keys.batchesPrefix())) {
        if (Date.now() - info.lastModified.getTime() > batchLookbackMs) continue;
        const id = info.key.slice(keys.batchesPrefix().length).replace(/\.json$/, '');
        if (await webhooks.repository.getEvent(webhooks.eventId('batch.completed', id))) continue;
        const view = await this.deps.batches().view(id).catch(() => null);
        if (!view?.done) continue;
        await this.batchCompleted(view);
        batchesCompleted += 1;
      }
    }
    return { relayed, requeued: pending.length, batchesCompleted };
  }

  private async anyBatchEndpoint(): Promise<boolean> {
    const endpoints = await this.deps.webhooks.repository.listEndpoints().catch(() => this.deps.webhooks.repository.listEndpointsDurable());
    return endpoints.some((e) => e.enabled && e.events.includes('batch.completed'));
  }

  private withinBudget(work: Promise<unknown>, context: Record<string, unknown>): Promise<void> {
    const settled = work.then(() => undefined, (err: unknown) => {
      this.deps.logger.warn({ err, ...context }, 'could not relay a webhook event now; the outbox sweep will');
    });
    let timer: NodeJS.Timeout | undefined;
    const budget = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, listenerBudgetMs);
      timer.unref();
    });
    return Promise.race([settled, budget]).finally(() => clearTimeout(timer));
  }
}
