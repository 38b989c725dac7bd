import { z } from 'zod';
import { versionStatus } from './versions.js';
import { timestamp } from './common.js';
import { responseBody } from './registry.js';

export const model = responseBody('Model', z.object({
  name: z.string(),
  createdAt: timestamp,
  updatedAt: timestamp,
  versions: z.number().int(),
  latest: z.object({ version: z.number().int(), status: versionStatus, updatedAt: timestamp }).nullable(),
  url: z.string(),
  links: z.object({ versions: z.string() }),
}), 'A model with its latest version');
export type ModelBody = z.output<typeof model>;

export const modelList = responseBody('ModelList', z.object({ items: z.array(model), next: z.string().nullable() }));
export type ModelListBody = z.output<typeof modelList>;
