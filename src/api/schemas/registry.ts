import { z } from 'zod';

/**
 * The bodies the API takes and gives, by the name they have under components.schemas of the
 * OpenAPI document (src/api/schemas/components.ts renders them). Requests are rendered as what a
 * client may send (zod's input side), answers as what the server sends (the output side, objects
 * closed: a field the schema does not list fails test/api/openapi-responses.test.ts).
 */
export interface ComponentMeta {
  id: string;
}

export const requestBodies = z.registry<ComponentMeta>();
export const responseBodies = z.registry<ComponentMeta>();

/** Registers `schema` under `id`; the description goes where zod renders it from (the schema's own metadata). */
function register<S extends z.ZodType>(registry: typeof requestBodies, id: string, schema: S, description?: string): S {
  const described = description ? (schema.describe(description) as S) : schema;
  registry.add(described, { id });
  return described;
}

export function requestBody<S extends z.ZodType>(id: string, schema: S, description?: string): S {
  return register(requestBodies, id, schema, description);
}

export function responseBody<S extends z.ZodType>(id: string, schema: S, description?: string): S {
  return register(responseBodies, id, schema, description);
}
