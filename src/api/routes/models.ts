import { Router } from 'express';
import { assertModelName } from '../../domain/model-name.js';
import type { ApiDeps } from '../deps.js';
import { presentModel } from '../present.js';
import type { ModelListBody } from '../schemas/models.js';

export function modelsRouter(deps: ApiDeps): Router {
  const router = Router();
  const { catalog, config } = deps;

  router.get('/models', async (req, res) => {
    const limit = Math.min(Math.max(Number(req.query.limit ?? 100) || 100, 1), 1000);
    const after = typeof req.query.after === 'string' ? req.query.after : undefined;
    const query = typeof req.query.q === 'string' && req.query.q !== '' ? req.query.q : undefined;
    const page = await catalog.listModels({ limit, after, query });
    const params = new URLSearchParams({ limit: String(limit), ...(query ? { q: query } : {}) });
    res.json({
      items: page.items.map((m) => presentModel(m, config.baseUrl)),
      next: page.nextAfter === null ? null : `${config.baseUrl}/api/v1/models?${params}&after=${encodeURIComponent(page.nextAfter)}`,
    } satisfies ModelListBody);
  });

  router.get('/models/:name', async (req, res) => {
    res.json(presentModel(await catalog.getModel(assertModelName(req.params.name!)), config.baseUrl));
  });

  return router;
}
