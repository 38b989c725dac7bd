import type { VersionRecord, VersionStatus } from '../../domain/version.js';
import type { HydrosphereModel } from '../../hydrosphere/ids.js';
import { toV1Contract, toV2Contract, toV3Signature } from '../../contract/hydrosphere/index.js';
import type { Contract } from '../../contract/types.js';
import type { HydrosphereModelBuildBody, HydrosphereModelVersionBody } from '../schemas/hydrosphere.js';

/**
 * ML Lambda versions as Hydrosphere's clients read them: the 2018 ModelBuild (v1) and the
 * ModelVersion of hydro-serving 2.x/3.x (one shape serves both: `modelContract` for 2.x clients,
 * `modelSignature` for 3.x). Every field a client requires is always present with its type.
 */
export interface HydrosphereVersion {
  /** The version's Hydrosphere id (also its v1 build id). */
  id: number;
  model: HydrosphereModel;
  record: VersionRecord;
}

/** What the client sent that only Hydrosphere's answers show again. */
export interface HydrosphereInputs {
  runtime: string | null;
  installCommand: string | null;
  batchSize: number;
}

/** Hydrosphere's default monitoring batch size. */
export const defaultBatchSize = 100;

const noContract: Contract = { framework: '', signatures: [] };
/** A signature with no fields: what the clients read while the contract is not known (they fail on a missing one). */
const emptySignature = { signatureName: '', inputs: [], outputs: [] };

/** The contract to show: the version's, else the one the client sent, else none yet. */
function contractOf(record: VersionRecord): Contract {
  return record.contract ?? record.client?.contract ?? noContract;
}

export function v1ModelContract(modelName: string, record: VersionRecord) {
  return toV1Contract(modelName, contractOf(record));
}

export function v2ModelContract(modelName: string, record: VersionRecord) {
  const shown = toV2Contract(modelName, contractOf(record));
  return { ...shown, predict: shown.predict ?? emptySignature };
}

export function v3ModelSignature(record: VersionRecord) {
  return toV3Signature(contractOf(record)) ?? emptySignature;
}

export function hydrosphereInputs(record: VersionRecord): HydrosphereInputs {
  const client = record.client;
  const batchSize = client?.origin?.monitoringBatchSize;
  return {
    runtime: client?.runtime ?? null,
    installCommand: client?.installCommand ?? null,
    batchSize: typeof batchSize === 'number' ? batchSize : defaultBatchSize,
  };
}

export type V1Status = 'Pending' | 'Running' | 'Failed' | 'Finished';
export type V2Status = 'Assembling' | 'Released' | 'Failed';

export function v1Status(status: VersionStatus): V1Status {
  if (status === 'queued') return 'Pending';
  if (status === 'released') return 'Finished';
  if (status === 'failed') return 'Failed';
  return 'Running';
}

export function v2Status(status: VersionStatus): V2Status {
  if (status === 'released') return 'Released';
  if (status === 'failed') return 'Failed';
  return 'Assembling';
}

function finishedAt(record: VersionRecord): string | null {
  if (record.status === 'released') return record.stages.push?.finishedAt ?? record.updatedAt;
  if (record.status === 'failed') return record.updatedAt;
  return null;
}

/** `name:tag` (a digest after `@` dropped) as Hydrosphere's DockerImage. */
export function dockerImage(reference: string): { name: string; tag: string } {
  const withoutDigest = reference.split('@')[0]!;
  const colon = withoutDigest.lastIndexOf(':');
  if (colon > withoutDigest.lastIndexOf('/')) return { name: withoutDigest.slice(0, colon), tag: withoutDigest.slice(colon + 1) };
  return { name: withoutDigest, tag: 'latest' };
}

const hex = (digest: string | null | undefined) => (digest ? digest.replace(/^sha256:/, '') : null);

/** The runtime the version runs on: what the client asked for, else the base its image was built on. */
function runtimeOf(record: VersionRecord, inputs: HydrosphereInputs): { name: string; tag: string; sha256?: string } {
  if (inputs.runtime) return dockerImage(inputs.runtime);
  const base = record.image?.base;
  if (base) return { ...dockerImage(base.reference), sha256: hex(base.digest)! };
  // A model-only image has no runtime; clients still require a name and a tag.
  return { name: '', tag: '' };
}

/**
 * The version's image as a DockerImage, always an object as Hydrosphere's answers have it: before
 * the build, the repository and tag the build gives it (the model's name, the version number);
 * `sha256` stays null until the image is pushed.
 */
function imageOf(record: VersionRecord): { name: string; tag: string; sha256: string | null } {
  if (!record.image) return { name: record.model, tag: String(record.version), sha256: null };
  return { name: record.image.repository, tag: record.image.tag, sha256: hex(record.image.digest) };
}

/** hydro-serving 2.x/3.x ModelVersion. */
export function presentModelVersion(view: HydrosphereVersion): HydrosphereModelVersionBody {
  const { record, model } = view;
  const inputs = hydrosphereInputs(record);
  return {
    id: view.id,
    model: { id: model.id, name: model.name },
    modelVersion: record.version,
    status: v2Status(record.status),
    created: record.createdAt,
    finished: finishedAt(record),
    runtime: runtimeOf(record, inputs),
    image: imageOf(record),
    modelContract: v2ModelContract(model.name, record),
    modelSignature: v3ModelSignature(record),
    installCommand: inputs.installCommand,
    metadata: record.labels,
    monitoringConfiguration: { batchSize: inputs.batchSize },
    applications: [] as string[],
    isExternal: false,
  };
}

/** The 2018 ModelBuild; `modelVersion` stays null until the build finished. */
export function presentModelBuild(view: HydrosphereVersion, logsUrl: string): HydrosphereModelBuildBody {
  const { record, model } = view;
  const modelType = record.modelType ?? 'unknown:unknown';
  const modelContract = v1ModelContract(model.name, record);
  const modelJson = {
    id: model.id,
    name: model.name,
    modelType,
    description: record.description,
    modelContract,
    created: record.createdAt,
    updated: record.updatedAt,
  };
  const finished = finishedAt(record);
  return {
    id: view.id,
    model: modelJson,
    version: record.version,
    started: record.createdAt,
    finished,
    status: v1Status(record.status),
    statusText: record.error?.message ?? null,
    logsUrl,
    modelVersion: record.status === 'released' ? {
      id: view.id,
      imageName: record.image?.repository ?? '',
      imageTag: record.image?.tag ?? '',
      imageSHA256: hex(record.image?.digest) ?? '',
      created: finished,
      modelName: model.name,
      modelVersion: record.version,
      modelType,
      model: modelJson,
      modelContract,
    } : null,
    script: '',
  };
}
