import { Router, type Request } from 'express';
import { modelNameFromHydrosphere, parseVersionNumber } from '../../domain/model-name.js';
import { MllError } from '../../errors.js';
import type { Intake } from '../../intake/intake.js';
import type { ApiDeps } from '../deps.js';
import type { HydrosphereModelVersionListBody } from '../schemas/hydrosphere.js';
import { presentModelBuild, presentModelVersion } from './present.js';
import { serveBuildLogs, serveModelUpdates } from './streams.js';
import { unsupportedRouter } from './unsupported.js';
import { receiveHydrosphereUpload } from './uploads.js';
import { HydrosphereVersions } from './versions.js';

/**
 * Hydrosphere's upload APIs in front of our intake (HYDROSPHERE.md): the 2018 CLI's v1 routes,
 * the v2/v3 routes of hydro-serving 2.x/3.x clients, and 501 for the parts ML Lambda does not do.
 * An upload through them is an ordinary version; these routes only translate.
 */
export function hydrosphereRouter(deps: ApiDeps, intake: Intake): Router {
  const router = Router();
  const versions = new HydrosphereVersions(deps.catalog, deps.hydrosphereIds);
  const logsUrl = (id: number) => `${deps.config.baseUrl}/api/v2/model/version/${id}/logs`;
  const uploads = { intake, ids: deps.hydrosphereIds, logger: deps.logger };

  // Hydrosphere answered uploads with 200 and the new build or version (not 202 and a Location).
  router.post('/api/v1/model/upload', async (req, res) => {
    const { record, id, name } = await receiveHydrosphereUpload(req, uploads, 'hydrosphere-v1');
    const model = await deps.hydrosphereIds.ensureModel(record.model, name);
    res.json(presentModelBuild({ id, model, record }, logsUrl(id)));
  });

  router.post('/api/v2/model/upload', async (req, res) => {
    const { record, id, name } = await receiveHydrosphereUpload(req, uploads, 'hydrosphere-v2');
    const model = await deps.hydrosphereIds.ensureModel(record.model, name);
    res.json(presentModelVersion({ id, model, record }));
  });

  router.get('/api/v1/model/build/:id', async (req, res) => {
    const view = await versions.byId(hydrosphereId(req, 'build'), 'model build');
    res.json(presentModelBuild(view, logsUrl(view.id)));
  });

  router.get('/api/v2/model/version', async (_req, res) => {
    res.json((await versions.list()).map(presentModelVersion) satisfies HydrosphereModelVersionListBody);
  });

  // Before /:name/:version, which the logs path would match too.
  router.get('/api/v2/model/version/:id/logs', async (req, res) => {
    const view = await versions.byId(hydrosphereId(req, 'model version'), 'model version');
    await serveBuildLogs(req, res, deps, view);
  });

  router.get('/api/v2/model/version/:name/:version', async (req, res) => {
    const view = await versions.byName(modelNameFromHydrosphere(req.params.name!), parseVersionNumber(req.params.version!));
    res.json(presentModelVersion(view));
  });

  router.get('/api/v2/events', async (req, res) => {
    await serveModelUpdates(req, res, deps, versions);
  });

  router.use(unsupportedRouter());
  return router;
}

function hydrosphereId(req: Request, what: string): number {
  const raw = String(req.params.id);
  if (!/^[1-9][0-9]{0,14}$/.test(raw)) throw new MllError('BAD_REQUEST', `"${raw}" is not a ${what} id (a positive integer)`, { details: { id: raw } });
  return Number(raw);
}
