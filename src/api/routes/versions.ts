import { Router, type Request } from 'express';
import { z } from 'zod';
import { enqueueVersion } from '../../../queues/flow.js';
import { keys } from '../../domain/keys.js';
import { assertModelName, parseVersionNumber } from '../../domain/model-name.js';
import type { VersionRecord } from '../../domain/version.js';
import { MllError } from '../../errors.js';
import type { ApiDeps } from '../deps.js';
import { receivePayload, validateStoredPayload, type IntakeLimits, type ReceivedPayload } from '../intake.js';
import { metadataFromQuery, parseUploadMetadata, type UploadMetadata } from '../metadata.js';
import { receiveMultipart } from '../multipart.js';
import { presentVersion } from '../present.js';
import { isNotFound } from '../../storage/object-store.js';
import { claimUpload, releaseUploadClaim } from './uploads.js';

const tarTypes = new Set(['application/x-tar', 'application/tar', 'application/gzip', 'application/x-gzip', 'application/tar+gzip', 'application/octet-stream']);

export function mediaType(req: Request): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

export function intakeLimits(deps: ApiDeps): IntakeLimits {
  const c = deps.config;
  return { maxUploadBytes: c.maxUploadBytes, archive: { maxUnpackedBytes: c.maxUnpackedBytes, maxEntries: c.maxFiles, maxDepth: c.maxPathDepth } };
}

export function newVersionRecord(model: string, version: number, payload: ReceivedPayload, metadata: UploadMetadata, batchId: string | null = null): VersionRecord {
  const now = new Date().toISOString();
  const { uploadId: _uploadId, ...payloadInfo } = payload;
  return {
    model, version, status: 'queued', createdAt: now, updatedAt: now,
    description: metadata.description ?? null,
    labels: metadata.labels ?? {},
    modelType: metadata['model-type'] ?? null,
    payload: payloadInfo,
    stages: {}, contract: null, contractDigest: null, tree: null, image: null, warnings: [], error: null, diff: null, batchId,
  };
}

/**
 * Allocates the next version number, writes the record and enqueues its stages. If any of it
 * fails, the record and the uploaded payload are removed, so the client can simply retry.
 */
export async function releaseUpload(deps: ApiDeps, model: string, payload: ReceivedPayload, metadata: UploadMetadata, batchId: string | null = null): Promise<VersionRecord> {
  let record: VersionRecord | undefined;
  try {
    const version = await deps.catalog.allocateVersion(model);
    record = newVersionRecord(model, version, payload, metadata, batchId);
    await deps.catalog.create(record);
    await enqueueVersion(deps.flows, deps.config, { model, version });
    return record;
  } catch (err) {
    if (record) await deps.store.delete(keys.versionRecord(model, record.version)).catch(() => undefined);
    await deps.store.delete(payload.key).catch(() => undefined);
    throw err;
  }
}

const fromUpload = z.strictObject({ upload: z.string(), metadata: z.unknown().optional() });

/** A version from a presigned upload: `{"upload": "<id>", "metadata": {...}}`. */
async function payloadFromUpload(deps: ApiDeps, body: unknown): Promise<{ payload: ReceivedPayload; metadata: UploadMetadata }> {
  const parsed = fromUpload.safeParse(body);
  if (!parsed.success) {
    throw new MllError('BAD_REQUEST', 'A JSON body must be {"upload": "<upload id from POST /api/v1/uploads>", "metadata": {...}}');
  }
  const metadata = parseUploadMetadata(parsed.data.metadata ?? {}, 'metadata');
  await claimUpload(deps, parsed.data.upload);
  try {
    return { payload: await validateStoredPayload(deps.store, parsed.data.upload, intakeLimits(deps)), metadata };
  } catch (err) {
    await releaseUploadClaim(deps, parsed.data.upload).catch(() => undefined);
    if (isNotFound(err)) {
      throw new MllError('NOT_FOUND', `Upload ${parsed.data.upload} has no bytes yet (PUT them to its URL first) or has expired`);
    }
    throw err;
  }
}

export function versionsRouter(deps: ApiDeps): Router {
  const router = Router();
  const { catalog, config } = deps;

  router.post('/models/:name/versions', async (req, res) => {
    const model = assertModelName(req.params.name!);
    if (deps.draining?.value) throw new MllError('SHUTTING_DOWN', 'The service is shutting down; retry the upload');
    const type = mediaType(req);
    const limits = intakeLimits(deps);
    let payload: ReceivedPayload;
    let metadata: UploadMetadata;
    if (type === 'multipart/form-data') {
      ({ payload, metadata } = await receiveMultipart(req, deps.store, limits));
    } else if (type === 'application/json') {
      ({ payload, metadata } = await payloadFromUpload(deps, req.body));
    } else if (tarTypes.has(type)) {
      metadata = metadataFromQuery(req.query as Record<string, unknown>);
      const length = req.headers['content-length'];
      payload = await receivePayload(req, deps.store, limits, { declaredSize: length === undefined ? undefined : Number(length) });
    } else {
      req.resume();
      throw new MllError('UNSUPPORTED_MEDIA_TYPE', `Content-Type "${type || '(none)'}" is not accepted: send application/x-tar, application/gzip (a .tar.gz), multipart/form-data with a "payload" part, or application/json referencing a presigned upload`);
    }
    const record = await releaseUpload(deps, model, payload, metadata);
    const shown = presentVersion(record, config.baseUrl);
    res.status(202).location(shown.url).json(shown);
  });

  router.get('/models/:name/versions', async (req, res) => {
    const model = assertModelName(req.params.name!);
    const limit = Math.min(Math.max(Number(req.query.limit ?? 50) || 50, 1), 500);
    const before = req.query.before === undefined ? undefined : parseVersionNumber(String(req.query.before));
    const page = await catalog.listVersions(model, { limit, before });
    res.json({
      items: page.items.map((r) => presentVersion(r, config.baseUrl)),
      total: page.total,
      next: page.nextBefore === null ? null : `${config.baseUrl}/api/v1/models/${model}/versions?limit=${limit}&before=${page.nextBefore}`,
    });
  });

  router.get('/models/:name/versions/:version', async (req, res) => {
    const record = await catalog.get(assertModelName(req.params.name!), parseVersionNumber(req.params.version!));
    res.json(presentVersion(record, config.baseUrl));
  });

  router.get('/models/:name/versions/:version/contract', async (req, res) => {
    const record = await catalog.get(assertModelName(req.params.name!), parseVersionNumber(req.params.version!));
    if (!record.contract || !record.contractDigest) {
      throw new MllError('CONTRACT_NOT_READY', record.status === 'failed'
        ? `Version ${record.version} failed before it had a contract: ${record.error?.message ?? ''}`
        : `Version ${record.version} has no contract yet (status ${record.status}); try again when it is past extracting`);
    }
    if (req.accepts(['application/json', 'application/x-protobuf']) === 'application/x-protobuf') {
      const bytes = await deps.store.get(keys.blob(record.contractDigest));
      res.type('application/x-protobuf').setHeader('ETag', `"${record.contractDigest}"`);
      bytes.pipe(res);
      return;
    }
    res.json({ model: record.model, version: record.version, digest: record.contractDigest, ...record.contract });
  });

  return router;
}
