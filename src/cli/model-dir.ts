import fs from 'node:fs/promises';
import path from 'node:path';
import { CORE_SCHEMA, load } from 'js-yaml';
import { MAX_SERVING_YAML_BYTES, SERVING_YAML_NAMES } from '../contract/serving-yaml.js';
import { modelNamePattern } from '../domain/model-name.js';
import { CliError, usageError } from './errors.js';

/**
 * What the CLI needs to know about a model folder before sending it: its name (serving.yaml's
 * `name`, else --name, else the folder's name), and the upload metadata from the flags. The
 * server validates serving.yaml fully; here it is only read for the name, leniently, so that a
 * broken file still uploads and fails with the server's precise reasons.
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
}

/** serving.yaml's `name`, when the folder has a readable one. */
export async function servingYamlName(dir: string): Promise<{ file: string; name: string } | null> {
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
      const doc = load(text, { schema: CORE_SCHEMA, json: true }) as unknown;
      const name = (doc as { name?: unknown } | null)?.name;
      if (typeof name === 'string' && name !== '') return { file, name };
    } catch {
      /* the server reports what is wrong with it */
    }
    return null;
  }
  return null;
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
  const fromYaml = st.isDirectory() ? await servingYamlName(abs) : null;
  if (flagName !== undefined && !modelNamePattern.test(flagName)) {
    throw usageError(`--name "${flagName}" is not a valid model name: ${nameRule}`);
  }
  if (fromYaml) {
    if (!modelNamePattern.test(fromYaml.name)) {
      throw new CliError('INVALID_MODEL_NAME', `${path.join(target, fromYaml.file)} names the model "${fromYaml.name}", which is not a valid model name: ${nameRule}`);
    }
    if (flagName !== undefined && flagName !== fromYaml.name) {
      throw usageError(`${path.join(target, fromYaml.file)} names the model "${fromYaml.name}" but --name says "${flagName}": drop --name or change the file`);
    }
    return { path: abs, name: fromYaml.name, nameFrom: 'serving.yaml' };
  }
  if (flagName !== undefined) return { path: abs, name: flagName, nameFrom: '--name' };
  const base = st.isFile() ? path.basename(abs).replace(/\.[A-Za-z0-9]+$/, '') : path.basename(abs);
  if (!modelNamePattern.test(base)) {
    throw usageError(`the folder name "${base}" is not a valid model name (${nameRule}); name the model with --name ${suggestName(base)} or a serving.yaml`);
  }
  return { path: abs, name: base, nameFrom: 'folder name' };
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

/** Sum of the regular files' sizes under a folder (or a file's size): the upload's progress total. */
export async function payloadBytes(target: string): Promise<{ bytes: number; files: number }> {
  const st = await fs.lstat(target);
  if (!st.isDirectory()) return { bytes: st.isFile() ? st.size : 0, files: st.isFile() ? 1 : 0 };
  let bytes = 0;
  let files = 0;
  for (const entry of await fs.readdir(target, { withFileTypes: true })) {
    const sub = path.join(target, entry.name);
    if (entry.isDirectory()) {
      const inner = await payloadBytes(sub);
      bytes += inner.bytes;
      files += inner.files;
    } else if (entry.isFile()) {
      bytes += (await fs.lstat(sub)).size;
      files += 1;
    }
  }
  return { bytes, files };
}
