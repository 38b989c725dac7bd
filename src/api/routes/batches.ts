import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import { Router } from 'express';
import { z } from 'zod';
import { batchTopic, type BatchItem, type BatchRecord, type Batches } from '../../batches/batches.js';
import { assertModelName } from '../../domain/model-name.js';
import { isMllError, MllError, toErrorBody } from '../../errors.js';
import type { ApiDeps } from '../deps.js';
import { receivePayload, validateStoredPayload } from '../intake.js';
import { parseMetadataJson, parseUploadMetadata, uploadMetadataSchema, type UploadMetadata } from '../metadata.js';
import { serveSse } from '../sse.js';
import { claimUpload, releaseUploadClaim } from './uploads.js';
import { intakeLimits, mediaType, releaseUpload } from './versions.js';

const jsonBatch = z.strictObject({
  items: z.array(z.strictObject({
    model: z.string(),
    upload: z.string(),
    metadata: uploadMetadataSchema.optional(),
  })).min(1).max(10_000),
});

/**
 * Many models in one request; each item becomes its own version or is refused alone with its
 * own reason, while the rest go on.
 *  - multipart/form-data: one file part per model. The part's field name is the model name, or
 *    the part is named `payload` and the `metadata` JSON part just before it names the model
 *    (`{"model": "...", "model-type": ..., "labels": ..., "description": ...}`).
 *  - application/json: `{"items": [{"model", "upload": <presigned upload id>, "metadata"}]}`.
 */
