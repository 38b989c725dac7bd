import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { createApp } from '../../src/api/app.js';
import type { ApiDeps } from '../../src/api/deps.js';
import { openApiDocument } from '../../src/api/openapi.js';
import { loadConfig } from '../../src/config.js';
import { errorCatalogue } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';

interface Layer {
  rawPath?: string;
  name?: string;
  route?: { path: string; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
}

/** Every (method, path) the Express app serves, with mount prefixes joined, as OpenAPI paths. */
function servedRoutes(stack: Layer[], prefix = ''): string[] {
  const out: string[] = [];
  for (const layer of stack) {
    if (layer.route) {
      const path = (prefix + layer.route.path).replace(/:(\w+)/g, '{$1}').replace(/\*(\w+)$/, '{$1}');
      for (const [method, on] of Object.entries(layer.route.methods)) {
        if (!on) continue;
        // router.all() registers `_all`: document it as the methods it really handles (GET/PUT).
        if (method === '_all') out.push(`get ${path}`, `put ${path}`);
        else out.push(`${method} ${path}`);
      }
    } else if (layer.handle.stack) {
      out.push(...servedRoutes(layer.handle.stack, prefix + (layer.rawPath && layer.rawPath !== '/' ? layer.rawPath : '')));
    }
  }
  return out;
}

it('documents exactly the routes the app serves (OpenAPI 3.1)', () => {
  const config = loadConfig({ MLL_DATA_DIR: '/tmp/mll-openapi-test' });
  const app = createApp({ config, logger: createLogger('silent') } as unknown as ApiDeps);
  const served = new Set(servedRoutes((app as unknown as { router: { stack: Layer[] } }).router.stack));
  const doc = openApiDocument('http://x');
  assert.equal(doc.openapi, '3.1.0');
  const documented = new Set(Object.entries(doc.paths).flatMap(([p, item]) => Object.keys(item).map((m) => `${m} ${p}`)));
  assert.deepEqual([...served].filter((r) => !documented.has(r)).sort(), [], 'served but not documented');
  assert.deepEqual([...documented].filter((r) => !served.has(r)).sort(), [], 'documented but not served');
});

it('lists every error code of the catalogue in the Error schema', () => {
  const doc = openApiDocument('http://x');
  const error = (doc.components.schemas.Error as { properties: { error: { properties: { code: { enum: string[] } } } } });
  assert.deepEqual(error.properties.error.properties.code.enum.sort(), Object.keys(errorCatalogue).sort());
});

it('renders components.schemas from the zod schemas as valid JSON Schema 2020-12, objects closed on the answer side', () => {
  const doc = openApiDocument('http://x');
  const schemas = doc.components.schemas as Record<string, Record<string, unknown>>;
  // strict: unknown keywords or formats in a component fail here, not in a client's generator.
  const ajv = new Ajv2020({ strict: true });
  addFormats.default(ajv);
  ajv.addFormat('binary', true);
  for (const [name, schema] of Object.entries(schemas)) {
    const rebased = JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', '"https://ml-lambda.test/c/')) as Record<string, unknown>;
    ajv.addSchema({ ...rebased, $id: `https://ml-lambda.test/c/${name}` });
  }
  for (const name of Object.keys(schemas)) assert.ok(ajv.getSchema(`https://ml-lambda.test/c/${name}`), name);
  for (const name of ['Version', 'Model', 'Batch', 'Token', 'TokenCreated', 'Upload', 'Readiness', 'VersionContract', 'VersionEvents', 'ReindexResult']) {
    assert.equal(schemas[name]!.additionalProperties, false, `${name} lists every field the server sends`);
  }
  assert.equal(schemas.VersionFromUpload!.additionalProperties, false, 'a request body with an unknown field is refused');
  const version = ajv.getSchema('https://ml-lambda.test/c/Version')!;
  assert.equal(version({ model: 'm' }), false);
});
