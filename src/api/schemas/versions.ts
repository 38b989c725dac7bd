import { z } from 'zod';
import { stages, versionStatuses } from '../../domain/version.js';
import { uploadMetadataSchema } from '../../intake/metadata.js';
import { contract } from './contract.js';
import { errorBody, timestamp } from './common.js';
import { requestBody, responseBody } from './registry.js';

export const uploadMetadata = requestBody('UploadMetadata', uploadMetadataSchema, 'What a client may say about an upload besides its bytes');

/** POST /api/v1/models/{name}/versions with application/json: a version from a presigned upload. */
export const versionFromUpload = requestBody('VersionFromUpload', z.strictObject({
  upload: z.string().describe('id from POST /api/v1/uploads'),
  metadata: uploadMetadata.optional(),
}));

export const versionStatus = z.enum(versionStatuses);
const stage = z.enum(stages);
const digest = z.string().regex(/^sha256:[0-9a-f]{64}$/);

const payloadInfo = z.object({
  key: z.string().describe('Object-store key of the uploaded archive'),
  digest,
  size: z.number().int(),
  format: z.enum(['tar', 'tar+gzip']),
  files: z.number().int().optional(),
  unpackedSize: z.number().int().optional(),
});

const imageDependencies = z.object({
  source: z.string(),
  python: z.object({ version: z.string(), platform: z.string(), from: z.string() }),
  packages: z.array(z.object({ name: z.string(), version: z.string(), file: z.string(), wheelDigest: z.string().nullable() })),
  layer: z.object({ digest: z.string(), size: z.number().int(), installedBytes: z.number().int(), files: z.number().int(), reused: z.boolean(), key: z.string() }).optional(),
}).describe('What was installed under /model/lib: source, target Python and platform, packages with their wheel digests, and (oci builder) the layer and whether it was reused');

const imageInfo = z.object({
  reference: z.string(),
  repository: z.string(),
  tag: z.string(),
  digest: z.string().nullable().describe('Manifest digest; set once the image is pushed'),
  base: z.object({ reference: z.string(), digest: z.string(), matched: z.string().optional() }).nullable(),
  modelOnly: z.boolean(),
  builder: z.string(),
  target: z.string(),
  dependencies: imageDependencies.nullable().optional(),
});

const contractDiff = z.object({
  against: z.number().int(),
  breaking: z.boolean(),
  changes: z.array(z.object({
    signature: z.string(),
    field: z.string().optional(),
    direction: z.enum(['input', 'output']).optional(),
    change: z.string(),
    before: z.unknown().optional(),
    after: z.unknown().optional(),
    breaking: z.boolean(),
  })),
});

const clientInputs = z.object({
  contract: contract.optional(),
  runtime: z.string().optional(),
  installCommand: z.string().optional(),
  origin: z.object({ protocol: z.string(), id: z.string().optional(), name: z.string().optional(), monitoringBatchSize: z.number().int().optional() }).optional(),
}).describe('What a foreign client (Hydrosphere) sent with the upload');

const versionLinks = z.object({ contract: z.string(), events: z.string(), model: z.string() });

export const version = responseBody('Version', z.object({
  schemaVersion: z.number().int().optional(),
  model: z.string(),
  version: z.number().int().min(1),
  status: versionStatus,
  createdAt: timestamp,
  updatedAt: timestamp,
  description: z.string().nullable(),
  labels: z.record(z.string(), z.string()),
  modelType: z.string().nullable(),
  payload: payloadInfo,
  stages: z.partialRecord(stage, z.object({ startedAt: timestamp.optional(), finishedAt: timestamp.optional(), attempts: z.number().int() })),
  contract: contract.nullable(),
  contractDigest: digest.nullable(),
  tree: z.object({ digest, files: z.number().int(), size: z.number().int() }).nullable(),
  image: imageInfo.nullable(),
  warnings: z.array(z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() })),
  error: errorBody.nullable(),
  diff: contractDiff.nullable(),
  batchId: z.string().nullable(),
  dependencies: z.object({ source: z.enum(['requirements.txt', 'install-command']), digest }).nullable().optional(),
  client: clientInputs.optional(),
  displayName: z.string().optional().describe('The model name as the user wrote it (a Hydrosphere name with upper case or dots), when it is not `model`'),
  outbox: z.array(z.object({ id: z.string(), type: z.enum(['version.released', 'version.failed']), at: timestamp })).optional()
    .describe('Terminal webhook events this version made'),
  url: z.string(),
  links: versionLinks,
}), 'A version: status, stage timestamps, contract, image, error, warnings');
export type VersionBody = z.output<typeof version>;

export const versionList = responseBody('VersionList', z.object({
  items: z.array(version),
  total: z.number().int(),
  next: z.string().nullable(),
}));
export type VersionListBody = z.output<typeof versionList>;

export const versionEvent = responseBody('VersionEvent', z.object({
  id: z.string(),
  type: z.enum(['created', 'status', 'log', 'warning']),
  at: timestamp,
  model: z.string(),
  version: z.number().int(),
  status: versionStatus.optional(),
  stage: stage.optional(),
  message: z.string().optional(),
  error: errorBody.nullable().optional(),
}));

export const versionEvents = responseBody('VersionEvents', z.object({
  items: z.array(versionEvent),
  status: versionStatus,
  terminal: z.boolean(),
  last: z.string().nullable(),
}));
export type VersionEventsBody = z.output<typeof versionEvents>;
