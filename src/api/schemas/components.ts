import { z } from 'zod';
import { requestBodies, responseBodies } from './registry.js';
// Every module that registers a body, so the document has them all.
import './common.js';
import './contract.js';
import './versions.js';
import './models.js';
import './batches.js';
import './tokens.js';
import './uploads.js';
import './health.js';
import './webhooks.js';
import './hydrosphere.js';

type JsonSchema = Record<string, unknown>;

const uri = (id: string) => `#/components/schemas/${id}`;

/** Leaves out what says nothing to a reader: the safe-integer bounds of every int, the regex behind `date-time`. */
function quieter(ctx: { jsonSchema: JsonSchema }): void {
  const s = ctx.jsonSchema;
  if (s.format === 'date-time') delete s.pattern;
  if (s.type === 'integer' && s.minimum === Number.MIN_SAFE_INTEGER) delete s.minimum;
  if (s.type === 'integer' && s.maximum === Number.MAX_SAFE_INTEGER) delete s.maximum;
}

function render(registry: typeof requestBodies, io: 'input' | 'output'): Record<string, JsonSchema> {
  const { schemas } = z.toJSONSchema(registry, { target: 'draft-2020-12', io, uri, unrepresentable: 'throw', override: quieter }) as { schemas: Record<string, JsonSchema> };
  // Each component lives inside the document: no $schema or $id of its own ($refs are document-relative).
  return Object.fromEntries(Object.entries(schemas).map(([id, { $schema: _s, $id: _i, ...schema }]) => [id, schema]));
}

let rendered: Record<string, JsonSchema> | undefined;

/**
 * components.schemas of the OpenAPI document, generated from the zod schemas the routes use.
 * Rendered once (tens of milliseconds on a busy machine): the schemas do not change while running.
 */
export function componentSchemas(): Record<string, JsonSchema> {
  rendered ??= renderAll();
  return rendered;
}

function renderAll(): Record<string, JsonSchema> {
  const requests = render(requestBodies, 'input');
  const responses = render(responseBodies, 'output');
  const both = Object.keys(requests).filter((id) => id in responses);
  if (both.length > 0) throw new Error(`OpenAPI components named both as a request and as an answer: ${both.join(', ')}`);
  return { ...requests, ...responses };
}

/** A reference to a component by the name it is registered under. */
export const componentRef = (id: string) => ({ $ref: uri(id) });
