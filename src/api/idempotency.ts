import { createHash, randomUUID } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { redisKeys } from '../catalog/redis-keys.js';
import { MllError } from '../errors.js';
import type { RedisClient } from '../redis/connect.js';
import { deleteIfHeldScript, RedisScript } from '../redis/script.js';

interface Stored {
  state: 'pending' | 'done';
  fingerprint: string;
  /** Which request holds a pending claim (so only it renews or releases it). */
  owner?: string;
  status?: number;
  body?: unknown;
  location?: string;
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
type Commit = (status: number, body: unknown, location?: string) => Promise<void>;

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
export function idempotency(redis: RedisClient, prefix: string, scopeOf: (req: Request, res: Response) => string = () => ''): RequestHandler {
  const keys = redisKeys(prefix);
  return async (req: Request, res: Response, next: NextFunction) => {
    const key = req.header('idempotency-key');
    if (key === undefined || req.method !== 'POST') return next();
    if (!keyPattern.test(key)) {
      return next(new MllError('BAD_REQUEST', 'Idempotency-Key must be 1-255 characters of A-Z, a-z, 0-9, _ . : -'));
    }
    const scope = scopeOf(req, res);
    const redisKey = keys.idempotency(createHash('sha256').update(`${scope}\n${key}`).digest('hex'));
    const print = fingerprint(req, scope);
    const claim = JSON.stringify({ state: 'pending', fingerprint: print, owner: randomUUID() } satisfies Stored);
    try {
      // A claim that lapses between our SET and GET is simply tried again.
      for (let tries = 0; ; tries++) {
        if ((await redis.set(redisKey, claim, 'EX', claimSeconds, 'NX')) === 'OK') break;
        const current = await redis.get(redisKey);
        if (current === null && tries < 3) continue;
        const stored = JSON.parse(current ?? '{}') as Stored;
        req.resume();
        if (stored.fingerprint !== print) {
          return next(new MllError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was already used for a different request'));
        }
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
      return next(new MllError('QUEUE_UNAVAILABLE', 'Redis cannot be reached to check the Idempotency-Key', { cause: err }));
    }
    const renewal = setInterval(() => {
      renewScript.run(redis, [redisKey], [claim, String(claimSeconds)]).catch(() => undefined);
    }, (claimSeconds * 1000) / 3);
    renewal.unref();
    // What this request holds under the key: its pending claim, then the answer it kept early.
    let held = claim;
    const release = () => deleteIfHeldScript.run(redis, [redisKey], [held]).catch(() => undefined);
    res.locals[commitLocal] = (async (status, body, location) => {
      const answer = JSON.stringify({ state: 'done', fingerprint: print, status, body, location } satisfies Stored);
      if ((await commitScript.run(redis, [redisKey], [held, answer, String(ttlSeconds)])) === 1) {
        held = answer;
        clearInterval(renewal);
      }
    }) satisfies Commit;
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      clearInterval(renewal);
      const status = res.statusCode;
      const record: Stored = { state: 'done', fingerprint: print, status, body, location: res.getHeader('location') as string | undefined };
      const save = status < 400 ? redis.set(redisKey, JSON.stringify(record), 'EX', ttlSeconds) : release();
      // Answer only once the outcome is stored, so an immediate retry replays it.
      void save.catch(() => undefined).finally(() => json(body));
      return res;
    };
    res.on('close', () => {
      clearInterval(renewal);
      // Cut off before an answer was stored: free the key for the retry (a stored answer, or one kept early, stays).
      if (!res.writableFinished && held === claim) void release();
    });
    next();
  };
}
