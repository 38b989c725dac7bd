import type { Request, RequestHandler } from 'express';
import { Router } from 'express';
import { MllError } from '../../errors.js';

/**
 * What Hydrosphere's clients call that ML Lambda does not do: data profiling of training data,
 * monitoring, external models, deployment. Each answers 501 with our error body naming what is
 * not supported — never a silent success. The request body is read to its end first (and thrown
 * away): python-requests writes the whole body before it reads the answer, so a client cut off
 * mid-body would report a broken connection instead of the reason.
 */
const trainingData =
  'ML Lambda does not profile training data (Hydrosphere\'s data profiler and monitoring are not part of it). ' +
  'The model version itself was uploaded and is built as usual; remove `training-data` from serving.yaml ' +
  '(or do not call upload_training_data) to skip this step.';
const monitoring =
  'ML Lambda does not run Hydrosphere\'s monitoring (metric specs, monitoring models). The model version itself was ' +
  'uploaded and is built as usual; remove `monitoring` from serving.yaml to skip this step.';
const externalModels =
  'ML Lambda does not register external models (a contract without an image): upload the model files instead.';
const deployment =
  'ML Lambda builds and releases model images; it does not deploy them (Hydrosphere applications, servables and ' +
  'deployment configurations are not part of it). Run the released image with your own deployment tooling.';

/** The Hydrosphere routes refused with 501, each with what is not supported (the OpenAPI document lists them). */
export const unsupportedRoutes: { method: 'get' | 'post' | 'put' | 'delete'; path: string; message: string }[] = [
  { method: 'post', path: '/monitoring/profiles/batch/:id', message: trainingData },
  { method: 'post', path: '/monitoring/profiles/batch/:id/s3', message: trainingData },
  { method: 'get', path: '/monitoring/profiles/batch/:id/status', message: trainingData },
  { method: 'post', path: '/profiler/batch/:id/csv', message: trainingData },
  { method: 'get', path: '/profiler/batch/:id/status', message: trainingData },
  { method: 'get', path: '/api/v2/monitoring/metricspec', message: monitoring },
  { method: 'post', path: '/api/v2/monitoring/metricspec', message: monitoring },
  { method: 'post', path: '/api/v2/externalmodel', message: externalModels },
];

/** Any other path of Hydrosphere's APIs: the same answer, worded by what the path belongs to. */
const prefixes: { pattern: RegExp; message: string }[] = [
  { pattern: /^\/(monitoring|profiler)(\/|$)|^\/api\/v2\/(monitoring|profiler)(\/|$)/, message: monitoring },
  { pattern: /^\/api\/v2\/externalmodel(\/|$)/, message: externalModels },
  { pattern: /^\/api\/v2\/(application|servable|deployment_configuration|host_selector)(\/|$)/, message: deployment },
  { pattern: /^\/api\/v1\/(model|application|runtime|environment|service|applications)(\/|$)|^\/api\/v2(\/|$)/, message: 'This route of Hydrosphere\'s API is not part of ML Lambda. ML Lambda speaks the model upload and build parts of it: see "Coming from Hydrosphere" in its README.' },
];

/** Reads a request body to its end, discarding it. */
export function drain(req: Request): Promise<void> {
  if (req.complete || req.readableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    req.on('end', resolve);
    req.on('close', resolve);
    req.on('error', () => resolve());
    req.resume();
  });
}

function refuse(message: string): RequestHandler {
  return async (req, _res, next) => {
    await drain(req);
    next(new MllError('NOT_IMPLEMENTED', `${req.method} ${req.path}: ${message}`, { details: { method: req.method, path: req.path } }));
  };
}

export function unsupportedRouter(): Router {
  const router = Router();
  for (const r of unsupportedRoutes) router[r.method](r.path, refuse(r.message));
  // Everything else under Hydrosphere's prefixes (a middleware, not routes: the document lists the ones above).
  router.use((req, res, next) => {
    const match = prefixes.find((p) => p.pattern.test(req.path));
    if (!match) return next();
    return refuse(match.message)(req, res, next);
  });
  return router;
}
