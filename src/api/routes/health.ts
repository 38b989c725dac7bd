import { Router, type RequestHandler } from 'express';
import { errorMessage } from '../../errors.js';
import type { ApiDeps } from '../deps.js';
import type { HealthBody, ReadinessBody } from '../schemas/health.js';

async function probe(name: string, check: () => Promise<unknown>, timeoutMs: number): Promise<[string, { ok: boolean; error?: string; ms: number }]> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs))),
    ]);
    return [name, { ok: true, ms: Date.now() - started }];
  } catch (err) {
    return [name, { ok: false, error: errorMessage(err), ms: Date.now() - started }];
  } finally {
    clearTimeout(timer);
  }
}

/** Ready when Redis, the store, the builder and the target answer, and the process is not draining. */
export function readinessHandler(deps: Pick<ApiDeps, 'redis' | 'store' | 'builder' | 'target' | 'draining'>): RequestHandler {
  return async (_req, res) => {
    const checks = Object.fromEntries(await Promise.all([
      probe('redis', () => deps.redis.ping(), 3000),
      probe('store', () => deps.store.check(), 3000),
      probe('builder', () => deps.builder.check(), 3000),
      probe('target', () => deps.target.check(), 3000),
    ]));
    const ready = Object.values(checks).every((c) => c.ok) && !deps.draining?.value;
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : deps.draining?.value ? 'draining' : 'unready', checks } satisfies ReadinessBody);
  };
}

export function healthRouter(deps: ApiDeps): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' } satisfies HealthBody);
  });
  router.get('/readyz', readinessHandler(deps));
  return router;
}
