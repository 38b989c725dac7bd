import { createHash, randomUUID } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { redisKeys } from '../catalog/redis-keys.js';
import { MllError } from '../errors.js';
import type { RedisClient } from '../redis/connect.js';
import { deleteIfHeldScript, RedisScript } from '../redis/script.js';

/**
 * What a request's effect is, once it knows it and before it makes it: a retry that finds the
 * request's process gone can then look whether the effect exists (IdempotencyOptions.adopt).
 */
export interface IdempotentEffect {
  kind: 'version';
  model: string;
  version: number;
  /** The payload the version is made of: tells this request's version from another's under a reused number. */
  payloadKey: string;
}

interface Stored {
  /**
   * pending: a request runs; recording: it has kept its answer and is making its effect (its lease
   * says whether it still runs); done: the answer to replay.
   */
  state: 'pending' | 'recording' | 'done';
  fingerprint: string;
  /** Which request holds a pending claim (so only it renews or releases it). */
  owner?: string;
  status?: number;
  body?: unknown;
  location?: string;
  effect?: IdempotentEffect;
}

export interface IdempotencyOptions {
  /**
   * Whether a recorded effect exists, making sure it goes on if it does (a version is enqueued):
   * called by a retry that finds an answer kept before its effect was made, by a request whose
   * process stopped. True: the kept answer is replayed. False: the effect was never made and the
   * retry runs as a new request.
   */
  adopt?: (effect: IdempotentEffect) => Promise<boolean>;
}

const keyPattern = /^[A-Za-z0-9_.:-]{1,255}$/;
const ttlSeconds = 24 * 3600;
/**
 * A claim lasts this long unless the request holding it renews it (every third of it, while it
 * runs). An API process that dies mid-request stops renewing, so the client's retry — to any
 * replica — can go ahead after at most this long instead of being refused for a day.
 */
const claimSeconds = 10;

/** Renews or releases a claim only while it is still the caller's own pending claim. */
const renewScript = new RedisScript("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) end return 0", 1);
/** Replaces the caller's own pending claim with its answer. */
const commitScript = new RedisScript("if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) return 1 end return 0", 1);

const commitLocal = 'idempotencyCommit';
const keyLocal = 'idempotencyKey';

/**
 * The request's Idempotency-Key as the middleware holds it (hashed with the caller's scope), for a
 * route that keeps per-part progress under it (a batch); undefined without a key.
 */
export function idempotencyKeyOf(res: Response): string | undefined {
  return res.locals[keyLocal] as string | undefined;
}
type Commit = (status: number, body: unknown, location?: string, effect?: IdempotentEffect) => Promise<void>;

/**
 * Keeps the answer of the request now, before it is sent: for a request whose effect exists from
 * this point (a version written) although more work follows. A retry then gets this answer even
 * if the process stops before it answers; if the request fails after all, the answer is dropped.
 * Does nothing for a request without an Idempotency-Key.
 */
export async function keepIdempotentAnswer(res: Response, status: number, body: unknown, location?: string): Promise<void> {
  const commit = res.locals[commitLocal] as Commit | undefined;
  if (commit) await commit(status, body, location);
}

/**
 * Keeps the answer of the request before its effect is made (the version record written), with
 * what that effect will be. Should the process stop before it answers, a retry waits while the
 * request's lease runs, then replays the answer if the effect exists and runs again if it does
 * not: never a second effect, never an answer without one. Call keepIdempotentAnswer once the
 * effect is made. Does nothing for a request without an Idempotency-Key.
 */
export async function keepIdempotentIntent(res: Response, status: number, body: unknown, location: string | undefined, effect: IdempotentEffect): Promise<void> {
  const commit = res.locals[commitLocal] as Commit | undefined;
  if (commit) await commit(status, body, location, effect);
}

