import { z } from 'zod';
import { responseBody } from './registry.js';

export const health = responseBody('Health', z.object({ status: z.literal('ok') }));
export type HealthBody = z.output<typeof health>;

export const readiness = responseBody('Readiness', z.object({
  status: z.enum(['ready', 'unready', 'draining']),
  checks: z.record(z.string(), z.object({ ok: z.boolean(), error: z.string().optional(), ms: z.number() })),
}), 'Whether Redis, the object store, the image builder and the image target answer');
export type ReadinessBody = z.output<typeof readiness>;

export const reindexResult = responseBody('ReindexResult', z.object({
  models: z.number().int(),
  versions: z.number().int(),
  requeued: z.number().int(),
  unreadable: z.array(z.object({ key: z.string(), message: z.string() })).describe('Records that could not be read, left as they are'),
  webhooks: z.object({ relayed: z.number().int(), requeued: z.number().int(), batchesCompleted: z.number().int() }).optional(),
  ms: z.number().int(),
}));
export type ReindexResultBody = z.output<typeof reindexResult>;
