import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import { z } from 'zod';
import { keys } from '../../domain/keys.js';
import { MllError } from '../../errors.js';
import type { ApiDeps } from '../deps.js';

const uploadRequest = z.strictObject({ expiresIn: z.number().int().min(60).max(7 * 24 * 3600).optional() }).optional();
export const uploadIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Presigned uploads for large payloads: the client PUTs the bytes straight to the store (S3) or
 * to the API's signed store route (fs), then creates a version that references the upload id.
 */
export function uploadsRouter(deps: ApiDeps): Router {
  const router = Router();
  router.post('/uploads', async (req, res) => {
    const parsed = uploadRequest.safeParse(req.body ?? undefined);
    if (!parsed.success) throw new MllError('BAD_REQUEST', `Invalid upload request: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
    const expiresIn = parsed.data?.expiresIn ?? 3600;
    const id = randomUUID();
    const url = await deps.store.presignPut(keys.upload(id), expiresIn);
    res.status(201).json({
      id,
      method: 'PUT',
      url,
      expiresAt: new Date(Date.now() + expiresIn * 1000).toISOString(),
      next: `POST ${deps.config.baseUrl}/api/v1/models/{name}/versions with {"upload":"${id}"}`,
    });
  });
  return router;
}

/** An upload id may make one version; the claim lives as long as uploads are kept. */
export async function claimUpload(deps: ApiDeps, id: string): Promise<void> {
  if (!uploadIdPattern.test(id)) throw new MllError('BAD_REQUEST', `"${id}" is not an upload id`);
  const claimed = await deps.redis.set(`${deps.config.prefix}:upload-claimed:${id}`, '1', 'EX', 30 * 24 * 3600, 'NX');
  if (claimed !== 'OK') throw new MllError('CONFLICT', `Upload ${id} was already used for a version`);
}

export async function releaseUploadClaim(deps: ApiDeps, id: string): Promise<void> {
  await deps.redis.del(`${deps.config.prefix}:upload-claimed:${id}`);
}
