import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { EventHub } from '../catalog/event-hub.js';
import { redisKeys, type RedisKeys } from '../catalog/redis-keys.js';
import { keys } from '../domain/keys.js';
import { MllError } from '../errors.js';
import type { RedisClient } from '../redis/connect.js';
import { getJson, getJsonIfPresent, putJson, type ObjectStore } from '../storage/object-store.js';
import { scopes as allScopes, type Scope } from './scopes.js';

/** What is stored about a token: never the token itself, only its SHA-256. */
export interface TokenRecord {
  id: string;
  name: string;
  scopes: Scope[];
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  hash: string;
}

export type TokenInfo = Omit<TokenRecord, 'hash'>;

const tokenPattern = /^mll_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{32,})$/;
const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

function newId(): string {
  const bytes = randomBytes(12);
  return [...bytes].map((b) => alphabet[b % alphabet.length]).join('');
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export function publicInfo(record: TokenRecord): TokenInfo {
  const { hash: _hash, ...info } = record;
  return info;
}

/** How long an API process trusts a token record it read, unless told of a change sooner. */
export const tokenCacheMs = 5_000;
/** Most token records one process keeps (the oldest read goes first). */
const tokenCacheEntries = 10_000;
const tokensTopic = 'tokens';

/**
 * API tokens: `mll_<id>_<secret>`. The id finds the record; the whole token is compared by hash
 * in constant time. Records live in the object store (durable), cached briefly in Redis and, given
 * the event channel, for `tokenCacheMs` in each process: a request then needs no Redis round trip
 * to be authenticated.
 * A revocation clears the revoking process's copy at once and tells the others through the event
 * channel (`events`); a notice lost with a Redis outage is covered by the expiry.
 */
export class Tokens {
  private readonly k: RedisKeys;
  private readonly local = new Map<string, { record: TokenRecord | null; until: number }>();
  private listening = false;
  /** Counts the notices of changes: a record read while one arrived is not kept (it may be the old one). */
  private notices = 0;

  constructor(
    private readonly store: ObjectStore,
    private readonly redis: RedisClient,
    prefix: string,
    private readonly events?: Pick<EventHub, 'on'>,
  ) {
    this.k = redisKeys(prefix);
  }

  /** Drops this process's copy of a record and tells the other processes to drop theirs. */
  private async changed(id: string): Promise<void> {
    this.notices += 1;
    this.local.delete(id);
    await this.redis.del(this.cacheKey(id));
    if (this.events) await this.redis.publish(this.k.eventChannel(), JSON.stringify({ topic: tokensTopic, id }));
  }

  /** The record as this process last read it (within `tokenCacheMs`), else as Redis or the store has it. */
  private async getCached(id: string): Promise<TokenRecord | null> {
    // Without the notices, another process's revocation could go unseen for tokenCacheMs.
    if (!this.events) return this.get(id);
    if (!this.listening) {
      this.listening = true;
      this.events.on(tokensTopic, (notice) => {
        this.notices += 1;
        this.local.delete(notice.id);
      });
    }
    const held = this.local.get(id);
    const now = Date.now();
    if (held && held.until > now) return held.record;
    const noticesBefore = this.notices;
    const record = await this.get(id);
    if (this.notices !== noticesBefore) return record;
    this.local.delete(id);
    if (this.local.size >= tokenCacheEntries) this.local.delete(this.local.keys().next().value!);
    this.local.set(id, { record, until: now + tokenCacheMs });
    return record;
  }

  private cacheKey(id: string): string {
    return this.k.token(id);
  }

  async create(input: { name: string; scopes: Scope[]; expiresAt?: string | null; token?: string }): Promise<{ token: string; info: TokenInfo }> {
    const provided = input.token ? tokenPattern.exec(input.token) : null;
    if (input.token && !provided) throw new MllError('BAD_REQUEST', 'A token must look like mll_<12 letters or digits>_<32+ characters>');
    const id = provided ? provided[1]! : newId();
    const token = input.token ?? `mll_${id}_${randomBytes(32).toString('base64url')}`;
    const scopes = allScopes.filter((s) => input.scopes.includes(s));
    const record: TokenRecord = {
      id, name: input.name, scopes, createdAt: new Date().toISOString(), expiresAt: input.expiresAt ?? null, revokedAt: null, hash: sha256(token),
    };
    await putJson(this.store, keys.token(id), record);
    await this.changed(id);
    return { token, info: publicInfo(record) };
  }

  async get(id: string): Promise<TokenRecord | null> {
    const cached = await this.redis.get(this.cacheKey(id));
    if (cached) return JSON.parse(cached) as TokenRecord;
    const record = await getJsonIfPresent<TokenRecord>(this.store, keys.token(id));
    if (!record) return null;
    await this.redis.set(this.cacheKey(id), JSON.stringify(record), 'EX', 60);
    return record;
  }

  /** The record of a valid (known, unrevoked, unexpired) token, or null. */
  async verify(token: string): Promise<TokenRecord | null> {
    const m = tokenPattern.exec(token);
    if (!m) return null;
    const record = await this.getCached(m[1]!);
    if (!record || record.revokedAt) return null;
    if (record.expiresAt && Date.parse(record.expiresAt) < Date.now()) return null;
    const a = Buffer.from(record.hash, 'hex');
    const b = Buffer.from(sha256(token), 'hex');
    return a.length === b.length && timingSafeEqual(a, b) ? record : null;
  }

  async list(): Promise<TokenInfo[]> {
    const out: TokenInfo[] = [];
    for await (const info of this.store.list(keys.tokensPrefix())) {
      const record = await getJson<TokenRecord>(this.store, info.key).catch(() => null);
      if (record) out.push(publicInfo(record));
    }
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async revoke(id: string): Promise<TokenInfo> {
    const record = await this.get(id);
    if (!record) throw new MllError('NOT_FOUND', `No token with id ${id}`);
    if (!record.revokedAt) {
      record.revokedAt = new Date().toISOString();
      await putJson(this.store, keys.token(id), record);
      await this.changed(id);
    }
    return publicInfo(record);
  }

  async hasAny(): Promise<boolean> {
    for await (const _ of this.store.list(keys.tokensPrefix())) return true;
    return false;
  }

  /** Whether a token with exactly this value exists already (for MLL_BOOTSTRAP_TOKEN). */
  async exists(token: string): Promise<boolean> {
    return (await this.verify(token)) !== null;
  }
}
