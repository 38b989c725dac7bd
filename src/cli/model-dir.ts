import fs from 'node:fs/promises';
import path from 'node:path';
import { CORE_SCHEMA, load, realMapTag } from 'js-yaml';
import { resolvePayload } from '../contract/payload.js';
import { detectDialect, MAX_SERVING_YAML_BYTES, parseServingYaml, SERVING_YAML_NAMES, type ServingYamlDialect } from '../contract/serving-yaml.js';
import { hydrosphereNamePattern, modelNameFromHydrosphere, modelNamePattern } from '../domain/model-name.js';
import { listTree } from '../archive/pack-dir.js';
import { CliError, usageError } from './errors.js';

/**
 * What the CLI needs to know about a model folder before sending it: its name (serving.yaml's
 * `name` — a Hydrosphere name with upper case or dots is mapped as the server maps it — else
 * --name, else the folder's name), which serving.yaml dialect it is written in, what to pack
 * (only serving.yaml, its contract file and what its payload selects, as Hydrosphere's clients
 * sent; everything when it has no payload or cannot be read here), and the upload metadata from
 * the flags. The server validates serving.yaml fully; here it is read leniently, so that a broken
 * file still uploads and fails with the server's precise reasons.
 */

export interface UploadMetadata {
  'model-type'?: string;
  labels?: Record<string, string>;
  description?: string;
}

export interface ModelSource {
  /** Absolute path of the folder (or single file) to pack. */
  path: string;
  name: string;
  /** Where the name came from, for messages. */
  nameFrom: 'serving.yaml' | '--name' | 'folder name';
  /** serving.yaml's name as written, when it is a Hydrosphere name mapped to `name`. */
  displayName?: string;
  /** The serving.yaml dialect, when the folder has a serving.yaml the CLI can read. */
  dialect?: ServingYamlDialect;
  /** What to pack (relative paths, folders end with '/'); null: the whole folder. */
  include: string[] | null;
}

export interface FolderServingYaml {
  file: string;
  /** The name as written. */
  name: string;
  dialect: ServingYamlDialect | null;
  include: string[] | null;
}

/**
 * What is sent for a folder whose serving.yaml lists a payload: serving.yaml, its contract file
 * and the payload's files; null (send everything) when the payload cannot be resolved here.
 */
async function payloadSelection(dir: string, file: string, text: string): Promise<{ dialect: ServingYamlDialect; include: string[] | null } | null> {
  let parsed;
  try {
    parsed = parseServingYaml(text, file);
  } catch {
    return null;
  }
  const { doc } = parsed;
  if (!doc.payloadDeclared) return { dialect: doc.dialect, include: null };
  const resolved = await resolvePayload(dir, doc.payloadEntries);
  if (resolved.missing.length > 0 || resolved.problems.length > 0) return { dialect: doc.dialect, include: null };
  const include = [file, ...(doc.contractFile ? [doc.contractFile] : []), ...resolved.placements.map((p) => p.source)];
  return { dialect: doc.dialect, include: [...new Set(include)] };
}

/** serving.yaml's `name` (`model.name` in 2018a files), dialect and payload, when the folder has a readable one. */
export async function readFolderServingYaml(dir: string): Promise<FolderServingYaml | null> {
  for (const file of SERVING_YAML_NAMES) {
    let text: string;
    try {
      const handle = await fs.open(path.join(dir, file), 'r');
      try {
        const buf = Buffer.alloc(MAX_SERVING_YAML_BYTES);
        const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
        text = buf.subarray(0, bytesRead).toString('utf8');
      } finally {
        await handle.close();
      }
    } catch {
      continue;
    }
    try {
      const doc = load(text, { schema: CORE_SCHEMA.withTags(realMapTag), json: true }) as unknown;
      if (!(doc instanceof Map)) return null;
      const dialect = detectDialect(doc);
      const holder = dialect === '2018a' ? (doc.get('model') as Map<unknown, unknown>) : doc;
      const name = holder.get('name');
      if (typeof name !== 'string' || name === '') return null;
      const selection = await payloadSelection(dir, file, text);
      return { file, name, dialect: selection?.dialect ?? dialect, include: selection?.include ?? null };
    } catch {
      /* the server reports what is wrong with it */
    }
    return null;
  }
  return null;
}

/** serving.yaml's `name`, when the folder has a readable one. */
export async function servingYamlName(dir: string): Promise<{ file: string; name: string } | null> {
  const found = await readFolderServingYaml(dir);
  return found && { file: found.file, name: found.name };
}

