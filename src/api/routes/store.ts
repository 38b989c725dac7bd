import { Router } from 'express';
import { serveStoreUrl, storeRoutePath } from '../../storage/fs-presign.js';
import type { ApiDeps } from '../deps.js';

/** The fs store's presigned URLs land here (S3 stores sign their own). */
export function storeRouter(deps: ApiDeps): Router {
  const router = Router();
  router.all(`${storeRoutePath}*key`, async (req, res) => {
    req.url = req.originalUrl;
    await serveStoreUrl(deps.store, deps.storeUrlSecret, req, res, { maxBytes: deps.config.maxUploadBytes });
  });
  return router;
}
