import { isCluster, type RedisClient } from '../redis/connect.js';
import { isRedisUnavailable, redisUnavailable } from '../redis/errors.js';
import { raiseCounterScript, RedisScript, runTogether } from '../redis/script.js';
import { keys, parseVersionRecordKey } from '../domain/keys.js';
import {
  terminalStatuses, type OutboxEntry, type VersionEvent, type VersionEventType, type VersionRecord, type VersionStatus,
} from '../domain/version.js';
import { parseVersionRecord, versionRecordSchemaVersion } from '../domain/version-record.js';
import { isMllError, isTransient, MllError } from '../errors.js';
import {
  getBuffer, getBufferWithEtag, isNotFound, isPreconditionFailed, putJsonIf, type ObjectStore,
} from '../storage/object-store.js';
import { compareAndSwapBackoff } from '../shared/retry.js';
import { redisKeys, type RedisKeys } from './redis-keys.js';
import { StreamAppender, type StreamHead } from './stream-append.js';

export interface ModelSummary {
  name: string;
  createdAt: string;
  updatedAt: string;
  versions: number;
  latest: { version: number; status: VersionStatus; updatedAt: string } | null;
}

/**
 * How a record's terminal events are made durable with it (src/webhooks/outbox.ts): the entries a
 * change adds to the record, and what must be written before the record that holds them.
 */
export interface OutboxHook {
  /** Called on every compare-and-swap attempt of an update, with the record read and the changed one. */
  entriesFor(previous: VersionRecord, next: VersionRecord): Promise<OutboxEntry[]>;
  beforeCommit(record: VersionRecord, entries: OutboxEntry[]): Promise<void>;
}

export type TransitionListener = (record: VersionRecord, previous: VersionStatus | null) => Promise<void> | void;

export interface EventInput {
  type: VersionEventType;
  status?: VersionEvent['status'];
  stage?: VersionEvent['stage'];
  message?: string;
  error?: VersionEvent['error'];
}

export interface DurableRecord {
  record: VersionRecord;
  /** The etag of the version.json the record was read from. */
  etag: string;
}

export interface UpdateOptions {
  /** A failure that cannot reach a store that is down is still shown (from Redis). */
  cacheWhenStoreIsDown?: boolean;
  /** The record as read just before (readDurable): the first compare-and-swap writes over it without reading again. */
  from?: DurableRecord;
  /** The status readers were last shown (by `show`), when it is not the durable one: listeners hear of a change from it. */
  shown?: VersionStatus;
  /** Writes the store only: what Redis shows (a later stage's start) stays as it is. */
  storeOnly?: boolean;
}

const eventStreamLength = 5000;
/** Records one MGET reads at most where keys of any slot may go together (one server or Sentinel). */
const mgetChunk = 500;
/** Numbers tried by one createNext: a taken one raises the counter past every stored version, so the next try is free. */
const createAttempts = 5;
/**
 * How long a log line waits for the lines after it, to go to the version's stream in one call: a
 * stage's lines come 10-40 ms apart on a busy machine (10 ms merged 20 events per tiny version
 * into 14 calls, 50 ms into 9), and a live reader does not notice 50 ms. The next event of the
 * version takes whatever waits with it, ahead of itself.
 */
