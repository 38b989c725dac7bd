import { modelNamePattern } from '../domain/model-name.js';
import { requiredScope } from '../auth/scopes.js';
import { protectedPaths } from './auth.js';
import { webhookEvents, webhookPaths } from '../webhooks/openapi.js';
import { hydrosphereOpenApiPaths, hydrosphereTag } from './hydrosphere/openapi.js';
import { componentSchemas } from './schemas/components.js';

/**
 * The OpenAPI 3.1 description of the HTTP API. Paths, parameters and summaries are written here;
 * the request and response bodies are the zod schemas the routes use (src/api/schemas), rendered
 * into components.schemas. test/api/openapi.unit.test.ts checks that every route the app serves is
 * described here and nothing more; test/api/openapi-responses.test.ts checks real answers against it.
 */
type Operation = Record<string, unknown>;
type PathItem = Partial<Record<'get' | 'post' | 'put' | 'delete' | 'patch', Operation>>;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown, description = 'OK') => ({ description, content: { 'application/json': { schema } } });
const errors = (...codes: number[]) =>
  Object.fromEntries(codes.map((c) => [String(c), { $ref: `#/components/responses/Error${c}` }]));
const nameParam = { name: 'name', in: 'path', required: true, schema: { type: 'string', pattern: modelNamePattern.source }, description: 'Model name' };
const idempotencyKeyParam = {
  name: 'Idempotency-Key', in: 'header', schema: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,255}$' },
  description: 'A retry with the same key and request replays the first successful answer (kept 24 h, with Idempotent-Replayed: true) instead of doing it again; a failed request frees its key; 409 while the first still runs. Accepted by every creating POST under /api/v1. A batch cut off midway and sent again goes on where it stopped.',
};
const versionParam = { name: 'version', in: 'path', required: true, schema: { type: 'integer', minimum: 1 }, description: 'Version number' };

