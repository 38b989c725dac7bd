import { Router } from 'express';
import { MllError } from '../../errors.js';
import type { Intake } from '../../intake/intake.js';
import type { ApiDeps } from '../deps.js';
import { uploadRequest, type UploadBody } from '../schemas/uploads.js';

/** Presigned uploads for large payloads (see PresignedUploads). */
export function uploadsRouter(deps: ApiDeps, intake: Intake): Router {
  const router = Router();
  router.post('/uploads', async (req, res) => {
    // No body at all is the same as {}.
    const parsed = uploadRequest.optional().safeParse(req.body ?? undefined);
    if (!parsed.success) throw new MllError('BAD_REQUEST', `Invalid upload request: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
    const upload = await intake.uploads.create(parsed.data?.expiresIn ?? 3600);
    res.status(201).json({
      ...upload,
      next: `POST ${deps.config.baseUrl}/api/v1/models/{name}/versions with {"upload":"${upload.id}"}`,
    } satisfies UploadBody);
  });
  return router;
}
