import { Router } from 'express';
import { z } from 'zod';
import { keys } from '../../domain/keys.js';
import { assertModelName, parseVersionNumber } from '../../domain/model-name.js';
import type { VersionRecord } from '../../domain/version.js';
import { MllError } from '../../errors.js';
import type { Intake } from '../../intake/intake.js';
import { parseUploadMetadata } from '../../intake/metadata.js';
import type { ApiDeps } from '../deps.js';
import { idempotencyKeyOf, keepIdempotentAnswer, keepIdempotentIntent } from '../idempotency.js';
import { mediaType } from '../media-type.js';
import { metadataFromQuery } from '../metadata.js';
import { receiveMultipart } from '../multipart.js';
import { presentVersion } from '../present.js';
import type { VersionContractBody } from '../schemas/contract.js';
import { versionFromUpload, type VersionBody, type VersionListBody } from '../schemas/versions.js';

const tarTypes = new Set(['application/x-tar', 'application/tar', 'application/gzip', 'application/x-gzip', 'application/tar+gzip', 'application/octet-stream']);

// The documented body; its metadata is checked apart, by parseUploadMetadata, to answer INVALID_METADATA.
const fromUpload = versionFromUpload.extend({ metadata: z.unknown().optional() });

export function versionsRouter(deps: ApiDeps, intake: Intake): Router {
  const router = Router();
  const { catalog, config } = deps;

  router.post('/models/:name/versions', async (req, res) => {
    const model = assertModelName(req.params.name!);
    intake.assertAccepting('upload');
    const type = mediaType(req);
    // The answer is kept with the version's number before its record is written (a retry after this
    // process stopped replays it if the record exists, and runs again if not), and kept for good once
    // the version is recorded.
    let shown: VersionBody | undefined;
    const onNumbered = async (numbered: VersionRecord) => {
      shown = presentVersion(numbered, config.baseUrl);
      await keepIdempotentIntent(res, 202, shown, shown.url, { kind: 'version', model: numbered.model, version: numbered.version, payloadKey: numbered.payload.key });
    };
    const onRecorded = async (created: VersionRecord) => {
      shown = presentVersion(created, config.baseUrl);
      await keepIdempotentAnswer(res, 202, shown, shown.url);
    };
    let record;
    if (type === 'multipart/form-data') {
      const { payload, metadata } = await receiveMultipart(req, intake);
      record = await intake.createVersion(model, payload, { metadata }, { onNumbered, onRecorded });
    } else if (type === 'application/json') {
      // A version from a presigned upload: {"upload": "<id>", "metadata": {...}}.
      const parsed = fromUpload.safeParse(req.body);
      if (!parsed.success) {
        throw new MllError('BAD_REQUEST', 'A JSON body must be {"upload": "<upload id from POST /api/v1/uploads>", "metadata": {...}}');
      }
      const metadata = parseUploadMetadata(parsed.data.metadata ?? {}, 'metadata');
      record = await intake.createVersion(model, await intake.fromUpload(parsed.data.upload, idempotencyKeyOf(res)), { metadata }, { onNumbered, onRecorded });
    } else if (tarTypes.has(type)) {
      const metadata = metadataFromQuery(req.query as Record<string, unknown>);
      const length = req.headers['content-length'];
      record = await intake.streamVersion(model, req, { metadata }, { declaredSize: length === undefined ? undefined : Number(length), onNumbered, onRecorded });
    } else {
      req.resume();
      throw new MllError('UNSUPPORTED_MEDIA_TYPE', `Content-Type "${type || '(none)'}" is not accepted: send application/x-tar, application/gzip (a .tar.gz), multipart/form-data with a "payload" part, or application/json referencing a presigned upload`);
    }
    // The answer kept when the version was recorded (createVersion returns that same record).
    shown ??= presentVersion(record, config.baseUrl);
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
    } satisfies VersionListBody);
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
    res.json({ model: record.model, version: record.version, digest: record.contractDigest, ...record.contract } satisfies VersionContractBody);
  });

  return router;
}
