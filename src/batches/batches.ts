import { randomUUID } from 'node:crypto';
import type { Catalog } from '../catalog/catalog.js';
import { redisKeys, type RedisKeys } from '../catalog/redis-keys.js';
import { noticeAround } from '../catalog/stream-append.js';
import { keys } from '../domain/keys.js';
import { terminalStatuses, type VersionRecord, type VersionStatus } from '../domain/version.js';
import { MllError, type ErrorBody } from '../errors.js';
import type { RedisClient } from '../redis/connect.js';
import { RedisScript } from '../redis/script.js';
import { getJsonIfPresent, putJson, type ObjectStore } from '../storage/object-store.js';

/** One model of a batch: a version, or the reason it was refused before it became one. */
export interface BatchItem {
  index: number;
  model: string;
  version: number | null;
  error: ErrorBody | null;
}

export interface BatchRecord {
  id: string;
  createdAt: string;
  /** False while a streamed batch is still being received. */
  sealed: boolean;
  items: BatchItem[];
}

export type ItemStatus = VersionStatus | 'rejected';

export interface BatchView {
  id: string;
  createdAt: string;
  sealed: boolean;
  done: boolean;
  total: number;
  counts: Partial<Record<ItemStatus, number>>;
  items: (BatchItem & { status: ItemStatus; versionUrl: string | null })[];
}

export interface BatchEvent {
  id: string;
  model: string;
  version: number | null;
  status: ItemStatus;
  error: ErrorBody | null;
  at: string;
}

export const batchTopic = (id: string) => `batch:${id}`;
const idPattern = /^[0-9a-f-]{36}$/;
const weekSeconds = 7 * 24 * 3600;
const streamLength = 100_000;

/**
 * An item's event in one call: appended to the batch's stream, counted in the terminal set when
 * the item is terminal, announced, and the completion counters read. Counted before announced, so
 * a follower woken by the notice reads a count that includes the item.
 * KEYS: events, terminal set, total. ARGV: maxlen, expire seconds, channel, notice before the id,
 * notice after the id, the terminal set's member ('' when the item is not terminal), then the
 * entry's field/value pairs. Returns the entry's id, the terminal count and the total ('' if unknown).
 */
const appendItemScript = new RedisScript(`
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, 7))
redis.call('EXPIRE', KEYS[1], ARGV[2])
if ARGV[6] ~= '' then
  redis.call('SADD', KEYS[2], ARGV[6])
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
redis.call('PUBLISH', ARGV[3], ARGV[4] .. id .. ARGV[5])
return {id, redis.call('SCARD', KEYS[2]), redis.call('GET', KEYS[3]) or ''}`, 3);

/**
 * A follower's read: the events after an id and whether the batch is done, in one call.
 * KEYS: events, terminal set, total. ARGV: start (exclusive id as '(id', or '-'), count.
 * Returns {1 or 0, entries}.
 */
const followScript = new RedisScript(`
local rows = redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[2])
local total = redis.call('GET', KEYS[3])
local done = 0
if total and redis.call('SCARD', KEYS[2]) >= tonumber(total) then done = 1 end
return {done, rows}`, 3);

/** Completion counters as last read: the items counted terminal and the batch's size (null: not known). */
interface Completion {
  terminal: number;
  total: number | null;
}

/**
 * Batches: many models in one request, each its own version. The batch keeps only which
 * versions it made (and which items were refused); statuses are read live from the catalogue,
 * so a batch view is never stale. Item transitions are appended to a per-batch event stream.
 */
export class Batches {
  private readonly k: RedisKeys;

  constructor(
    private readonly store: ObjectStore,
    private readonly redis: RedisClient,
    private readonly catalog: Catalog,
    prefix: string,
    private readonly baseUrl: () => string,
    private readonly onCompleted: (view: BatchView) => Promise<void> | void = () => {},
  ) {
    this.k = redisKeys(prefix);
  }

  private streamKey(id: string): string {
    return this.k.batchEvents(id);
  }

  newId(): string {
    return randomUUID();
  }

  async save(record: BatchRecord): Promise<void> {
    await putJson(this.store, keys.batch(record.id), record);
    await this.redis.set(this.k.batch(record.id), JSON.stringify(record), 'EX', weekSeconds);
    if (record.sealed) {
      const rejected = record.items.filter((i) => i.version === null).map((i) => `rejected:${i.index}`);
      // An item refused by an earlier attempt of the request and made by this one (a resumed batch) is no longer refused.
      const made = record.items.filter((i) => i.version !== null).map((i) => `rejected:${i.index}`);
      const tx = this.redis.multi().set(this.totalKey(record.id), String(record.items.length), 'EX', weekSeconds);
      if (made.length > 0) tx.srem(this.terminalKey(record.id), ...made);
      if (rejected.length > 0) tx.sadd(this.terminalKey(record.id), ...rejected).expire(this.terminalKey(record.id), weekSeconds);
      await tx.exec();
      await this.checkCompleted(record.id);
    }
  }

  private totalKey(id: string): string {
    return this.k.batchTotal(id);
  }

  /** SET of the batch's items that are terminal: cheap completion checks, idempotent under repeats. */
  private terminalKey(id: string): string {
    return this.k.batchTerminal(id);
  }

  async record(id: string): Promise<BatchRecord> {
    if (!idPattern.test(id)) throw new MllError('NOT_FOUND', `No batch "${id}"`);
    const cached = await this.redis.get(this.k.batch(id));
    if (cached) return JSON.parse(cached) as BatchRecord;
    const record = await getJsonIfPresent<BatchRecord>(this.store, keys.batch(id));
    if (!record) throw new MllError('NOT_FOUND', `No batch "${id}"`, { details: { id } });
    return record;
  }

