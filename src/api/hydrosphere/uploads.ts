import type { Request } from 'express';
import {
  contractFromV1Binary, contractFromV2Json, contractFromV3Signature, installCommandToRequirements, labelsFromMetadata,
  modelTypeFromRuntime, runtimeReferenceFromV2,
} from '../../contract/hydrosphere/index.js';
import { UNKNOWN_VERSION } from '../../contract/frameworks/common.js';
import { Report } from '../../contract/report.js';
import { modelNameFromHydrosphere } from '../../domain/model-name.js';
import type { ClientInputs, VersionRecord, Warning } from '../../domain/version.js';
import { MllError } from '../../errors.js';
import type { HydrosphereIds } from '../../hydrosphere/ids.js';
import type { Intake } from '../../intake/intake.js';
import type { UploadMetadata } from '../../intake/metadata.js';
import type { Logger } from '../../log.js';
import { mediaType } from '../media-type.js';
import { receiveForm, type FormSpec } from '../form.js';

/**
 * Hydrosphere's upload requests translated into a request to our intake (HYDROSPHERE.md): the
 * multipart form is read (the archive streams into the store meanwhile), what the client sent
 * becomes the version's metadata and client inputs, and the version gets its Hydrosphere id
 * before it exists, so its record names it.
 */
export interface TranslatedUpload {
  /** The Hydrosphere name as sent; our model name is derived from it. */
  name: string;
  metadata: UploadMetadata;
  client: Omit<ClientInputs, 'origin'>;
  monitoringBatchSize?: number;
  warnings: Warning[];
}

const modelTypePattern = /^[a-z][a-z0-9_.-]*:[A-Za-z0-9_.+-]+$/;
const KiB = 1024;
const MiB = 1024 * KiB;

function invalid(message: string, details?: unknown): MllError {
  return new MllError('INVALID_METADATA', message, details === undefined ? {} : { details });
}

const text = (bytes: Buffer | undefined) => (bytes === undefined ? undefined : bytes.toString('utf8'));

/**
 * A Hydrosphere model-type (`python:3.6`, `unknown:ssd_demo`) as ours. A bare framework
 * (`tensorflow`, `python`) is that framework with its version still unknown: `tensorflow:unknown`,
 * which takes the version the model files tell (inspectModel), and otherwise stays as it is.
 */
function modelTypeOf(sent: string | undefined, where: string): string | undefined {
  if (sent === undefined || sent.trim() === '') return undefined;
  // The framework in any case (`Tensorflow:1.15`); the version as written.
  const colon = sent.indexOf(':');
  const raw = colon < 0 ? sent.trim().toLowerCase() : `${sent.slice(0, colon).trim().toLowerCase()}:${sent.slice(colon + 1).trim()}`;
  if (modelTypePattern.test(raw)) return raw;
  if (/^[a-z][a-z0-9_.-]*$/.test(raw)) return `${raw}:${UNKNOWN_VERSION}`;
  throw invalid(`${where} "${sent}" is not a model type: write framework:version, e.g. python:3.6 or tensorflow:1.15`);
}

function assertName(name: string | undefined, where: string): string {
  if (name === undefined || name.trim() === '') throw invalid(`The ${where} is missing: it names the model (the hs CLI sends the folder's or serving.yaml's name)`);
  modelNameFromHydrosphere(name);
  return name;
}