const logCoalesceMs = 50;
/** Compare-and-swap attempts of one update before it gives up (TIMEOUT, transient: the job retries). */
const updateAttempts = 12;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The version's own keys, in its model's slot. An older record (by updatedAt) never overwrites a
 * newer one, so a reindex racing a stage is safe. Two flows of the same version (a duplicated job)
 * race only on what is shown: a stage's start that is only shown (ARGV[6] = 1) never replaces a
 * terminal status, and a written terminal status replaces a shown start even when that start was
 * stamped a moment later than the end (the end's time is taken before its store write). With
 * ARGV[7] = 1 (reconcile) a record is not written over one of the same status that is as new.
 * KEYS: record, versions, model summary. ARGV: json, version, createdAt, status, updatedAt, shown, reconcile.
 */
const terminalLua = `{${[...terminalStatuses].map((s) => `['${s}'] = true`).join(', ')}}`;
const cacheScript = new RedisScript(`
local existing = redis.call('GET', KEYS[1])
if existing then
  local ok, old = pcall(cjson.decode, existing)
  if ok then
    local terminal = ${terminalLua}
    if ARGV[6] == '1' and terminal[old.status] then return 0 end
    if ARGV[7] == '1' and old.status == ARGV[4] and old.updatedAt and old.updatedAt >= ARGV[5] then return 0 end
    local ends = ARGV[6] ~= '1' and terminal[ARGV[4]] and not terminal[old.status]
    if not ends and old.updatedAt and old.updatedAt > ARGV[5] then return 0 end
  end
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[2])
redis.call('HSETNX', KEYS[3], 'createdAt', ARGV[3])
local latest = tonumber(redis.call('HGET', KEYS[3], 'latestVersion') or '0')
if tonumber(ARGV[2]) >= latest then
  redis.call('HSET', KEYS[3], 'latestVersion', ARGV[2], 'latestStatus', ARGV[4], 'updatedAt', ARGV[5])
end
return 1`, 3);

/**
 * The deployment-wide indexes, in their own slot: the model list, the count of versions per
 * status and the versions that are queued (since when). `status-of` remembers what was counted
 * for each version, so a repeated or late (older updatedAt) call changes nothing and a reindex
 * repairs whatever a crash left undone.
 * KEYS: models, status-of, status counts, queued-since. ARGV: model, model/version, status, updatedAt, shown, updatedAt in ms.
 */
const indexScript = new RedisScript(`
redis.call('ZADD', KEYS[1], 0, ARGV[1])
local counted = redis.call('HGET', KEYS[2], ARGV[2])
local changed = true
if counted then
  local at, status = string.match(counted, '^(%S+) (%S+)$')
  local terminal = ${terminalLua}
  if ARGV[5] == '1' and terminal[status] then return 0 end
  local ends = ARGV[5] ~= '1' and terminal[ARGV[3]] and not terminal[status]
  if not ends and at and at > ARGV[4] then return 0 end
  if status == ARGV[3] then changed = false
  elseif status then redis.call('HINCRBY', KEYS[3], status, -1) end
end
if changed then redis.call('HINCRBY', KEYS[3], ARGV[3], 1) end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[4] .. ' ' .. ARGV[3])
if ARGV[3] == 'queued' then redis.call('ZADD', KEYS[4], ARGV[6], ARGV[2]) else redis.call('ZREM', KEYS[4], ARGV[2]) end
return 1`, 4);

/** Waits for every promise to settle, then throws the first rejection (none goes unhandled). */
async function settled(parts: (Promise<unknown> | undefined)[]): Promise<void> {
  const failed = (await Promise.allSettled(parts)).find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Redis faults as QUEUE_UNAVAILABLE (503, transient); anything else unchanged. */
export function redisDown(err: unknown): unknown {
  if (err instanceof MllError) return err;
  if (isTransient(err) || isRedisUnavailable(err)) return redisUnavailable(err);
  return err;
}

/** Calls into `createNext` around the store write of a new record. */
export interface CreateHooks {
  /** The record has its number and is about to be written (again with the next number if that one is found taken). */
  numbered?: (record: VersionRecord) => Promise<void>;
  /** The record is in the store; Redis does not know it yet. */
  written?: (record: VersionRecord) => Promise<void>;
}

/**
 * The catalogue of models and versions. `version.json` in the object store is the truth; Redis
 * holds the version counters, a cache of every record, the listing indexes and event streams,
 * all of which `reindex` rebuilds from the store.
 */
export class Catalog {
  private readonly k: RedisKeys;
  private readonly listeners: TransitionListener[] = [];
  private outbox: OutboxHook | undefined;
  private readonly events: StreamAppender;

  constructor(
    private readonly store: ObjectStore,
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    this.k = redisKeys(prefix);
    this.events = new StreamAppender(redis, { coalesceMs: logCoalesceMs, maxEntries: 100 });
  }

  get redisKeys(): RedisKeys {
    return this.k;
  }

  /** Called after every status change is durable (webhooks, batches, metrics). */
  onTransition(listener: TransitionListener): void {
    this.listeners.push(listener);
  }

  /** Makes the terminal events of records part of the same write as their status (one hook per catalogue). */
  useOutbox(hook: OutboxHook): void {
    this.outbox = hook;
  }

  /**
   * Creates the model's next version: the number comes from an atomic INCR, and the record is
   * written create-only, so a number is never given twice. If Redis lost its counter, the write
   * finds that number's version.json already there: the counter is raised past every stored
   * version and the next number tried (no store lookup is spent on the usual case).
   */
  async createNext(model: string, make: (version: number) => VersionRecord, hooks: CreateHooks = {}): Promise<VersionRecord> {
    for (let attempt = 1; ; attempt++) {
      const n = await this.redis.incr(this.k.sequence(model)).catch((e: unknown) => Promise.reject(redisDown(e)));
      try {
        const record = make(n);
        await hooks.numbered?.(record);
        return await this.create(record, hooks);
      } catch (err) {
        if (!isMllError(err) || err.code !== 'CONFLICT' || attempt >= createAttempts) throw err;
        await this.rebuildSequence(model);
      }
    }
  }

  private async rebuildSequence(model: string): Promise<void> {
    let max = 0;
    for await (const info of this.store.list(keys.versionsPrefix(model))) {
      const parsed = parseVersionRecordKey(info.key);
      if (parsed && parsed.version > max) max = parsed.version;
    }
    // Only ever raise the counter.
    await raiseCounterScript.run(this.redis, [this.k.sequence(model)], [String(max)]);
  }

  /** Writes a new version's record; never over an existing one (a number is never given twice). */
  async create(record: VersionRecord, hooks: Pick<CreateHooks, 'written'> = {}): Promise<VersionRecord> {
    record.schemaVersion = versionRecordSchemaVersion;
    await putJsonIf(this.store, keys.versionRecord(record.model, record.version), record, { ifNoneMatch: '*' }).catch((err: unknown) => {
      if (!isPreconditionFailed(err)) throw err;
      throw new MllError('CONFLICT', `Version ${record.version} of "${record.model}" exists already`, { details: { model: record.model, version: record.version }, cause: err });
    });
    await hooks.written?.(record);
    await this.cache(record);
    await this.announce(record, null, { type: 'created', status: record.status });
    return record;
  }

  async get(model: string, version: number): Promise<VersionRecord> {
    const cached = await this.redis.get(this.k.version(model, version)).catch((e: unknown) => Promise.reject(redisDown(e)));
    if (cached) return JSON.parse(cached) as VersionRecord;
    try {
      const key = keys.versionRecord(model, version);
      const record = parseVersionRecord(await getBuffer(this.store, key), key);
      await this.cache(record);
      return record;
    } catch (err) {
      if (!isNotFound(err)) throw err;
      const known = await this.redis.zscore(this.k.models(), model);
      if (known === null && !(await this.modelHasRecords(model))) {
        throw new MllError('MODEL_NOT_FOUND', `No model named "${model}"`, { details: { model } });
      }
      throw new MllError('VERSION_NOT_FOUND', `Model "${model}" has no version ${version}`, { details: { model, version } });
    }
  }

  /** Reads the record from the store itself, bypassing the cache (stages use it before deciding to skip work). */
  async getDurable(model: string, version: number): Promise<VersionRecord> {
    return (await this.readDurable(model, version)).record;
  }

  /**
   * The durable record with the etag of the version read: give both to `update` (as `from`) to
   * write it back without reading it again.
   */
  async readDurable(model: string, version: number): Promise<DurableRecord> {
    const key = keys.versionRecord(model, version);
    const { body, etag } = await getBufferWithEtag(this.store, key);
    return { record: parseVersionRecord(body, key), etag };
  }

  /**
   * Applies `change` to the durable record and publishes it. The write is a compare-and-swap: if
   * another writer (a second worker, the failure handler, a duplicated job) changed the record
   * since it was read, the record is read again and `change` applied again, so `change` must
   * decide from the record it is given, not from what it saw before. The store is written first;
   * Redis and listeners follow, so a crash in between is repaired by `reindex`. `change` returns
   * null to leave the record as it is.
   */
  async update(
    model: string,
    version: number,
    change: (record: VersionRecord) => VersionRecord | void | null,
    event?: EventInput,
    options: UpdateOptions = {},
  ): Promise<VersionRecord> {
    const storeDown = (err: unknown) => options.cacheWhenStoreIsDown === true && isMllError(err) && err.code === 'STORE_UNAVAILABLE';
    const key = keys.versionRecord(model, version);
    let current: VersionRecord;
    let next: VersionRecord;
    for (let attempt = 1; ; attempt++) {
      const known = attempt === 1 ? options.from : undefined;
      const read: { record: VersionRecord; etag: string | null } = known ?? await this.readDurable(model, version).catch(async (err: unknown) => {
        if (storeDown(err)) return { record: await this.get(model, version), etag: null };
        throw err;
      });
      current = read.record;
      const draft = structuredClone(current);
      const changed = change(draft);
      if (changed === null) return current;
      next = changed ?? draft;
      next.updatedAt = new Date().toISOString();
      next.schemaVersion = versionRecordSchemaVersion;
      const events = this.outbox ? await this.outbox.entriesFor(current, next) : [];
      if (events.length > 0) next.outbox = [...(next.outbox ?? []).filter((e) => !events.some((n) => n.id === e.id)), ...events];
      if (read.etag === null) break;
      try {
        if (events.length > 0) await this.outbox!.beforeCommit(next, events);
        await putJsonIf(this.store, key, next, { ifMatch: read.etag });
        break;
      } catch (err) {
        // A failure that cannot be written to a store that is down is still shown (from Redis);
        // the durable record keeps the last state, so a later reindex re-runs the version.
        if (storeDown(err)) break;
        if (!isPreconditionFailed(err)) throw err;
        if (attempt >= updateAttempts) {
          throw new MllError('TIMEOUT', `The record of ${model} version ${version} kept changing during ${attempt} attempts to update it; retry`, { cause: err });
        }
        await sleep(compareAndSwapBackoff.delay(attempt));
      }
    }
    if (options.storeOnly) return next;
    await this.cache(next);
    await this.announce(next, options.shown ?? current.status, event, { together: !terminalStatuses.has(next.status) });
    return next;
  }

  /**
   * Shows a state of a version that is not written to the store: the start of a stage, which the
   * worker records durably with the stage's output when it ends (a crash before then leaves the
   * durable record as it was, and the job is taken over). The cache, the event and the listeners
   * see it as they see a durable change; the record's own updatedAt orders it against those.
   * Null when the version became terminal meanwhile (another flow of the same version finished
   * it): nothing is shown, and the caller's stage has nothing left to do. A terminal status that
   * only Redis holds (a failure recorded while the store was down, which a reindex runs again) is
   * replaced.
   */
  async show(record: VersionRecord, previous: VersionStatus, event?: EventInput): Promise<VersionRecord | null> {
    const shown = { ...record, updatedAt: new Date().toISOString() };
    if (!(await this.cache(shown, { shown: true }))) {
      const held = await this.get(record.model, record.version).catch(() => null);
      if (held && terminalStatuses.has(held.status)) {
        const durable = await this.readDurable(record.model, record.version);
        if (terminalStatuses.has(durable.record.status)) return null;
        await this.cache(shown);
      }
    }
    await this.announce(shown, previous, event, { together: true });
    return shown;
  }

  /**
   * Shows a durable record that Redis lags behind: the process that wrote it to the store stopped
   * (killed, or cut off by a shutdown) before its cache write, event and listeners. A stage that
   * finds its version terminal in the store calls this; when Redis already shows that status (as
   * new), nothing happens. Otherwise the record is cached, `event` appended and the listeners told
   * (the webhook relay of the record's outbox, batches, Hydrosphere updates), as the writer would
   * have. True when Redis was behind. `graceMs`: how long a writer that is alive may take from its
   * store write to its cache write; a reconcile that finds Redis behind waits that long and looks
   * again, so that a duplicated job racing a live writer does not announce the end a second time.
   */
  async reconcile(record: VersionRecord, event: EventInput, options: { graceMs?: number } = {}): Promise<boolean> {
    const shownStatus = async () => {
      const held = await this.redis.get(this.k.version(record.model, record.version)).catch((e: unknown) => Promise.reject(redisDown(e)));
      return held ? (JSON.parse(held) as VersionRecord).status : null;
    };
    let previous = await shownStatus();
    if (previous !== record.status && options.graceMs) {
      await sleep(options.graceMs);
      previous = await shownStatus();
    }
    if (!(await this.cache(record, { reconcile: true }))) return false;
    await this.announce(record, previous, event);
    return true;
  }

  /**
   * After the cache write: the version's event and then, if the status changed, the listeners
   * (batch events, Hydrosphere updates, the webhook relay), so that whoever a listener tells (a
   * batch's follower, a webhook) finds the event in the version's stream. `together`: the
   * listeners need not wait for the event (a status on the way, not an end), so their commands
   * leave with it in one write to Redis. The caller goes on once every part has settled; the first
   * failure is its error.
   */
  private async announce(record: VersionRecord, previous: VersionStatus | null, event: EventInput | undefined, options: { together?: boolean } = {}): Promise<void> {
    const appended = event ? this.appendEvent(record.model, record.version, event) : undefined;
    if (!options.together) await settled([appended]);
    const listeners = previous === record.status ? [] : this.listeners.map(async (listener) => listener(record, previous));
    await settled([appended, ...listeners]);
  }

  /**
   * Writes the record to the Redis cache and keeps the listing indexes in step. Two scripts, as
   * the model's keys and the deployment-wide indexes live in different Cluster slots; each is
   * atomic and ignores a record older than what it holds, so they may run in either order.
   */
  async cache(record: VersionRecord, options: { shown?: boolean; reconcile?: boolean } = {}): Promise<boolean> {
    const { model, version } = record;
    const shown = options.shown ? '1' : '0';
    try {
      const [written] = await runTogether(this.redis, [
        {
          script: cacheScript,
          keys: [this.k.version(model, version), this.k.versions(model), this.k.model(model)],
          args: [JSON.stringify(record), String(version), record.createdAt, record.status, record.updatedAt, shown, options.reconcile ? '1' : '0'],
        },
        {
          script: indexScript,
          keys: [this.k.models(), this.k.statusOf(), this.k.statusCounts(), this.k.queuedSince()],
          args: [model, `${model}/${version}`, record.status, record.updatedAt, shown, String(Date.parse(record.updatedAt))],
        },
      ]);
      return written === 1;
    } catch (err) {
      throw redisDown(err);
    }
  }

  async listVersions(model: string, options: { limit: number; before?: number }): Promise<{ items: VersionRecord[]; total: number; nextBefore: number | null }> {
    const key = this.k.versions(model);
    const max = options.before === undefined ? '+inf' : `(${options.before}`;
    const [numbers, total] = await Promise.all([
      this.redis.zrevrangebyscore(key, max, '-inf', 'LIMIT', 0, options.limit + 1),
      this.redis.zcard(key),
    ]).catch((e: unknown) => Promise.reject(redisDown(e)));
    if (total === 0 && (await this.redis.zscore(this.k.models(), model)) === null) {
      throw new MllError('MODEL_NOT_FOUND', `No model named "${model}"`, { details: { model } });
    }
    const page = numbers.slice(0, options.limit).map(Number);
    const items = await this.getMany(page.map((version) => ({ model, version })));
    return { items, total, nextBefore: numbers.length > options.limit ? page[page.length - 1]! : null };
  }

  /** Every version of every model, by model name then number (two reads per model; for listings that must be complete). */
  async listVersionRefs(): Promise<{ model: string; version: number }[]> {
    const out: { model: string; version: number }[] = [];
    let cursor = '-';
    for (;;) {
      const names = await this.redis.zrangebylex(this.k.models(), cursor, '+', 'LIMIT', 0, 200).catch((e: unknown) => Promise.reject(redisDown(e)));
      const numbers = await Promise.all(names.map((model) => this.redis.zrange(this.k.versions(model), '0', '-1'))).catch((e: unknown) => Promise.reject(redisDown(e)));
      names.forEach((model, i) => {
        for (const n of numbers[i]!) out.push({ model, version: Number(n) });
      });
      if (names.length < 200) return out;
      cursor = `(${names[names.length - 1]}`;
    }
  }

  /**
   * Many records: an MGET per model on a Cluster, where each model has its own slot; on one server
   * or Sentinel, an MGET per 500 records whatever their models (cache misses fall back to the store
   * one by one).
   */
  async getMany(refs: { model: string; version: number }[]): Promise<VersionRecord[]> {
    if (refs.length === 0) return [];
    const groups: number[][] = [];
    if (isCluster(this.redis)) {
      const byModel = new Map<string, number[]>();
      refs.forEach((r, i) => {
        const group = byModel.get(r.model);
        if (group) group.push(i);
        else byModel.set(r.model, [i]);
      });
      groups.push(...byModel.values());
    } else {
      for (let i = 0; i < refs.length; i += mgetChunk) groups.push(refs.slice(i, i + mgetChunk).map((_, j) => i + j));
    }
    const cached: (string | null)[] = new Array(refs.length).fill(null);
    await Promise.all(groups.map(async (indexes) => {
      const values = await this.redis.mget(indexes.map((i) => this.k.version(refs[i]!.model, refs[i]!.version)));
      indexes.forEach((at, j) => (cached[at] = values[j] ?? null));
    })).catch((e: unknown) => Promise.reject(redisDown(e)));
    return Promise.all(refs.map((r, i) => (cached[i] ? (JSON.parse(cached[i]!) as VersionRecord) : this.get(r.model, r.version))));
  }

  /** Versions per status, across all models (kept by the cache script). */
  async countByStatus(): Promise<Partial<Record<VersionStatus, number>>> {
    const raw = await this.redis.hgetall(this.k.statusCounts()).catch((e: unknown) => Promise.reject(redisDown(e)));
    return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Number(v)])) as Partial<Record<VersionStatus, number>>;
  }

  async getModel(name: string): Promise<ModelSummary> {
    const [summary, count] = await Promise.all([
      this.redis.hgetall(this.k.model(name)),
      this.redis.zcard(this.k.versions(name)),
    ]).catch((e: unknown) => Promise.reject(redisDown(e)));
    if (!summary.createdAt) throw new MllError('MODEL_NOT_FOUND', `No model named "${name}"`, { details: { model: name } });
    return toSummary(name, summary, count);
  }

  async listModels(options: { limit: number; after?: string; query?: string }): Promise<{ items: ModelSummary[]; nextAfter: string | null }> {
    const min = options.after ? `(${options.after}` : '-';
    const items: ModelSummary[] = [];
    let cursor = min;
    // Filtering by substring scans the lexical index in pages; the index holds names only.
    for (;;) {
      const names = await this.redis.zrangebylex(this.k.models(), cursor, '+', 'LIMIT', 0, 200).catch((e: unknown) => Promise.reject(redisDown(e)));
      for (const name of names) {
        if (options.query && !name.includes(options.query.toLowerCase())) continue;
        items.push(await this.getModel(name));
        if (items.length > options.limit) break;
      }
      if (items.length > options.limit || names.length < 200) break;
      cursor = `(${names[names.length - 1]}`;
    }
    const page = items.slice(0, options.limit);
    return { items: page, nextAfter: items.length > options.limit ? page[page.length - 1]!.name : null };
  }

  private async modelHasRecords(model: string): Promise<boolean> {
    for await (const _ of this.store.list(keys.versionsPrefix(model))) return true;
    return false;
  }

  /**
   * Appends an event to the version's stream and announces it: its stream id. Events of a version
   * appended by one process reach the stream in the order they were appended. `soon` (a stage's
   * log line) lets it wait up to logCoalesceMs for the lines after it, to go in one call; it
   * always goes before the version's next event. Lines still waiting at a shutdown go with
   * `flushEvents`.
   */
  async appendEvent(model: string, version: number, input: EventInput, options: { soon?: boolean } = {}): Promise<string> {
    const body = JSON.stringify({ ...input, at: new Date().toISOString() });
    const head: StreamHead = {
      stream: this.k.events(model, version), maxLen: eventStreamLength, channel: this.k.eventChannel(), notice: { model, version },
    };
    try {
      return await (options.soon ? this.events.appendSoon(head, ['e', body]) : this.events.append(head, ['e', body]));
    } catch (err) {
      throw redisDown(err);
    }
  }

  /** Sends the events still waiting to be coalesced, and waits for those in flight (a shutdown). */
  flushEvents(): Promise<void> {
    return this.events.flush();
  }

  /** Events after `afterId` (exclusive; '0' or undefined for all), oldest first. */
  async readEvents(model: string, version: number, afterId?: string, count = 1000): Promise<VersionEvent[]> {
    const start = afterId && afterId !== '0' ? `(${afterId}` : '-';
    const rows = await this.redis.xrange(this.k.events(model, version), start, '+', 'COUNT', count).catch((e: unknown) => Promise.reject(redisDown(e)));
    return rows.map(([id, fields]) => {
      const body = JSON.parse(fields[1] ?? '{}') as Omit<VersionEvent, 'id' | 'model' | 'version'>;
      return { id, model, version, ...body };
    });
  }

  /**
   * Rebuilds Redis from the object store: counters (never lowered), record caches, indexes.
   * Returns the versions that are not terminal, for the caller to re-enqueue; their cache shows
   * the store's state even where Redis held a failure the store never heard of.
   */
  async reindex(): Promise<{ models: number; versions: number; unfinished: VersionRecord[]; unreadable: { key: string; message: string }[] }> {
    const maxByModel = new Map<string, number>();
    const unfinished: VersionRecord[] = [];
    const unreadable: { key: string; message: string }[] = [];
    let versions = 0;
    for await (const info of this.store.list(keys.modelsPrefix())) {
      const parsed = parseVersionRecordKey(info.key);
      if (!parsed) continue;
      let record: VersionRecord;
      try {
        record = parseVersionRecord(await getBuffer(this.store, info.key), info.key);
      } catch (err) {
        if (isNotFound(err)) continue;
        // One damaged record must not stop the rest of the index from being rebuilt.
        if (isMllError(err) && err.code === 'UNREADABLE_RECORD') {
          unreadable.push({ key: info.key, message: err.message });
          maxByModel.set(parsed.model, Math.max(maxByModel.get(parsed.model) ?? 0, parsed.version));
          continue;
        }
        throw err;
      }
      versions += 1;
      const cached = await this.cache(record);
      maxByModel.set(parsed.model, Math.max(maxByModel.get(parsed.model) ?? 0, parsed.version));
      if (!terminalStatuses.has(record.status)) {
        unfinished.push(record);
        // A failure only Redis held (written while the store was down) gives way to the run the
        // caller starts again, so nobody reads the version as finished while it is queued.
        if (!cached && terminalStatuses.has((await this.get(record.model, record.version)).status)) {
          await this.cache({ ...record, updatedAt: new Date().toISOString() });
        }
      }
    }
    for (const model of maxByModel.keys()) await this.rebuildSequence(model);
    return { models: maxByModel.size, versions, unfinished, unreadable };
  }
}

function toSummary(name: string, h: Record<string, string>, count: number): ModelSummary {
  const latestVersion = Number(h.latestVersion ?? '0');
  return {
    name,
    createdAt: h.createdAt!,
    updatedAt: h.updatedAt ?? h.createdAt!,
    versions: count,
    latest: latestVersion > 0
      ? { version: latestVersion, status: (h.latestStatus ?? 'queued') as VersionStatus, updatedAt: h.updatedAt ?? h.createdAt! }
      : null,
  };
}
