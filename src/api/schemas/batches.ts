import { z } from 'zod';
import { versionStatuses } from '../../domain/version.js';
import { uploadMetadata } from './versions.js';
import { errorBody, timestamp } from './common.js';
import { requestBody, responseBody } from './registry.js';

/** POST /api/v1/batches with application/json: presigned uploads, one version each. */
export const batchRequest = requestBody('BatchRequest', z.strictObject({
  items: z.array(z.strictObject({
    model: z.string(),
    upload: z.string().describe('id from POST /api/v1/uploads'),
    metadata: uploadMetadata.optional(),
  })).min(1).max(10_000),
}));

const itemStatus = z.enum([...versionStatuses, 'rejected']);

export const batch = responseBody('Batch', z.object({
  id: z.string(),
  createdAt: timestamp,
  sealed: z.boolean(),
  done: z.boolean(),
  total: z.number().int(),
  counts: z.partialRecord(itemStatus, z.number().int()),
  items: z.array(z.object({
    index: z.number().int(),
    model: z.string(),
    version: z.number().int().nullable(),
    error: errorBody.nullable(),
    status: itemStatus,
    versionUrl: z.string().nullable(),
  })),
  url: z.string(),
}), 'A batch: counts per status, each item with its version, status and error');
export type BatchBody = z.output<typeof batch>;

export const batchEvent = responseBody('BatchEvent', z.object({
  id: z.string(),
  model: z.string(),
  version: z.number().int().nullable(),
  status: itemStatus,
  error: errorBody.nullable(),
  at: timestamp,
}));

export const batchEvents = responseBody('BatchEvents', z.object({ items: z.array(batchEvent), last: z.string().nullable() }));
export type BatchEventsBody = z.output<typeof batchEvents>;
