import { createHash } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { redisKeys } from '../catalog/redis-keys.js';
import { MllError } from '../errors.js';
import type { RedisClient } from '../redis/connect.js';

interface Stored {
  state: 'pending' | 'done';
  fingerprint: string;
  status?: number;
  body?: unknown;
  location?: string;
}

const keyPattern = /^[A-Za-z0-9_.:-]{1,255}$/;
const ttlSeconds = 24 * 3600;

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
 * A request that fails releases its key, so the client may retry with it.
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
    try {
      const claimed = await redis.set(redisKey, JSON.stringify({ state: 'pending', fingerprint: print } satisfies Stored), 'EX', ttlSeconds, 'NX');
      if (claimed !== 'OK') {
        const stored = JSON.parse((await redis.get(redisKey)) ?? '{}') as Stored;
        req.resume();
        if (stored.fingerprint !== print) {
          return next(new MllError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was already used for a different request'));
        }
        if (stored.state !== 'done') {
          return next(new MllError('CONFLICT', 'A request with this Idempotency-Key is still being processed; retry shortly'));
        }
        res.setHeader('Idempotent-Replayed', 'true');
        if (stored.location) res.setHeader('Location', stored.location);
        res.status(stored.status ?? 200).json(stored.body);
        return;
      }
    } catch (err) {
      return next(new MllError('QUEUE_UNAVAILABLE', 'Redis cannot be reached to check the Idempotency-Key', { cause: err }));
    }
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      const status = res.statusCode;
      const record: Stored = status < 400
        ? { state: 'done', fingerprint: print, status, body, location: res.getHeader('location') as string | undefined }
        : { state: 'pending', fingerprint: print };
      const save = status < 400 ? redis.set(redisKey, JSON.stringify(record), 'EX', ttlSeconds) : redis.del(redisKey);
      // Answer only once the outcome is stored, so an immediate retry replays it.
      void save.catch(() => undefined).finally(() => json(body));
      return res;
    };
    res.on('close', () => {
      if (!res.writableFinished) redis.del(redisKey).catch(() => undefined);
    });
    next();
  };
}
