import { Router } from 'express';
import { batchTopic, type Batches } from '../../batches/batches.js';
import { MllError } from '../../errors.js';
import type { Intake } from '../../intake/intake.js';
import { parseUploadMetadata } from '../../intake/metadata.js';
import { receiveBatchParts } from '../batch-multipart.js';
import { idempotencyKeyOf } from '../idempotency.js';
import type { ApiDeps } from '../deps.js';
import { mediaType } from '../media-type.js';
import { batchRequest, type BatchBody, type BatchEventsBody } from '../schemas/batches.js';
import { serveSse } from '../sse.js';

/**
 * Many models in one request; each item becomes its own version or is refused alone with its
 * own reason, while the rest go on.
 *  - multipart/form-data: one file part per model (see receiveBatchParts).
 *  - application/json: `{"items": [{"model", "upload": <presigned upload id>, "metadata"}]}`.
 */
export function batchesRouter(deps: ApiDeps, batches: Batches, intake: Intake): Router {
  const router = Router();

  router.post('/batches', async (req, res) => {
    intake.assertAccepting('batch');
    const type = mediaType(req);
    let batch;
    if (type === 'application/json') {
      const parsed = batchRequest.safeParse(req.body);
      if (!parsed.success) {
        throw new MllError('BAD_REQUEST', `Invalid batch: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      }
      batch = await intake.startBatch(idempotencyKeyOf(res));
      // Metadata was checked by the schema above; parsing again only normalises it.
      await batch.addUploads(parsed.data.items.map((it) => ({ model: it.model, upload: it.upload, metadata: parseUploadMetadata(it.metadata ?? {}, 'metadata') })));
    } else if (type === 'multipart/form-data') {
      batch = await intake.startBatch(idempotencyKeyOf(res));
      const started = batch;
      await receiveBatchParts(req, (index, model, stream, metadata) => started.addStream(index, model, stream, metadata));
    } else {
      req.resume();
      throw new MllError('UNSUPPORTED_MEDIA_TYPE', `Content-Type "${type || '(none)'}" is not accepted: send multipart/form-data (one file part per model) or application/json (presigned upload ids)`);
    }
    if (batch.record.items.length === 0) throw new MllError('BAD_REQUEST', 'The batch has no items: add one file part per model');
    const view = await batch.seal();
    const url = `${deps.config.baseUrl}/api/v1/batches/${view.id}`;
    res.status(202).location(url).json({ ...view, url } satisfies BatchBody);
  });

  router.get('/batches/:id', async (req, res) => {
    const view = await batches.view(req.params.id!);
    res.json({ ...view, url: `${deps.config.baseUrl}/api/v1/batches/${view.id}` } satisfies BatchBody);
  });

  router.get('/batches/:id/events', async (req, res) => {
    const id = req.params.id!;
    await batches.record(id);
    if (req.accepts(['application/json', 'text/event-stream']) === 'text/event-stream') {
      // Whether the batch is done comes with each read (one call), as of that read.
      let done = false;
      await serveSse(req, res, {
        read: async (after) => {
          const read = await batches.follow(id, after);
          done = read.done;
          return read.events.map((e) => ({ id: e.id, event: 'item', data: e }));
        },
        finished: async () => done,
        endData: async () => {
          const v = await batches.view(id);
          return { done: v.done, counts: v.counts, total: v.total };
        },
        subscribe: (wake) => deps.events.on(batchTopic(id), wake),
      });
      return;
    }
    const after = typeof req.query.after === 'string' ? req.query.after : undefined;
    const events = await batches.readEvents(id, after);
    res.json({ items: events, last: events.at(-1)?.id ?? after ?? null } satisfies BatchEventsBody);
  });

  return router;
}
