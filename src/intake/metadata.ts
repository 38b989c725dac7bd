import { z } from 'zod';
import { MllError } from '../errors.js';

/** What a client may say about an upload besides its bytes (multipart `metadata` part, query, batch item). */
export const uploadMetadataSchema = z.strictObject({
  'model-type': z.string().regex(/^[a-z][a-z0-9_.-]*:[A-Za-z0-9_.+-]+$/, 'must be framework:version, e.g. tensorflow:2.15 or python:3.11').optional(),
  labels: z.record(z.string().regex(/^[A-Za-z0-9_./-]{1,63}$/, 'label keys use A-Z, a-z, 0-9, _ . / -'), z.string().max(256)).optional(),
  description: z.string().max(4096).optional(),
});
export type UploadMetadata = z.infer<typeof uploadMetadataSchema>;

export function parseUploadMetadata(value: unknown, source: string): UploadMetadata {
  const result = uploadMetadataSchema.safeParse(value ?? {});
  if (!result.success) {
    const problems = result.error.issues.map((i) => ({
      path: i.path.join('.') || '(root)',
      message: i.code === 'unrecognized_keys' ? `unknown field(s): ${i.keys.join(', ')}` : i.message,
    }));
    throw new MllError('INVALID_METADATA', `Invalid ${source}: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, { details: problems });
  }
  return result.data;
}

export function parseMetadataJson(text: string, source: string): UploadMetadata {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new MllError('INVALID_METADATA', `The ${source} is not valid JSON: ${(err as Error).message}`);
  }
  return parseUploadMetadata(value, source);
}
