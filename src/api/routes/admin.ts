import { Router } from 'express';
import { rebuildFromStore } from '../../app/recovery.js';
import type { ApiDeps } from '../deps.js';
import type { ReindexResultBody } from '../schemas/health.js';

/** Operations for administrators (`mll reindex`). */
export function adminRouter(deps: ApiDeps): Router {
  const router = Router();
  router.post('/admin/reindex', async (_req, res) => {
    const result = await rebuildFromStore(deps);
    deps.logger.info(result, 'reindex requested through the API');
    res.json(result satisfies ReindexResultBody);
  });
  return router;
}
