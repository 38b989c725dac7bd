import type { RedisClient } from '../redis/connect.js';
import { raiseCounterScript } from '../redis/script.js';
import { redisDown } from '../catalog/catalog.js';
import { redisKeys, type RedisKeys } from '../catalog/redis-keys.js';
import { keys } from '../domain/keys.js';
import { getJson, getJsonIfPresent, isPreconditionFailed, putJson, type ObjectStore } from '../storage/object-store.js';

/**
 * Hydrosphere's clients address builds, versions and models by integer id. Each id is recorded
 * in the object store (the record; Redis only caches and indexes it, and `rebuild` restores Redis
 * after a loss):
 *   hydrosphere-ids/ids/<id>.json                   {id, kind: 'version', model, version} | {id, kind: 'model', model}
 *   hydrosphere-ids/versions/<model>/<version>.json {id}
 *   hydrosphere-ids/models/<model>.json             {id, name}   (name: the model's Hydrosphere name)
 * Model and version ids come from one counter, so an id names one thing only. Every record is
 * created with a create-only write, so two processes (or a Redis that lost its counter) can never
 * hand out one id twice or give one version two ids.
 */
export interface VersionRef {
  model: string;
  version: number;
}

export interface HydrosphereModel {
  id: number;
  /** The name Hydrosphere's clients use (may have upper case and dots); ours is the key. */
  name: string;
}

/** `version` is null while the upload that took the id is still becoming a version (or never did). */
type IdRecord =
  | { id: number; kind: 'version'; model: string; version: number | null }
  | { id: number; kind: 'model'; model: string }
  /** An id claimed and given back (a lost race, an upload that failed): kept, so the counter never goes below it. */
  | { id: number; kind: 'void' };

const idKey = keys.hydrosphereId;
const versionKey = (ref: VersionRef) => keys.hydrosphereVersion(ref.model, ref.version);
const modelKey = keys.hydrosphereModel;
const member = (ref: VersionRef) => `${ref.model}/${ref.version}`;

function parseMember(value: string): VersionRef {
  const slash = value.lastIndexOf('/');
  return { model: value.slice(0, slash), version: Number(value.slice(slash + 1)) };
}

export class HydrosphereIds {
  private readonly k: RedisKeys;

  constructor(
    private readonly store: ObjectStore,
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    this.k = redisKeys(prefix);
  }

  /**
   * A new id for an upload about to become a version of `model`: the id is claimed in the store
   * before the version exists, so the version's record can name it; `bindVersion` completes it.
   */
  async allocateForUpload(model: string): Promise<number> {
    return this.allocate((id) => ({ id, kind: 'version', model, version: null }));
  }

  /** Gives back an id from allocateForUpload whose upload did not become a version (it is never handed out again). */
  async release(id: number): Promise<void> {
    await putJson(this.store, idKey(id), { id, kind: 'void' } satisfies IdRecord);
  }

  /** Records that `id` (from allocateForUpload, or named by the version's record) names this version. */
  async bindVersion(id: number, ref: VersionRef): Promise<number> {
    await putJson(this.store, idKey(id), { id, kind: 'version', model: ref.model, version: ref.version } satisfies IdRecord);
    const bound = await this.createOrRead(versionKey(ref), { id }, (r: { id: number }) => r.id);
    await this.indexVersion(bound, ref);
    return bound;
  }

  /** The version an id names, or null. */
  async resolve(id: number): Promise<VersionRef | null> {
    const cached = await this.redis.zrangebyscore(this.k.hydrosphereVersions(), id, id).catch((e: unknown) => Promise.reject(redisDown(e)));
    if (cached[0]) return parseMember(cached[0]);
    const record = await getJsonIfPresent<IdRecord>(this.store, idKey(id));
    if (!record || record.kind !== 'version' || record.version === null) return null;
    const ref = { model: record.model, version: record.version };
    await this.indexVersion(id, ref);
    return ref;
  }

  /** The id of a version, or null when it has none yet. */
  async idOf(ref: VersionRef): Promise<number | null> {
    const cached = await this.redis.hget(this.k.hydrosphereVersionIds(), member(ref)).catch((e: unknown) => Promise.reject(redisDown(e)));
    if (cached) return Number(cached);
    const record = await getJsonIfPresent<{ id: number }>(this.store, versionKey(ref));
    if (!record) return null;
    await this.indexVersion(record.id, ref);
    return record.id;
  }

  /**
   * The id of a version, giving it one if it has none (versions uploaded through our own API get
   * one the first time a Hydrosphere route shows them). `known` is an id the version's record
   * already names (its origin), bound here if the upload could not finish binding it.
   */
  async ensureVersion(ref: VersionRef, known?: number): Promise<number> {
    const existing = await this.idOf(ref);
    if (existing !== null) return existing;
    if (known !== undefined) return this.bindVersion(known, ref);
    const id = await this.allocate((n) => ({ id: n, kind: 'version', model: ref.model, version: ref.version }));
    const bound = await this.createOrRead(versionKey(ref), { id }, (r: { id: number }) => r.id);
    // Another request gave the version its id first: this one is given back.
    if (bound !== id) await this.release(id);
    await this.indexVersion(bound, ref);
    return bound;
  }

