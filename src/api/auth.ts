import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { RateLimiter } from '../auth/rate-limit.js';
import { grants, requiredScope, type Scope } from '../auth/scopes.js';
import type { Tokens } from '../auth/tokens.js';
import { MllError } from '../errors.js';
import type { ApiDeps } from './deps.js';

export interface Principal {
  /** Token id, or `anonymous` when auth is off. */
  id: string;
  name: string;
  scopes: Scope[];
}

export function principalOf(res: Response): Principal {
  return res.locals.principal as Principal;
}

type Credentials = { token: string } | { malformed: string } | undefined;

/**
 * The token from the Authorization header only (a token in a URL would end up in logs and
 * browser history): `Bearer <token>`, or HTTP Basic with the token as the password and any user
 * name — the only way python-requests clients (Hydrosphere's CLI and SDK) can send one, from a
 * server address like http://hs:<token>@host:8080.
 */
function credentials(req: Request): Credentials {
  const header = req.header('authorization');
  if (!header) return undefined;
  const bearer = /^Bearer\s+(\S+)$/i.exec(header);
  if (bearer) return { token: bearer[1]! };
  const basic = /^Basic\s+(\S*)$/i.exec(header);
  if (!basic) return { malformed: 'The Authorization header must be "Bearer <token>" or "Basic <base64 of user:token>"' };
  const encoded = basic[1]!;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded) || encoded.length % 4 !== 0) {
    return { malformed: 'The Basic credentials are not valid base64: send base64("<any user>:<token>")' };
  }
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return { malformed: 'The Basic credentials have no ":": send base64("<any user>:<token>") with the token as the password' };
  const password = decoded.slice(colon + 1);
  if (!password) return { malformed: 'The Basic credentials carry no password: put the API token in the password (http://user:<token>@host)' };
  return { token: password };
}

/** What needs a token (the web interface's files do not); Hydrosphere's monitoring paths answer 501, after auth. */
export const protectedPaths = /^\/(api|metrics|monitoring|profiler)(\/|$)/;

/**
 * Authenticates every request to the API and checks the scope its route needs (src/auth/scopes.ts).
 * With MLL_AUTH=none everything is allowed as an anonymous admin.
 */
export function authenticate(deps: Pick<ApiDeps, 'config'> & { tokens: Tokens }): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    if (deps.config.auth === 'none') {
      res.locals.principal = { id: `anonymous:${req.ip ?? ''}`, name: 'anonymous', scopes: ['admin'] } satisfies Principal;
      return next();
    }
    const path = req.path;
    const needed = protectedPaths.test(path) ? requiredScope(req.method, path) : null;
    if (needed === null) return next();
    const sent = credentials(req);
    if (!sent) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="ml-lambda"');
      return next(new MllError('UNAUTHORIZED', 'This route needs an API token: send "Authorization: Bearer <token>", or HTTP Basic with the token as the password (an admin creates tokens with `mll tokens create`)'));
    }
    if ('malformed' in sent) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="ml-lambda", error="invalid_request"');
      return next(new MllError('UNAUTHORIZED', sent.malformed));
    }
    const record = await deps.tokens.verify(sent.token).catch((err: unknown) => next(err));
    if (record === undefined) return;
    if (!record) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="ml-lambda", error="invalid_token"');
      return next(new MllError('UNAUTHORIZED', 'The API token is not valid: unknown, revoked or expired'));
    }
    if (!grants(record.scopes, needed)) {
      return next(new MllError('FORBIDDEN', `This route needs the "${needed}" scope; the token "${record.name}" has ${record.scopes.join(', ') || 'none'}`, {
        details: { needed, held: record.scopes },
      }));
    }
    res.locals.principal = { id: record.id, name: record.name, scopes: record.scopes } satisfies Principal;
    next();
  };
}

const uploadRoutes = [
  /^\/api\/v1\/models\/[^/]+\/versions\/?$/, /^\/api\/v1\/batches\/?$/, /^\/api\/v1\/uploads\/?$/,
  // Hydrosphere's upload routes (src/api/hydrosphere/).
  /^\/api\/v[12]\/model\/upload\/?$/,
];
const fullPath = (req: Request) => req.baseUrl + req.path;

/** Per-token rate limit on starting uploads: 429 with Retry-After beyond MLL_UPLOAD_RATE_PER_MINUTE. */
export function limitUploads(deps: Pick<ApiDeps, 'config' | 'redis'>): RequestHandler {
  const limiter = new RateLimiter(deps.redis, deps.config.prefix, deps.config.uploadRatePerMinute, 60_000);
  return async (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'POST' || !uploadRoutes.some((r) => r.test(fullPath(req)))) return next();
    try {
      const waitMs = await limiter.take(principalOf(res)?.id ?? 'anonymous');
      if (waitMs === 0) return next();
      req.resume();
      const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
      next(new MllError('RATE_LIMITED', `Too many uploads for this token (${deps.config.uploadRatePerMinute} per minute); retry in ${retryAfter} s`, {
        details: { retryAfter, limitPerMinute: deps.config.uploadRatePerMinute },
      }));
    } catch (err) {
      next(new MllError('QUEUE_UNAVAILABLE', 'Redis cannot be reached to check the upload rate', { cause: err }));
    }
  };
}
