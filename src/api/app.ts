import express, { type Express } from 'express';
import { Intake } from '../intake/intake.js';
import { authenticate, limitUploads, principalOf } from './auth.js';
import type { ApiDeps } from './deps.js';
import { errorHandler, notFound } from './errors.js';
import { openApiDocument } from './openapi.js';
import { hydrosphereRouter } from './hydrosphere/index.js';
import { httpMetrics } from './http-metrics.js';
import { idempotency } from './idempotency.js';
import { adminRouter } from './routes/admin.js';
import { batchesRouter } from './routes/batches.js';
import { eventsRouter } from './routes/events.js';
import { healthRouter } from './routes/health.js';
import { metricsRouter } from './routes/metrics.js';
import { modelsRouter } from './routes/models.js';
import { storeRouter } from './routes/store.js';
import { tokensRouter } from './routes/tokens.js';
import { uploadsRouter } from './routes/uploads.js';
import { versionsRouter } from './routes/versions.js';
import { webhooksRouter } from './routes/webhooks.js';
import { webInterface } from './web.js';

/** Builds the HTTP API without listening (tests and the servers both call it). */
export function createApp(deps: ApiDeps): Express {
  const app = express();
  const intake = new Intake(deps);
  app.disable('x-powered-by');
  app.set('etag', 'strong');
  app.set('query parser', 'simple');

  app.use(httpMetrics(deps.metrics));
  // Every request is authenticated and scope-checked first (src/auth/scopes.ts decides the scope).
  app.use(authenticate(deps));
  app.use(limitUploads(deps));
  app.use(healthRouter(deps));
  app.use(storeRouter(deps));
  app.use(metricsRouter(deps));
  app.get('/api/v1/openapi.json', (_req, res) => {
    res.json(openApiDocument(deps.config.baseUrl));
  });
  const api = express.Router();
  // Only JSON bodies are parsed; model payloads stream straight through to the store.
  api.use(express.json({ limit: '1mb', strict: true }));
  // Idempotency keys are per token: two clients cannot collide on (or replay) each other's keys.
  api.use(idempotency(deps.redis, deps.config.prefix, (_req, res) => principalOf(res)?.id ?? '', { adopt: (effect) => intake.adopt(effect) }));
  api.use(modelsRouter(deps));
  api.use(versionsRouter(deps, intake));
  api.use(eventsRouter(deps));
  api.use(webhooksRouter(deps));
  api.use(uploadsRouter(deps, intake));
  api.use(batchesRouter(deps, deps.batches, intake));
  api.use(adminRouter(deps));
  api.use(tokensRouter(deps, deps.tokens));
  app.use('/api/v1', api);
  // Hydrosphere's routes (/api/v1/model/…, /api/v2/…, /monitoring/…): after ours, which never overlap them.
  app.use(hydrosphereRouter(deps, intake));
  // The web interface (web/): static files and the page fallback, after the API, before 404.
  app.use(webInterface());

  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}