export function batchesRouter(deps: ApiDeps, batches: Batches): Router {
  const router = Router();

  /** `stream`, when given, is drained if the item fails before reading it, so later parts still arrive. */
  const addItem = async (record: BatchRecord, index: number, model: string, make: () => Promise<{ version: number }>, stream?: Readable) => {
    const item: BatchItem = { index, model, version: null, error: null };
    record.items.push(item);
    try {
      assertModelName(model);
      item.version = (await make()).version;
    } catch (err) {
      if (stream && !stream.readableEnded) stream.resume();
      item.error = toErrorBody(err);
      if (!isMllError(err)) deps.logger.error({ err, model }, 'batch item failed unexpectedly');
      await batches.itemRejected(record.id, model, item.error).catch(() => undefined);
    }
  };

  router.post('/batches', async (req, res) => {
    if (deps.draining?.value) throw new MllError('SHUTTING_DOWN', 'The service is shutting down; retry the batch');
    const record: BatchRecord = { id: batches.newId(), createdAt: new Date().toISOString(), sealed: false, items: [] };
    const limits = intakeLimits(deps);
    const type = mediaType(req);
    if (type === 'application/json') {
      const parsed = jsonBatch.safeParse(req.body);
      if (!parsed.success) {
        throw new MllError('BAD_REQUEST', `Invalid batch: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      }
      await batches.save(record);
      let next = 0;
      const items = parsed.data.items;
      const worker = async () => {
        for (let i = next++; i < items.length; i = next++) {
          const it = items[i]!;
          await addItem(record, i, it.model, async () => {
            await claimUpload(deps, it.upload);
            try {
              const payload = await validateStoredPayload(deps.store, it.upload, limits);
              return await releaseUpload(deps, it.model, payload, parseUploadMetadata(it.metadata ?? {}, 'metadata'), record.id);
            } catch (err) {
              await releaseUploadClaim(deps, it.upload).catch(() => undefined);
              if ((err as Error).name === 'NotFoundError') throw new MllError('NOT_FOUND', `Upload ${it.upload} has no bytes yet (PUT them to its URL first) or has expired`);
              throw err;
            }
          });
        }
      };
      await Promise.all(Array.from({ length: Math.min(8, items.length) }, worker));
      record.items.sort((a, b) => a.index - b.index);
    } else if (type === 'multipart/form-data') {
      await batches.save(record);
      await receiveBatchParts(req, async (index, model, stream, metadata) => {
        await addItem(record, index, model, async () => {
          if (metadata instanceof MllError) throw metadata;
          const payload = await receivePayload(stream, deps.store, limits);
          return releaseUpload(deps, model, payload, metadata, record.id);
        }, stream);
      });
      record.items.sort((a, b) => a.index - b.index);
    } else {
      req.resume();
      throw new MllError('UNSUPPORTED_MEDIA_TYPE', `Content-Type "${type || '(none)'}" is not accepted: send multipart/form-data (one file part per model) or application/json (presigned upload ids)`);
    }
    if (record.items.length === 0) throw new MllError('BAD_REQUEST', 'The batch has no items: add one file part per model');
    record.sealed = true;
    await batches.save(record);
    const view = await batches.view(record.id);
    res.status(202).location(`${deps.config.baseUrl}/api/v1/batches/${record.id}`).json({ ...view, url: `${deps.config.baseUrl}/api/v1/batches/${record.id}` });
  });

  router.get('/batches/:id', async (req, res) => {
    const view = await batches.view(req.params.id!);
    res.json({ ...view, url: `${deps.config.baseUrl}/api/v1/batches/${view.id}` });
  });

  router.get('/batches/:id/events', async (req, res) => {
    const id = req.params.id!;
    await batches.record(id);
    if (req.accepts(['application/json', 'text/event-stream']) === 'text/event-stream') {
      await serveSse(req, res, {
        read: async (after) => (await batches.readEvents(id, after)).map((e) => ({ id: e.id, event: 'item', data: e })),
        finished: () => batches.isDone(id),
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
    res.json({ items: events, last: events.at(-1)?.id ?? after ?? null });
  });

  return router;
}

type PartHandler = (index: number, model: string, stream: Readable, metadata: UploadMetadata | MllError) => Promise<void>;

/** Streams the parts of a multipart batch to `onPart` one by one, in order, as they arrive. */
function receiveBatchParts(req: IncomingMessage, onPart: PartHandler): Promise<void> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { fieldSize: 64 * 1024, files: 10_000, parts: 20_000 } });
    } catch (err) {
      reject(new MllError('BAD_REQUEST', `Malformed multipart request: ${(err as Error).message}`));
      return;
    }
    const maxInFlight = 4;
    let inFlight = 0;
    let paused = false;
    const waiting: (() => void)[] = [];
    const acquire = (): Promise<void> => {
      if (inFlight < maxInFlight) {
        inFlight += 1;
        return Promise.resolve();
      }
      if (!paused) {
        paused = true;
        req.unpipe(parser);
      }
      return new Promise<void>((resolve) => waiting.push(resolve));
    };
    const release = () => {
      const next = waiting.shift();
      if (next) return next();
      inFlight -= 1;
      if (paused) {
        paused = false;
        req.pipe(parser);
      }
    };
    // A metadata part applies to the file part that follows it; its mistakes fail that item alone.
    let pending: { model?: string; metadata: UploadMetadata | MllError } | undefined;
    let index = 0;
    let chain = Promise.resolve();
    let failure: unknown;
    parser.on('field', (name, value) => {
      if (name !== 'metadata') {
        pending = { model: name, metadata: new MllError('BAD_REQUEST', `Unexpected field "${name}": a batch has file parts and "metadata" parts`) };
        return;
      }
      try {
        const raw = JSON.parse(value) as Record<string, unknown>;
        const { model, ...rest } = raw ?? {};
        pending = { model: typeof model === 'string' ? model : undefined, metadata: parseMetadataJson(JSON.stringify(rest), 'metadata part') };
      } catch (err) {
        pending = { metadata: isMllError(err) ? err : new MllError('INVALID_METADATA', `A metadata part is not valid JSON: ${(err as Error).message}`) };
      }
    });
    parser.on('file', (name, stream) => {
      const i = index++;
      const model = name === 'payload' ? pending?.model ?? '' : name;
      const metadata = pending?.metadata ?? {};
      pending = undefined;
      // Parts are received as they arrive; at most `maxInFlight` are being stored and released at
      // once. Beyond that the request stops being read, so TCP slows the client down instead of
      // hundreds of parts competing with every other request.
      const work = acquire()
        .then(() => onPart(i, model || '(unnamed part)', stream, metadata))
        .catch((err: unknown) => void (failure ??= err))
        .finally(release);
      chain = chain.then(() => work);
    });
    parser.on('error', (err: Error) => {
      req.unpipe(parser);
      req.resume();
      chain.then(() => reject(new MllError('BAD_REQUEST', `Malformed multipart request: ${err.message}`)), reject);
    });
    parser.on('close', () => {
      chain.then(() => (failure ? reject(failure) : resolve()), reject);
    });
    req.pipe(parser);
  });
}