const nameRule = 'use 1-63 characters of a-z, 0-9, "_" and "-", starting with a letter or digit';

/** A name the folder's own name suggests ("My Model" -> "my-model"). */
export function suggestName(base: string): string {
  return base.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^[-_]+/, '').replace(/-+$/, '').slice(0, 63) || 'my-model';
}

export async function resolveModel(target: string, flagName: string | undefined): Promise<ModelSource> {
  const abs = path.resolve(target);
  const st = await fs.stat(abs).catch(() => null);
  if (!st) throw usageError(`${target}: no such folder or file`);
  if (!st.isDirectory() && !st.isFile()) throw usageError(`${target} is neither a folder nor a file`);
  const fromYaml = st.isDirectory() ? await readFolderServingYaml(abs) : null;
  if (flagName !== undefined && !modelNamePattern.test(flagName)) {
    throw usageError(`--name "${flagName}" is not a valid model name: ${nameRule}`);
  }
  if (fromYaml) {
    const raw = fromYaml.name;
    if (!modelNamePattern.test(raw) && !hydrosphereNamePattern.test(raw)) {
      throw new CliError('INVALID_MODEL_NAME', `${path.join(target, fromYaml.file)} names the model "${raw}", which is not a valid model name: ${nameRule} (a Hydrosphere name with upper case or dots is mapped to one, but not one with spaces or "/")`);
    }
    const name = modelNameFromHydrosphere(raw);
    if (flagName !== undefined && flagName !== name) {
      throw usageError(`${path.join(target, fromYaml.file)} names the model "${raw}" but --name says "${flagName}": drop --name or change the file`);
    }
    const source: ModelSource = { path: abs, name, nameFrom: 'serving.yaml', include: fromYaml.include };
    if (name !== raw) source.displayName = raw;
    if (fromYaml.dialect) source.dialect = fromYaml.dialect;
    return source;
  }
  if (flagName !== undefined) return { path: abs, name: flagName, nameFrom: '--name', include: null };
  const base = st.isFile() ? path.basename(abs).replace(/\.[A-Za-z0-9]+$/, '') : path.basename(abs);
  if (!modelNamePattern.test(base)) {
    throw usageError(`the folder name "${base}" is not a valid model name (${nameRule}); name the model with --name ${suggestName(base)} or a serving.yaml`);
  }
  return { path: abs, name: base, nameFrom: 'folder name', include: null };
}

/** `--label k=v` flags as the labels object the API takes. */
export function parseLabels(pairs: string[]): Record<string, string> | undefined {
  if (pairs.length === 0) return undefined;
  const labels: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? '' : pair.slice(0, eq);
    if (!/^[A-Za-z0-9_./-]{1,63}$/.test(key)) {
      throw usageError(`--label "${pair}" must be key=value with a key of 1-63 characters of A-Z, a-z, 0-9, _ . / -`);
    }
    labels[key] = pair.slice(eq + 1);
  }
  return labels;
}

export function uploadMetadata(opts: { modelType?: string; description?: string; label?: string[] }): UploadMetadata {
  const metadata: UploadMetadata = {};
  if (opts.modelType !== undefined) {
    if (!/^[a-z][a-z0-9_.-]*:[A-Za-z0-9_.+-]+$/.test(opts.modelType)) {
      throw usageError(`--model-type "${opts.modelType}" must be framework:version, e.g. tensorflow:2.15 or python:3.11`);
    }
    metadata['model-type'] = opts.modelType;
  }
  if (opts.description !== undefined) metadata.description = opts.description;
  const labels = parseLabels(opts.label ?? []);
  if (labels) metadata.labels = labels;
  return metadata;
}

/** Upload metadata as the query of a raw tar upload (?model-type=&description=&labels={json}). */
export function metadataQuery(metadata: UploadMetadata): Record<string, string | undefined> {
  return {
    'model-type': metadata['model-type'],
    description: metadata.description,
    labels: metadata.labels ? JSON.stringify(metadata.labels) : undefined,
  };
}

/** Sum of the regular files' sizes under a folder (or a file's size), of `include`d ones only when given: the upload's progress total. */
export async function payloadBytes(target: string, include: readonly string[] | null = null): Promise<{ bytes: number; files: number }> {
  const st = await fs.lstat(target);
  if (!st.isDirectory()) return { bytes: st.isFile() ? st.size : 0, files: st.isFile() ? 1 : 0 };
  const entries = (await listTree(target, include)).filter((e) => e.type === 'file');
  return { bytes: entries.reduce((n, e) => n + e.size, 0), files: entries.length };
}