/** Whether `current` is the answer `recorded` kept, made final by a retry that adopted its effect. */
function adoptedFrom(current: string, recorded: string): boolean {
  const now = JSON.parse(current) as Stored;
  const then = JSON.parse(recorded) as Stored;
  return now.state === 'done' && then.state === 'recording' && JSON.stringify(now.effect) === JSON.stringify(then.effect);
}

/** Carries an adopter's own error past the handler's Redis-error wrapping. */
class AdoptionError extends Error {
  constructor(cause: unknown) {
    super('adopting a recorded effect failed', { cause });
  }
}

/**
 * What makes two requests "the same": method, path, query, content type and length, and the
 * JSON body when there is one. Streamed payloads are not read twice: the declared length stands
 * in for them (a different payload under the same key almost always differs in length too).
 */
function fingerprint(req: Request, scope: string): string {
  const hash = createHash('sha256');
  hash.update(`${scope}\n${req.method}\n${req.baseUrl}${req.path}\n${JSON.stringify(req.query)}\n`);
  hash.update(`${(req.headers['content-type'] ?? '').split(';')[0]}\n${req.headers['content-length'] ?? ''}\n`);
  if (req.body !== undefined && typeof req.body === 'object' && !Buffer.isBuffer(req.body)) hash.update(JSON.stringify(req.body));
  return hash.digest('hex');
}

/**
 * `Idempotency-Key` on creating POSTs: the first request runs and its response is kept for 24 h;
 * a retry with the same key and the same request gets that response again and creates nothing;
 * the same key with a different request, or while the first is still running, is a 409.
 * A request that fails releases its key, so the client may retry with it; so does a request whose
 * process died, once its claim lapses (claimSeconds). A route whose effect exists before it can
 * answer keeps its answer at that point (keepIdempotentAnswer), so a retry after the process died
 * gets it instead of doing it again. Claims live in Redis, so they hold across API replicas.
 */
