import { Router } from 'express';
import { z } from 'zod';
import { MllError } from '../../errors.js';
import type { Intake } from '../../intake/intake.js';
import type { ApiDeps } from '../deps.js';

const uploadRequest = z.strictObject({ expiresIn: z.number().int().min(60).max(7 * 24 * 3600).optional() }).optional();

/** Presigned uploads for large payloads (see PresignedUploads). */
export function uploadsRouter(deps: ApiDeps, intake: Intake): Router {
  const router = Router();
  router.post('/uploads', async (req, res) => {
    const parsed = uploadRequest.safeParse(req.body ?? undefined);
    if (!parsed.success) throw new MllError('BAD_REQUEST', `Invalid upload request: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
    const upload = await intake.uploads.create(parsed.data?.expiresIn ?? 3600);
    res.status(201).json({
      ...upload,
      next: `POST ${deps.config.baseUrl}/api/v1/models/{name}/versions with {"upload":"${upload.id}"}`,
    });
  });
  return router;
}