const paths: Record<string, PathItem> = {
  '/healthz': {
    get: { summary: 'Liveness', tags: ['health'], security: [], responses: { 200: json(ref('Health')) } },
  },
  '/readyz': {
    get: {
      summary: 'Readiness: Redis, object store, image builder and image target',
      tags: ['health'], security: [],
      responses: { 200: json(ref('Readiness')), 503: json(ref('Readiness'), 'A dependency does not answer') },
    },
  },
  '/metrics': {
    get: { summary: 'Prometheus metrics: queue depths, stage durations, versions by status, webhook outcomes', tags: ['meta'], security: [], responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } } } },
  },
  '/api/v1/openapi.json': {
    get: { summary: 'This document', tags: ['meta'], security: [], responses: { 200: json({ type: 'object' }) } },
  },
  '/api/v1/models': {
    get: {
      summary: 'List models with their latest version',
      tags: ['models'],
      parameters: [
        { name: 'q', in: 'query', schema: { type: 'string' }, description: 'Substring of the model name' },
        { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
        { name: 'after', in: 'query', schema: { type: 'string' }, description: 'Cursor: the last name of the previous page' },
      ],
      responses: { 200: json(ref('ModelList')), ...errors(503) },
    },
  },
  '/api/v1/models/{name}': {
    get: { summary: 'One model', tags: ['models'], parameters: [nameParam], responses: { 200: json(ref('Model')), ...errors(400, 404, 503) } },
  },
  '/api/v1/models/{name}/versions': {
    get: {
      summary: "A model's versions, newest first",
      tags: ['versions'],
      parameters: [
        nameParam,
        { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
        { name: 'before', in: 'query', schema: { type: 'integer', minimum: 1 }, description: 'Cursor: versions below this number' },
      ],
      responses: {
        200: json(ref('VersionList')),
        ...errors(400, 404, 503),
      },
    },
    post: {
      summary: 'Upload a model as its next version',
      description:
        'The body is the model as a tar (`application/x-tar`) or tar.gz (`application/gzip`), streamed to the object store ' +
        'and checked as it arrives (paths, links, limits), or `multipart/form-data` with a `payload` file part and an optional ' +
        '`metadata` JSON part. Raw bodies take metadata from the query. Answers 202 at once; the stages run in the background.',
      tags: ['versions'],
      parameters: [
        nameParam,
        idempotencyKeyParam,
        { name: 'model-type', in: 'query', schema: { type: 'string' }, description: 'framework:version (raw bodies)' },
        { name: 'description', in: 'query', schema: { type: 'string' } },
        { name: 'labels', in: 'query', schema: { type: 'string' }, description: 'JSON object of labels (raw bodies)' },
      ],
      requestBody: {
        required: true,
        content: {
          'application/x-tar': { schema: { type: 'string', format: 'binary' } },
          'application/gzip': { schema: { type: 'string', format: 'binary' } },
          'multipart/form-data': {
            schema: { type: 'object', required: ['payload'], properties: { payload: { type: 'string', format: 'binary' }, metadata: ref('UploadMetadata') } },
          },
          'application/json': { schema: ref('VersionFromUpload') },
        },
      },
      responses: {
        202: { ...json(ref('Version'), 'Accepted: the version exists with status queued'), headers: { Location: { schema: { type: 'string' } } } },
        ...errors(400, 404, 409, 413, 415, 422, 429, 503),
      },
    },
  },
  '/api/v1/models/{name}/versions/{version}': {
    get: {
      summary: 'One version: status, stage timestamps, contract, image, error, warnings',
      tags: ['versions'],
      parameters: [nameParam, versionParam],
      responses: { 200: json(ref('Version')), 304: { description: 'Not modified (If-None-Match)' }, ...errors(400, 404, 503) },
    },
  },
  '/api/v1/models/{name}/versions/{version}/contract': {
    get: {
      summary: "The version's contract: JSON, or the binary ModelContract with Accept: application/x-protobuf",
      tags: ['versions'],
      parameters: [nameParam, versionParam],
      responses: {
        200: {
          description: 'The contract',
          content: { 'application/json': { schema: ref('VersionContract') }, 'application/x-protobuf': { schema: { type: 'string', format: 'binary' } } },
        },
        ...errors(400, 404, 409, 503),
      },
    },
  },
  '/api/v1/models/{name}/versions/{version}/events': {
    get: {
      summary: "The version's events: stage transitions and build log lines",
      description:
        'With `Accept: text/event-stream`: a live server-sent event stream, resumable with `Last-Event-ID`, with heartbeats ' +
        'and a final `end` event once the version is released or failed; the data of every other event is a VersionEvent. ' +
        'Otherwise the same events as JSON after `?after=<id>`.',
      tags: ['versions'],
      parameters: [
        nameParam, versionParam,
        { name: 'after', in: 'query', schema: { type: 'string' }, description: 'Event id to resume after' },
        { name: 'Last-Event-ID', in: 'header', schema: { type: 'string' } },
      ],
      responses: {
        200: {
          description: 'Events',
          content: {
            'application/json': { schema: ref('VersionEvents') },
            'text/event-stream': { schema: { type: 'string' } },
          },
        },
        ...errors(400, 404, 503),
      },
    },
  },
  '/api/v1/admin/reindex': {
    post: {
      summary: 'Rebuild Redis (counters, indexes, caches) from the object store and re-enqueue unfinished versions',
      description: 'Also happens by itself at start-up and whenever a running process finds that Redis lost its state. Safe to repeat.',
      tags: ['admin'],
      responses: {
        200: json(ref('ReindexResult')),
        ...errors(401, 403, 503),
      },
    },
  },
  '/api/v1/tokens': {
    get: {
      summary: 'List API tokens (never the tokens themselves)',
      tags: ['tokens'],
      responses: { 200: json(ref('TokenList')), ...errors(401, 403, 503) },
    },
    post: {
      summary: 'Create an API token; the answer is the only place the token ever appears',
      tags: ['tokens'],
      requestBody: { required: true, content: { 'application/json': { schema: ref('TokenRequest') } } },
      responses: { 201: json(ref('TokenCreated')), ...errors(400, 401, 403, 503) },
    },
  },
  '/api/v1/tokens/{id}': {
    delete: {
      summary: 'Revoke an API token',
      tags: ['tokens'],
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      responses: { 200: json(ref('Token')), ...errors(401, 403, 404, 503) },
    },
  },
  '/api/v1/uploads': {
    post: {
      summary: 'Start a presigned upload for a large payload',
      description: 'Returns an upload id and a URL that accepts one PUT of the tar/tar.gz bytes (S3 presigned, or the API store route for the fs store). Then create the version with {"upload": id}.',
      tags: ['uploads'],
      requestBody: { required: false, content: { 'application/json': { schema: ref('UploadRequest') } } },
      responses: {
        201: json(ref('Upload')),
        ...errors(400, 503),
      },
    },
  },
  '/api/v1/batches': {
    post: {
      summary: 'Upload many models at once; each item becomes its own version',
      description:
        'multipart/form-data with one file part per model (the field name is the model name, or a part named `payload` follows a ' +
        '`metadata` JSON part with a `model` key), or application/json `{"items":[{"model","upload","metadata"}]}` referencing presigned uploads. ' +
        'A bad item is refused alone with its reason; the rest go on.',
      tags: ['batches'],
      parameters: [idempotencyKeyParam],
      requestBody: {
        required: true,
        content: {
          'multipart/form-data': { schema: { type: 'object', additionalProperties: { type: 'string', format: 'binary' } } },
          'application/json': { schema: ref('BatchRequest') },
        },
      },
      responses: { 202: json(ref('Batch')), ...errors(400, 409, 415, 503) },
    },
  },
  '/api/v1/batches/{id}': {
    get: {
      summary: 'A batch: counts per status, each item with its version, status and error; done when all are terminal',
      tags: ['batches'],
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      responses: { 200: json(ref('Batch')), 304: { description: 'Not modified (If-None-Match)' }, ...errors(404, 503) },
    },
  },
  '/api/v1/batches/{id}/events': {
    get: {
      summary: "The batch's item transitions (SSE with Accept: text/event-stream, else JSON after ?after=)",
      description: 'In the stream, the data of every `item` event is a BatchEvent; a final `end` event carries done, counts and total.',
      tags: ['batches'],
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }, { name: 'after', in: 'query', schema: { type: 'string' } }],
      responses: { 200: { description: 'Events', content: { 'application/json': { schema: ref('BatchEvents') }, 'text/event-stream': { schema: { type: 'string' } } } }, ...errors(404, 503) },
    },
  },
  '/api/v1/store/{key}': {
    get: {
      summary: 'Presigned download from the fs object store',
      tags: ['uploads'], security: [],
      parameters: [{ name: 'key', in: 'path', required: true, schema: { type: 'string' } }],
      responses: { 200: { description: 'The object bytes', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } }, ...errors(403, 404) },
    },
    put: {
      summary: 'Presigned upload into the fs object store',
      tags: ['uploads'], security: [],
      parameters: [{ name: 'key', in: 'path', required: true, schema: { type: 'string' } }],
      requestBody: { required: true, content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
      responses: { 200: { description: 'Stored' }, ...errors(403, 413) },
    },
  },
};

