import { z } from 'zod';

/**
 * The bodies the API takes and gives, by the name they have under components.schemas of the
 * OpenAPI document (src/api/schemas/components.ts renders them). Requests are rendered as what a
 * client may send (zod's input side), answers as what the server sends (the output side, objects
 * closed: a field the schema does not list fails test/api/openapi-responses.test.ts).
 */
export interface ComponentMeta {
  id: string;
  description?: string;
}

export const requestBodies = z.registry<ComponentMeta>();
export const responseBodies = z.registry<ComponentMeta>();

export function requestBody<S extends z.ZodType>(id: string, schema: S, description?: string): S {
  requestBodies.add(schema, { id, ...(description ? { description } : {}) });
  return schema;
}

export function responseBody<S extends z.ZodType>(id: string, schema: S, description?: string): S {
  responseBodies.add(schema, { id, ...(description ? { description } : {}) });
  return schema;
}
