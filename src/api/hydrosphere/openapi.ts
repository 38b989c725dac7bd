import { unsupportedRoutes } from './unsupported.js';

/**
 * The Hydrosphere part of the OpenAPI document (src/api/openapi.ts spreads it in): paths only; the
 * answers are zod schemas (src/api/schemas/hydrosphere.ts).
 */

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown, description = 'OK') => ({ description, content: { 'application/json': { schema } } });
const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [String(c), { $ref: `#/components/responses/Error${c}` }]));
const idParam = (what: string) => ({ name: 'id', in: 'path', required: true, schema: { type: 'integer', minimum: 1 }, description: `Hydrosphere ${what} id` });
const tags = ['hydrosphere'];
const sse = (description: string) => ({ description, content: { 'text/event-stream': { schema: { type: 'string' } } } });

export const hydrosphereTag = {
  name: 'hydrosphere',
  description:
    "Hydrosphere's upload APIs, for its `hs` CLI (0.1.x, 2.x, 3.x) and `hydrosdk` (2.x, 3.x) unchanged. Clients give the token as the " +
    'password of HTTP Basic auth (`http://user:<token>@host:8080`). Uploads become ordinary versions. Training data, monitoring, ' +
    'external models and deployment are answered 501, as is every other path under /api/v2, /monitoring and /profiler.',
};

const paths: Record<string, Record<string, unknown>> = {
  '/api/v1/model/upload': {
    post: {
      summary: 'Upload a model as the 2018 `hs upload` does (v1)',
      description:
        'multipart/form-data, text parts `model_name`, `model_type` (e.g. `python:3.6`), `model_description` and `model_contract` ' +
        '(raw binary ModelContract), then the `payload` file part (gzip tar). Answers a ModelBuild, Pending until the version is built.',
      tags,
      requestBody: {
        required: true,
        content: {
          'multipart/form-data': {
            schema: {
              type: 'object', required: ['payload'],
              properties: {
                model_name: { type: 'string' }, model_type: { type: 'string' }, model_description: { type: 'string' },
                model_contract: { type: 'string', format: 'binary' }, payload: { type: 'string', format: 'binary' },
              },
            },
          },
        },
      },
      responses: { 200: json(ref('HydrosphereModelBuild')), ...errors(400, 401, 403, 413, 415, 422, 429, 503) },
    },
  },
  '/api/v1/model/build/{id}': {
    get: {
      summary: 'A v1 model build (the 2018 CLI polls it every 5 s until Finished or Failed)',
      tags, parameters: [idParam('build')],
      responses: { 200: json(ref('HydrosphereModelBuild')), ...errors(400, 401, 403, 404, 503) },
    },
  },
  '/api/v2/model/upload': {
    post: {
      summary: 'Upload a model as `hs apply` 2.x/3.x and hydrosdk 2.x/3.x do',
      description:
        'multipart/form-data with a `metadata` JSON part (`name`, `runtime`, `contract` (2.x) or `modelSignature` (3.x), ' +
        '`installCommand`, `metadata`, `monitoringConfiguration`) and the `payload` file part (gzip tar), in either order.',
      tags,
      requestBody: {
        required: true,
        content: { 'multipart/form-data': { schema: { type: 'object', required: ['metadata', 'payload'], properties: { metadata: { type: 'string' }, payload: { type: 'string', format: 'binary' } } } } },
      },
      responses: { 200: json(ref('HydrosphereModelVersion')), ...errors(400, 401, 403, 413, 415, 422, 429, 503) },
    },
  },
  '/api/v2/model/version': {
    get: {
      summary: 'Every version, as ModelVersions (a version without a Hydrosphere id gets one)',
      tags, responses: { 200: json(ref('HydrosphereModelVersionList')), ...errors(401, 403, 503) },
    },
  },
  '/api/v2/model/version/{name}/{version}': {
    get: {
      summary: 'One version as a ModelVersion (the 2.x CLI polls it every 10 s while Assembling)',
      description: 'Any version can be read here; one uploaded through ML Lambda\'s own API gets a Hydrosphere id the first time.',
      tags,
      parameters: [
        { name: 'name', in: 'path', required: true, schema: { type: 'string' }, description: 'Model name as Hydrosphere spells it' },
        { name: 'version', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } },
      ],
      responses: { 200: json(ref('HydrosphereModelVersion')), ...errors(400, 401, 403, 404, 503) },
    },
  },
  '/api/v2/model/version/{id}/logs': {
    get: {
      summary: 'Build logs as server-sent events',
      description: '`event: Log`, `id: <n>` from 0, `data: <line>`; once the version is released or failed, `event: EndOfStream` and the response ends. `Last-Event-ID: n` resumes at line n+1.',
      tags, parameters: [idParam('model version'), { name: 'Last-Event-ID', in: 'header', schema: { type: 'string' } }],
      responses: { 200: sse('Log lines, then EndOfStream'), ...errors(400, 401, 403, 404, 503) },
    },
  },
  '/api/v2/events': {
    get: {
      summary: 'Live `ModelUpdate` events (data: the ModelVersion) when a version is created, released or failed',
      tags, responses: { 200: sse('ModelUpdate events, from the moment of connecting; never ends'), ...errors(401, 403, 503) },
    },
  },
};

for (const r of unsupportedRoutes) {
  const p = r.path.replace(/:(\w+)/g, '{$1}');
  paths[p] ??= {};
  paths[p][r.method] = {
    summary: `Not supported: answers 501 with the reason (${r.message.split(' (')[0]!.split(':')[0]})`,
    description: r.message,
    tags,
    parameters: /\{id\}/.test(p) ? [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }] : [],
    responses: { ...errors(401, 403, 501) },
  };
}

export const hydrosphereOpenApiPaths = paths;