/** v1 (`hs upload`, 2018): text parts model_name, model_type, model_description, model_contract. */
export function translateV1(fields: Map<string, Buffer>): TranslatedUpload {
  const name = assertName(text(fields.get('model_name')), 'model_name part');
  const description = text(fields.get('model_description'));
  if (description !== undefined && description.length > 4096) throw invalid('The model_description part is longer than 4096 characters');
  const contractBytes = fields.get('model_contract');
  const sent = contractBytes ? contractFromV1Binary(contractBytes) : null;
  const modelType = modelTypeOf(text(fields.get('model_type')), 'The model_type part');
  return {
    name,
    metadata: { ...(modelType ? { 'model-type': modelType } : {}), ...(description ? { description } : {}) },
    client: sent ? { contract: sent.contract } : {},
    warnings: [],
  };
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The keys v2 and v3 clients send (hs CLI 2.x writes monitoring_configuration in snake case). */
const knownV2Keys = new Set(['name', 'runtime', 'contract', 'modelSignature', 'installCommand', 'metadata', 'monitoringConfiguration', 'monitoring_configuration']);

function batchSizeOf(meta: Json): number | undefined {
  const camel = meta.monitoringConfiguration;
  const snake = meta.monitoring_configuration;
  const raw = isObject(camel) ? camel.batchSize : isObject(snake) ? snake.batch_size : undefined;
  if (raw === undefined || raw === null) return undefined;
  if (!Number.isSafeInteger(raw) || (raw as number) < 1) throw invalid(`metadata.monitoringConfiguration.batchSize must be a positive integer, found ${JSON.stringify(raw)}`);
  return raw as number;
}

/** v2/v3 (hs 2.x/3.x, hydrosdk 2.x/3.x): the `metadata` JSON part. */
export function translateV2(fields: Map<string, Buffer>): TranslatedUpload {
  const raw = text(fields.get('metadata'));
  if (raw === undefined) throw invalid('The multipart request has no "metadata" part: send the model\'s name, runtime and contract as JSON in a part named "metadata"');
  let meta: unknown;
  try {
    meta = JSON.parse(raw);
  } catch (err) {
    throw invalid(`The metadata part is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(meta)) throw invalid('The metadata part must be a JSON object {name, runtime, contract | modelSignature, installCommand, metadata}');
  const name = assertName(typeof meta.name === 'string' ? meta.name : undefined, 'metadata part\'s "name"');
  const warnings: Warning[] = [];
  const unknown = Object.keys(meta).filter((k) => !knownV2Keys.has(k));
  if (unknown.length > 0) warnings.push({ code: 'METADATA_IGNORED', message: `The upload metadata's ${unknown.map((k) => `"${k}"`).join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not used by ML Lambda`, details: { keys: unknown } });

  const client: Omit<ClientInputs, 'origin'> = {};
  const signature = meta.modelSignature ?? null;
  const contract = meta.contract ?? null;
  if (signature !== null || contract !== null) {
    const sent = signature !== null ? contractFromV3Signature(signature) : contractFromV2Json(contract);
    client.contract = sent.contract;
    warnings.push(...sent.warnings);
  }

  let modelType: string | undefined;
  if (meta.runtime !== undefined && meta.runtime !== null) {
    const reference = runtimeReferenceFromV2(meta.runtime);
    if (!reference) throw invalid(`metadata.runtime must be {"name": "<image>", "tag": "<tag>"} naming an image, found ${JSON.stringify(meta.runtime).slice(0, 200)}`);
    client.runtime = reference;
    modelType = modelTypeFromRuntime(reference) ?? undefined;
  }

  const installCommand = meta.installCommand;
  if (installCommand !== undefined && installCommand !== null && installCommand !== '') {
    if (typeof installCommand !== 'string') throw invalid('metadata.installCommand must be a text (a shell command)');
    const translated = installCommandToRequirements(installCommand);
    if (!translated.ok) throw invalid(`metadata.installCommand cannot be used: ${translated.reason} (at "${translated.part}")`, { part: translated.part });
    client.installCommand = installCommand;
  }

  let labels: Record<string, string> = {};
  if (meta.metadata !== undefined && meta.metadata !== null) {
    if (!isObject(meta.metadata)) throw invalid('metadata.metadata must be an object of texts (it becomes the version\'s labels)');
    const report = new Report('metadata part');
    labels = labelsFromMetadata(Object.entries(meta.metadata), report, 'metadata');
    if (report.issues.length > 0) {
      throw invalid(`metadata.metadata cannot be the version's labels: ${report.issues.map((i) => `${i.path}: expected ${i.expected}, found ${i.found}`).join('; ')}`, report.issues);
    }
  }
  const monitoringBatchSize = batchSizeOf(meta);
  return {
    name,
    metadata: { ...(modelType && modelTypePattern.test(modelType) ? { 'model-type': modelType } : {}), ...(Object.keys(labels).length > 0 ? { labels } : {}) },
    client,
    ...(monitoringBatchSize !== undefined ? { monitoringBatchSize } : {}),
    warnings,
  };
}

export interface UploadDeps {
  intake: Intake;
  ids: HydrosphereIds;
  logger: Logger;
}

/**
 * Reads a Hydrosphere upload request and makes it a version: the form first (the archive streams
 * into the store; a bad part removes it again), then the id, then the version through the intake.
 */
export async function receiveHydrosphereUpload(
  req: Request,
  deps: UploadDeps,
  protocol: 'hydrosphere-v1' | 'hydrosphere-v2',
): Promise<{ record: VersionRecord; id: number; name: string }> {
  const { intake, ids, logger } = deps;
  intake.assertAccepting('upload');
  if (mediaType(req) !== 'multipart/form-data') {
    req.resume();
    throw new MllError('UNSUPPORTED_MEDIA_TYPE', `Content-Type "${mediaType(req) || '(none)'}" is not accepted: this route takes multipart/form-data as Hydrosphere's clients send it`);
  }
  const spec: FormSpec = protocol === 'hydrosphere-v1'
    ? { fields: { model_name: KiB, model_type: KiB, model_description: 16 * KiB, model_contract: 8 * MiB }, payload: 'payload' }
    : { fields: { metadata: 8 * MiB }, payload: 'payload' };
  const { payload, fields } = await receiveForm(req, intake, spec);
  let translated: TranslatedUpload;
  let model: string;
  let id: number;
  try {
    translated = protocol === 'hydrosphere-v1' ? translateV1(fields) : translateV2(fields);
    model = modelNameFromHydrosphere(translated.name);
    id = await ids.allocateForUpload(model);
  } catch (err) {
    await intake.discard(payload);
    throw err;
  }
  let record: VersionRecord;
  try {
    record = await intake.createVersion(model, payload, {
      metadata: translated.metadata,
      client: {
        ...translated.client,
        origin: { protocol, id: String(id), name: translated.name, ...(translated.monitoringBatchSize !== undefined ? { monitoringBatchSize: translated.monitoringBatchSize } : {}) },
      },
      displayName: translated.name,
      warnings: translated.warnings,
    });
  } catch (err) {
    await ids.release(id).catch(() => undefined);
    throw err;
  }
  // The record names the id; if this binding fails, the first lookup of the version binds it.
  await ids.bindVersion(id, { model, version: record.version }).catch((err: unknown) => logger.warn({ err, model, version: record.version, id }, 'could not record a Hydrosphere id yet'));
  return { record, id, name: translated.name };
}