  /** The model's id and Hydrosphere name, created on first use (`name` is the name a client sent). */
  async ensureModel(model: string, name = model): Promise<HydrosphereModel> {
    const cached = await this.redis.hget(this.k.hydrosphereModelIds(), model).catch((e: unknown) => Promise.reject(redisDown(e)));
    if (cached) return JSON.parse(cached) as HydrosphereModel;
    let known = await getJsonIfPresent<HydrosphereModel>(this.store, modelKey(model));
    if (!known) {
      const id = await this.allocate((n) => ({ id: n, kind: 'model', model }));
      known = await this.createOrRead(modelKey(model), { id, name }, (r: HydrosphereModel) => r);
      if (known.id !== id) await this.release(id);
    }
    await this.redis.hset(this.k.hydrosphereModelIds(), model, JSON.stringify(known)).catch((e: unknown) => Promise.reject(redisDown(e)));
    return known;
  }

  /** Every version with an id, by id ascending. */
  async listVersions(): Promise<{ id: number; ref: VersionRef }[]> {
    const flat = await this.redis.zrange(this.k.hydrosphereVersions(), '0', '-1', 'WITHSCORES').catch((e: unknown) => Promise.reject(redisDown(e)));
    const out: { id: number; ref: VersionRef }[] = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ id: Number(flat[i + 1]), ref: parseMember(flat[i]!) });
    return out;
  }

  /** Restores the Redis side (index, id caches, counter) from the records in the store. */
  async rebuild(): Promise<{ versions: number; models: number }> {
    let versions = 0;
    let models = 0;
    let max = 0;
    for await (const info of this.store.list(keys.hydrosphereIdsPrefix())) {
      const record = await getJsonIfPresent<IdRecord>(this.store, info.key);
      if (!record) continue;
      max = Math.max(max, record.id);
      if (record.kind === 'void') continue;
      if (record.kind === 'version') {
        if (record.version === null) continue;
        const ref = { model: record.model, version: record.version };
        // Only the id the version is bound to (a record left by a lost race names it too).
        const bound = await getJsonIfPresent<{ id: number }>(this.store, versionKey(ref));
        if (bound?.id !== record.id) continue;
        await this.indexVersion(record.id, ref);
        versions += 1;
      } else {
        const model = await getJsonIfPresent<HydrosphereModel>(this.store, modelKey(record.model));
        if (model?.id !== record.id) continue;
        await this.redis.hset(this.k.hydrosphereModelIds(), record.model, JSON.stringify(model));
        models += 1;
      }
    }
    await this.raiseSequence(max);
    return { versions, models };
  }

  /**
   * A new id, never handed out before: INCR, then its record is created (create-only). A number
   * whose record exists already (Redis lost its counter) is skipped and the counter raised past
   * every recorded id.
   */
  private async allocate(claim: (id: number) => IdRecord): Promise<number> {
    for (;;) {
      const n = await this.redis.incr(this.k.hydrosphereSequence()).catch((e: unknown) => Promise.reject(redisDown(e)));
      try {
        await this.store.putIf(idKey(n), JSON.stringify(claim(n)), { ifNoneMatch: '*' }, { contentType: 'application/json' });
        return n;
      } catch (err) {
        if (!isPreconditionFailed(err)) throw err;
        await this.raiseSequence(await this.maxRecordedId());
      }
    }
  }

  /** Creates a small JSON object unless one exists; either way returns what the object now says. */
  private async createOrRead<T, R>(key: string, value: T, pick: (stored: T) => R): Promise<R> {
    try {
      await this.store.putIf(key, JSON.stringify(value), { ifNoneMatch: '*' }, { contentType: 'application/json' });
      return pick(value);
    } catch (err) {
      if (!isPreconditionFailed(err)) throw err;
      return pick(await getJson<T>(this.store, key));
    }
  }

  private async indexVersion(id: number, ref: VersionRef): Promise<void> {
    await this.redis.multi()
      .zadd(this.k.hydrosphereVersions(), String(id), member(ref))
      .hset(this.k.hydrosphereVersionIds(), member(ref), String(id))
      .exec()
      .catch((e: unknown) => Promise.reject(redisDown(e)));
  }

  private async maxRecordedId(): Promise<number> {
    let max = 0;
    for await (const info of this.store.list(keys.hydrosphereIdsPrefix())) {
      const n = Number(/(\d+)\.json$/.exec(info.key)?.[1] ?? 0);
      if (n > max) max = n;
    }
    return max;
  }

  /** Only ever raises the counter. */
  private async raiseSequence(to: number): Promise<void> {
    await raiseCounterScript.run(this.redis, [this.k.hydrosphereSequence()], [String(to)]).catch((e: unknown) => Promise.reject(redisDown(e)));
  }
}
