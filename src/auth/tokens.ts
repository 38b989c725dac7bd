import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
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

/**
 * API tokens: `mll_<id>_<secret>`. The id finds the record; the whole token is compared by hash
 * in constant time. Records live in the object store (durable), cached briefly in Redis.
 */
export class Tokens {
  private readonly k: RedisKeys;

  constructor(
    private readonly store: ObjectStore,
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    this.k = redisKeys(prefix);
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
    await this.redis.del(this.cacheKey(id));
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
    const record = await this.get(m[1]!);
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
      await this.redis.del(this.cacheKey(id));
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