export function idempotency(
  redis: RedisClient, prefix: string, scopeOf: (req: Request, res: Response) => string = () => '', options: IdempotencyOptions = {},
): RequestHandler {
  const keys = redisKeys(prefix);
  /** A recorded effect whose request is gone: does it exist (and go on)? Errors are the adopter's own, not Redis's. */
  const adoptRecorded = async (stored: Stored): Promise<boolean> => {
    if (!stored.effect || !options.adopt) return false;
    try {
      return await options.adopt(stored.effect);
    } catch (err) {
      throw new AdoptionError(err);
    }
  };
  return async (req: Request, res: Response, next: NextFunction) => {
    const key = req.header('idempotency-key');
    if (key === undefined || req.method !== 'POST') return next();
    if (!keyPattern.test(key)) {
      return next(new MllError('BAD_REQUEST', 'Idempotency-Key must be 1-255 characters of A-Z, a-z, 0-9, _ . : -'));
    }
    const scope = scopeOf(req, res);
    const hashed = createHash('sha256').update(`${scope}\n${key}`).digest('hex');
    const redisKey = keys.idempotency(hashed);
    const print = fingerprint(req, scope);
    const claim = JSON.stringify({ state: 'pending', fingerprint: print, owner: randomUUID() } satisfies Stored);
    const leaseKey = keys.idempotencyLease(hashed);
    res.locals[keyLocal] = hashed;
    try {
      // A claim that lapses between our SET and GET is simply tried again; so is a key whose
      // recorded effect was never made (its request's process stopped first).
      for (let tries = 0; ; tries++) {
        if ((await redis.set(redisKey, claim, 'EX', claimSeconds, 'NX')) === 'OK') break;
        const current = await redis.get(redisKey);
        if (current === null && tries < 3) continue;
        const stored = JSON.parse(current ?? '{}') as Stored;
        if (stored.fingerprint !== print) {
          req.resume();
          return next(new MllError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was already used for a different request'));
        }
        if (stored.state === 'recording' && (await redis.exists(leaseKey)) === 0 && tries < 3) {
          if (!(await adoptRecorded(stored))) {
            await deleteIfHeldScript.run(redis, [redisKey], [current!]);
            continue;
          }
          await commitScript.run(redis, [redisKey], [current!, JSON.stringify({ ...stored, state: 'done' } satisfies Stored), String(ttlSeconds)]);
          stored.state = 'done';
        }
        req.resume();
        if (stored.state !== 'done') {
          return next(new MllError('CONFLICT', `A request with this Idempotency-Key is still being processed; retry shortly (within ${claimSeconds} s if the first one was cut off)`, {
            details: { retryAfter: 1 },
          }));
        }
        res.setHeader('Idempotent-Replayed', 'true');
        if (stored.location) res.setHeader('Location', stored.location);
        res.status(stored.status ?? 200).json(stored.body);
        return;
      }
    } catch (err) {
      if (err instanceof AdoptionError) return next(err.cause);
      return next(new MllError('QUEUE_UNAVAILABLE', 'Redis cannot be reached to check the Idempotency-Key', { cause: err }));
    }
    // What this request holds under the key: its pending claim, then the answer it kept early.
    let held = claim;
    let recording = false;
    const renewal = setInterval(() => {
      const renewed = recording
        ? redis.set(leaseKey, claim, 'EX', claimSeconds, 'XX')
        : renewScript.run(redis, [redisKey], [claim, String(claimSeconds)]);
      renewed.catch(() => undefined);
    }, (claimSeconds * 1000) / 3);
    renewal.unref();
    const release = () => deleteIfHeldScript.run(redis, [redisKey], [held]).catch(() => undefined);
    res.locals[commitLocal] = (async (status, body, location, effect) => {
      const answer = JSON.stringify({ state: effect ? 'recording' : 'done', fingerprint: print, status, body, location, effect } satisfies Stored);
      // The lease first: a retry that finds the answer recorded and no lease takes this request for gone.
      if (effect) await redis.set(leaseKey, claim, 'EX', claimSeconds);
      if ((await commitScript.run(redis, [redisKey], [held, answer, String(ttlSeconds)])) !== 1) {
        // A retry that found this request's lease lapsed and its effect made has answered with it
        // already (and kept that answer): the effect stands.
        const current = recording ? await redis.get(redisKey) : null;
        if (current !== null && adoptedFrom(current, held)) {
          held = current;
          recording = false;
          clearInterval(renewal);
          return;
        }
        // Another request holds the key now (this one went unrenewed for a whole claim): it must
        // not make its effect beside that one.
        throw new MllError('IDEMPOTENCY_CLAIM_LOST', 'This request lost its hold on the Idempotency-Key before it made anything (it could not renew it in time); retry with the same key', {
          details: { retryAfter: 1 },
        });
      }
      held = answer;
      recording = effect !== undefined;
      if (!recording) {
        clearInterval(renewal);
        await redis.del(leaseKey);
      }
    }) satisfies Commit;
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      clearInterval(renewal);
      if (recording) void redis.del(leaseKey).catch(() => undefined);
      const status = res.statusCode;
      const record: Stored = { state: 'done', fingerprint: print, status, body, location: res.getHeader('location') as string | undefined };
      // Only over what this request holds: a key another request took is left to it.
      const save = status < 400 ? commitScript.run(redis, [redisKey], [held, JSON.stringify(record), String(ttlSeconds)]) : release();
      // Answer only once the outcome is stored, so an immediate retry replays it.
      void save.catch(() => undefined).finally(() => json(body));
      return res;
    };
    res.on('close', () => {
      // The handler goes on without its client and still ends in res.json (a cut upload fails with
      // an error answer, which frees the key): until then the key stays held and renewed, so a
      // retry cannot run beside it. Should a handler never answer, its hold ends a minute later.
      if (!res.writableFinished) setTimeout(() => clearInterval(renewal), 60_000).unref();
    });
    next();
  };
}
