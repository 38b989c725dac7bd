import { z } from 'zod';
import { timestamp } from './common.js';
import { requestBody, responseBody } from './registry.js';

export const uploadRequest = requestBody('UploadRequest', z.strictObject({
  expiresIn: z.number().int().min(60).max(7 * 24 * 3600).optional().describe('Seconds the URL stays valid (default 3600)'),
}));

export const upload = responseBody('Upload', z.object({
  id: z.string(),
  method: z.literal('PUT'),
  url: z.string().describe('Accepts one PUT of the tar/tar.gz bytes'),
  expiresAt: timestamp,
  next: z.string().describe('How to make the version once the bytes are there'),
}));
export type UploadBody = z.output<typeof upload>;