const statusText: Record<number, string> = {
  400: 'Bad request', 401: 'Missing or invalid token', 403: 'Token lacks the scope', 404: 'Not found', 409: 'Conflict',
  413: 'Too large', 415: 'Unsupported media type', 422: 'Invalid model or archive', 429: 'Rate limited', 501: 'Not supported (a part of a foreign protocol ML Lambda does not provide)',
  503: 'A dependency is unavailable',
};

/**
 * Every operation states the scope it needs, from the same rule the server enforces, and the 401
 * and 403 answers any operation that needs a scope can give.
 */
function withSecurity(all: Record<string, PathItem>): Record<string, PathItem> {
  return Object.fromEntries(Object.entries(all).map(([p, item]) => [p, Object.fromEntries(Object.entries(item).map(([method, op]) => {
    const scope = protectedPaths.test(p) ? requiredScope(method, p.replace(/\{[^}]+\}/g, 'x')) : null;
    if (!scope) return [method, { ...op, security: [] }];
    const responses = { ...errors(401, 403), ...(op.responses as Record<string, unknown>) };
    return [method, { ...op, responses, security: [{ bearer: [scope] }, { basic: [scope] }] }];
  }))]));
}

export function openApiDocument(serverUrl: string, extraPaths: Record<string, PathItem> = {}, extraSchemas: Record<string, unknown> = {}) {
  return {
    openapi: '3.1.0',
    info: {
      title: 'ML Lambda',
      version: '1',
      description: 'Model registry and image factory. Every error has the shape {"error":{"code","message","details"}}.',
    },
    servers: [{ url: serverUrl }],
    paths: withSecurity({ ...paths, ...webhookPaths, ...hydrosphereOpenApiPaths, ...extraPaths }),
    tags: [hydrosphereTag],
    webhooks: webhookEvents,
    security: [{ bearer: [] }, { basic: [] }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An API token (mll_…) with the scope the operation lists: read, write or admin (admin includes write, write includes read).' },
        basic: { type: 'http', scheme: 'basic', description: 'The same API token as the password of HTTP Basic auth (any user name), for clients that cannot send a bearer token; same scopes.' },
      },
      schemas: { ...componentSchemas(), ...extraSchemas },
      responses: Object.fromEntries(Object.entries(statusText).map(([code, text]) => [`Error${code}`, json(ref('Error'), text)])),
    },
  };
}
