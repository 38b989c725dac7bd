import type { ErrorBody } from '../errors.js';
import type { Contract } from '../contract/types.js';

export const versionStatuses = ['queued', 'extracting', 'building', 'pushing', 'released', 'failed'] as const;
export type VersionStatus = (typeof versionStatuses)[number];
export const terminalStatuses: ReadonlySet<VersionStatus> = new Set(['released', 'failed']);

export const stages = ['extract', 'build', 'push'] as const;
export type Stage = (typeof stages)[number];
/** The status a version has while a stage runs. */
export const stageStatus: Record<Stage, VersionStatus> = { extract: 'extracting', build: 'building', push: 'pushing' };

export interface StageTiming {
  startedAt?: string;
  finishedAt?: string;
  /** Attempts started so far (1 on the first run). */
  attempts: number;
}

export interface Warning {
  code: string;
  message: string;
  details?: unknown;
}

export interface PayloadInfo {
  /** Object-store key of the uploaded archive. */
  key: string;
  /** sha256:<hex> of the uploaded bytes. */
  digest: string;
  size: number;
  format: 'tar' | 'tar+gzip';
  /** Regular files and total unpacked bytes, when intake has seen the archive whole. */
  files?: number;
  unpackedSize?: number;
}

export interface TreeInfo {
  /** sha256:<hex> of the tree manifest (a blob in the store). */
  digest: string;
  files: number;
  size: number;
}

export interface ImageInfo {
  /** registry/name:tag, or oci-layout path:tag. */
  reference: string;
  repository: string;
  tag: string;
  /** Manifest digest; set once the image is pushed. */
  digest: string | null;
  /** The runtime base image, resolved to a digest, or null for a model-only image; `matched` is the MLL_RUNTIMES key (or `serving.yaml`) that chose it. */
  base: { reference: string; digest: string; matched?: string } | null;
  modelOnly: boolean;
  builder: string;
  target: string;
  /** What was installed under /model/lib (requirements.txt or a pip install-command), when anything was. */
  dependencies?: ImageDependencies | null;
}

export interface ImageDependencies {
  source: string;
  python: { version: string; platform: string; from: string };
  packages: { name: string; version: string; file: string; wheelDigest: string | null }[];
  /** The oci builder's layer: its digest and size, and whether it was reused (pip did not run). */
  layer?: { digest: string; size: number; installedBytes: number; files: number; reused: boolean; key: string };
}

/** Where a model's Python dependencies come from: a blob of requirements.txt syntax, installed under /model/lib. */
export interface DependencySource {
  source: 'requirements.txt' | 'install-command';
  /** sha256:<hex> of the requirements text (a blob in the store). */
  digest: string;
}

/**
 * What a client sent besides the payload and its metadata. Foreign protocols (Hydrosphere's
 * upload APIs) send a contract and more; ML Lambda's own API sends none of it.
 */
export interface ClientInputs {
  /** A contract sent with the upload: it wins over serving.yaml and inference (the version warns when they differ). */
  contract?: Contract;
  /** A runtime image the upload asked for (client metadata, or serving.yaml's `runtime:`); used only when the operator allows it. */
  runtime?: string;
  /** A Hydrosphere install-command. */
  installCommand?: string;
  /**
   * The protocol the upload came through, with its own id and name for the version, and what only
   * that protocol's answers show again (Hydrosphere's monitoring batch size).
   */
  origin?: { protocol: string; id?: string; name?: string; monitoringBatchSize?: number };
}

export interface FieldChange {
  signature: string;
  field?: string;
  direction?: 'input' | 'output';
  change: string;
  before?: unknown;
  after?: unknown;
  breaking: boolean;
}

export interface ContractDiff {
  /** The version compared against. */
  against: number;
  breaking: boolean;
  changes: FieldChange[];
}

/** The durable record of one version: `version.json` in the object store is the source of truth. */
export interface VersionRecord {
  /** The layout of this record (src/domain/version-record.ts); records from before it existed are 1. */
  schemaVersion?: number;
  model: string;
  version: number;
  status: VersionStatus;
  createdAt: string;
  updatedAt: string;
  description: string | null;
  labels: Record<string, string>;
  /** framework:version, once known (upload metadata, serving.yaml or the model files). */
  modelType: string | null;
  payload: PayloadInfo;
  stages: Partial<Record<Stage, StageTiming>>;
  contract: Contract | null;
  /** sha256:<hex> of contract.protobin. */
  contractDigest: string | null;
  tree: TreeInfo | null;
  image: ImageInfo | null;
  warnings: Warning[];
  error: ErrorBody | null;
  diff: ContractDiff | null;
  batchId: string | null;
  /** Set by extract: the requirements installed under /model/lib at build time. */
  dependencies?: DependencySource | null;
  /** What a foreign client sent with the upload (absent for uploads through ML Lambda's own API). */
  client?: ClientInputs;
  /** The model's name as the user wrote it (a Hydrosphere name with upper case or dots, see modelNameFromHydrosphere), when it is not `model`. */
  displayName?: string;
  /**
   * Terminal events this record made (version.released, version.failed), written in the same
   * compare-and-swap as the status: a crash cannot separate the two (src/webhooks/outbox.ts).
   */
  outbox?: OutboxEntry[];
}

export interface OutboxEntry {
  /** The webhook event id (the `webhook-id` receivers see). */
  id: string;
  type: 'version.released' | 'version.failed';
  at: string;
}

export type VersionEventType = 'created' | 'status' | 'log' | 'warning';

/** One entry of a version's event stream (served as SSE and as JSON). `id` orders events. */
export interface VersionEvent {
  id: string;
  type: VersionEventType;
  at: string;
  model: string;
  version: number;
  status?: VersionStatus;
  stage?: Stage;
  message?: string;
  error?: ErrorBody | null;
}