  async view(id: string): Promise<BatchView> {
    const record = await this.record(id);
    const made = record.items.filter((i) => i.version !== null).map((i) => ({ model: i.model, version: i.version! }));
    const records = new Map((await this.catalog.getMany(made)).map((r) => [`${r.model}:${r.version}`, r]));
    const items = record.items.map((item) => {
      if (item.version === null) return { ...item, status: 'rejected' as ItemStatus, versionUrl: null };
      const v = records.get(`${item.model}:${item.version}`)!;
      return {
        ...item,
        status: v.status as ItemStatus,
        error: v.error,
        versionUrl: `${this.baseUrl()}/api/v1/models/${item.model}/versions/${item.version}`,
      };
    });
    const counts: Partial<Record<ItemStatus, number>> = {};
    for (const i of items) counts[i.status] = (counts[i.status] ?? 0) + 1;
    const done = record.sealed && items.every((i) => i.status === 'rejected' || terminalStatuses.has(i.status as VersionStatus));
    return { id: record.id, createdAt: record.createdAt, sealed: record.sealed, done, total: items.length, counts, items };
  }

  /** Records an item refused at intake as an event, so followers see it like any transition. */
  async itemRejected(batchId: string, model: string, error: ErrorBody): Promise<void> {
    await this.append(batchId, { model, version: null, status: 'rejected', error });
  }

  /** Catalogue listener: every transition of a batch's version becomes a batch event. */
  async versionTransition(record: VersionRecord): Promise<void> {
    if (!record.batchId) return;
    const terminal = terminalStatuses.has(record.status);
    const completion = await this.append(
      record.batchId,
      { model: record.model, version: record.version, status: record.status, error: record.error },
      terminal ? `${record.model}:${record.version}` : '',
    );
    if (terminal) await this.checkCompleted(record.batchId, completion);
  }

  /** `terminal`: the item's member of the terminal set, or '' when it is not terminal. */
  private async append(batchId: string, event: Omit<BatchEvent, 'id' | 'at'>, terminal = ''): Promise<Completion> {
    const body = { ...event, at: new Date().toISOString() };
    const [before, after] = noticeAround({ topic: batchTopic(batchId) });
    const [, count, total] = (await appendItemScript.run(
      this.redis, [this.streamKey(batchId), this.terminalKey(batchId), this.totalKey(batchId)],
      [String(streamLength), String(weekSeconds), this.k.eventChannel(), before, after, terminal, 'e', JSON.stringify(body)],
    )) as [string, number, string];
    return { terminal: Number(count), total: total === '' ? null : Number(total) };
  }

  async readEvents(batchId: string, afterId?: string, count = 1000): Promise<BatchEvent[]> {
    const start = afterId && afterId !== '0' ? `(${afterId}` : '-';
    return toEvents(await this.redis.xrange(this.streamKey(batchId), start, '+', 'COUNT', count));
  }

  /**
   * Events after `afterId` and whether every item of the sealed batch is terminal, as of the same
   * moment (a follower's read: when done, the events up to the end are these and those after them).
   */
  async follow(batchId: string, afterId?: string, count = 1000): Promise<{ events: BatchEvent[]; done: boolean }> {
    const start = afterId && afterId !== '0' ? `(${afterId}` : '-';
    const [done, rows] = (await followScript.run(
      this.redis, [this.streamKey(batchId), this.terminalKey(batchId), this.totalKey(batchId)], [start, String(count)],
    )) as [number, [string, string[]][]];
    return { events: toEvents(rows), done: done === 1 };
  }

  private async completion(batchId: string): Promise<Completion> {
    const [total, terminal] = await Promise.all([this.redis.get(this.totalKey(batchId)), this.redis.scard(this.terminalKey(batchId))]);
    return { terminal, total: total === null ? null : Number(total) };
  }

  /**
   * Fires onCompleted once per batch (per Redis lifetime; the event it makes is keyed by the batch
   * id, so a repeat sends nothing twice), when it is sealed and every item is terminal. Without its
   * counters (Redis lost them) it asks the records themselves. `known`: the counters as the
   * caller just read them.
   */
  private async checkCompleted(batchId: string, known?: Completion): Promise<void> {
    const { total, terminal } = known ?? await this.completion(batchId);
    if (total !== null && terminal < total) return;
    if (total === null) {
      // No counter: the batch is still streaming in (nothing to do yet), or Redis lost it.
      const record = await this.record(batchId).catch(() => null);
      if (!record?.sealed) return;
    }
    let view: BatchView;
    try {
      view = await this.view(batchId);
    } catch (err) {
      if ((err as MllError).code === 'NOT_FOUND') return;
      throw err;
    }
    if (total === null) {
      // Counted again from the records, so the next transitions are cheap checks again.
      const done = view.items.filter((i) => i.status === 'rejected' || terminalStatuses.has(i.status as VersionStatus))
        .map((i) => (i.version === null ? `rejected:${i.index}` : `${i.model}:${i.version}`));
      const tx = this.redis.multi().set(this.totalKey(batchId), String(view.total), 'EX', weekSeconds);
      if (done.length > 0) tx.sadd(this.terminalKey(batchId), ...done).expire(this.terminalKey(batchId), weekSeconds);
      await tx.exec();
    }
    if (!view.done) return;
    const first = await this.redis.set(this.k.batchCompleted(batchId), '1', 'EX', weekSeconds, 'NX');
    if (first === 'OK') await this.onCompleted(view);
  }
}

function toEvents(rows: [string, string[]][]): BatchEvent[] {
  return rows.map(([id, fields]) => ({ id, ...(JSON.parse(fields[1] ?? '{}') as Omit<BatchEvent, 'id'>) }));
}
