import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { CORE_SCHEMA, load, realMapTag } from 'js-yaml';
import { hydrosphereNamePattern, modelNameFromHydrosphere, modelNamePattern } from '../domain/model-name.js';
import type { Warning } from '../domain/version.js';
import { MllError } from '../errors.js';
import { decodeContract } from './binary.js';
import { installCommandToRequirements } from './hydrosphere/install-command.js';
import { labelsFromMetadata } from './hydrosphere/labels.js';
import { contractFromPrototxt } from './hydrosphere/prototxt-contract.js';
import { isImageReference, modelTypeFromRuntime } from './hydrosphere/runtime-image.js';
import { parsePayloadEntry, resolvePayload, sourceOfTarget, type PayloadEntrySpec, type PayloadPlacement } from './payload.js';
import { topLevelFunctions } from './python-source.js';
import { Report, childPath, describe, type DocumentIssue } from './report.js';
import { canonicalKeys, Checker, contractFromYaml, isMap, isOneSignature } from './serving-yaml-contract.js';
import type { ContractSignature } from './types.js';

/**
 * serving.yaml: parsing (js-yaml, core schema only: no custom types, a size cap, an alias cap),
 * recognising which of Hydrosphere's dialects it is written in, and validation against
 * ../shared/CONTRACT.md and ../shared/HYDROSPHERE.md. Every broken rule becomes one issue naming
 * the file, the path in the document, what was expected and what was found; all issues of a file
 * are reported together. Unknown keys are warnings (issues with MLL_SERVING_YAML=strict).
 *
 * Dialects (README "Coming from Hydrosphere"):
 * - 2018a: `model: {name, type, contract: contract.prototxt, payload}`, contract in a protobuf text file;
 * - 2018b: `kind: Model`, `name`, `model-type`, `payload`, `contract: {<signature>: {inputs, outputs}}` —
 *   also ML Lambda's own format;
 * - 2019: `kind: Model`, `name`, `runtime`, `install-command`, `payload`, a contract by signature;
 * - 2019+: as 2019 with `metadata`, `monitoring`, and ONE signature `contract: {name?, inputs, outputs}`.
 */

export type ServingYamlDialect = '2018a' | '2018b' | '2019' | '2019+';

export const dialectDescriptions: Readonly<Record<ServingYamlDialect, string>> = {
  '2018a': 'Hydrosphere 2018a (a model: map; the contract in a protobuf text file)',
  '2018b': 'Hydrosphere 2018b, ML Lambda\'s own (kind: Model, model-type, a contract by signature)',
  '2019': 'Hydrosphere 2019 (runtime, install-command, a contract by signature)',
  '2019+': 'Hydrosphere 2019+ (one-signature contract)',
};

export interface ServingYamlDependencies {
  source: 'install-command';
  /** requirements.txt syntax, for the dependency layer. */
  text: string;
  /** The command as written. */
  command: string;
}

export interface ServingYaml {
  /** The file name as found at the upload root (serving.yaml or serving.yml). */
  file: string;
  dialect: ServingYamlDialect;
  /** The ML Lambda model name (a Hydrosphere name with upper case or dots is mapped, see modelNameFromHydrosphere). */
  name: string;
  /** The name as written in the file. */
  displayName: string;
  /** framework:version as the file declares it (model-type, 2018a's type, or the runtime image's name); null when it says nothing. */
  modelType: string | null;
  /**
   * The upload's files and folders that go into the image (folders end with '/'), globs expanded.
   * Without a `payload` key, every top-level entry of the upload.
   */
  payload: string[];
  /** Where each payload entry lands in the image (by its base name); null without a `payload` key (everything stays where it is). */
  placements: PayloadPlacement[] | null;
  /** Whether the document had a `payload` key at all. */
  payloadDeclared: boolean;
  /** The contract (signatures sorted by name), or null without one. */
  contract: ContractSignature[] | null;
  /** The separate contract file it was read from (2018a), relative to the upload root. */
  contractFile: string | null;
  /** Python requirements from `install-command`. */
  dependencies: ServingYamlDependencies | null;
  /** `runtime: image:tag`: the base image asked for (used only when the operator allows it). */
  requestedRuntime: string | null;
  /** `metadata: {…}` as labels. */
  labels: Record<string, string>;
  description: string | null;
  /** The text of the file. */
  raw: string;
}

export type YamlIssue = DocumentIssue;
export { describe };

export const SERVING_YAML_NAMES = ['serving.yaml', 'serving.yml'] as const;
export const MAX_SERVING_YAML_BYTES = 1024 * 1024;
const MAX_CONTRACT_FILE_BYTES = 1024 * 1024;
const MAX_ALIASES = 100;
export const modelTypePattern = /^[a-z][a-z0-9_.-]*:[A-Za-z0-9][A-Za-z0-9._+-]*$/;

const keys2018a = new Set(['model']);
const keys2018aModel = new Set(['name', 'type', 'contract', 'payload', 'description']);
const keys2018b = new Set(['kind', 'name', 'model-type', 'payload', 'contract', 'description', 'training-data']);
const keys2019 = new Set(['kind', 'name', 'model-type', 'runtime', 'install-command', 'payload', 'contract', 'description', 'training-data', 'metadata', 'monitoring', 'host-selector']);
const rootKeys: ReadonlySet<string> = new Set([...keys2018a, ...keys2018b, ...keys2019]);
/** Keys of the 2019 dialects that tell it from 2018b. */
const markers2019 = ['runtime', 'install-command', 'metadata', 'monitoring', 'host-selector'];
const notUsed: Readonly<Record<string, string>> = {
  'training-data': 'training data is not uploaded or profiled',
  monitoring: 'monitoring is not part of ML Lambda',
  'host-selector': 'deployment placement is not part of ML Lambda',
};

/** Which dialect a document is written in (see the module comment). */
export function detectDialect(doc: Map<unknown, unknown>): ServingYamlDialect {
  if (isMap(doc.get('model')) && !doc.has('kind')) return '2018a';
  const contract = doc.get('contract');
  if (isMap(contract) && isOneSignature(contract)) return '2019+';
  return markers2019.some((k) => doc.has(k)) ? '2019' : '2018b';
}

export interface ServingYamlOptions {
  /** Unknown keys fail instead of warning (MLL_SERVING_YAML=strict). */
  strict?: boolean;
  /**
   * The upload IS the payload, already assembled by a Hydrosphere client (each entry at the
   * root by its base name): serving.yaml's `payload`, written for the user's folder, is not applied
   * again; every file stays where the client put it.
   */
  payloadAssembled?: boolean;
}

export interface ParsedServingYaml {
  doc: Omit<ServingYaml, 'payload' | 'placements'> & { payloadEntries: PayloadEntrySpec[] };
  warnings: Warning[];
}

function yamlError(file: string, err: unknown): MllError {
  const first = err instanceof Error ? err.message.split('\n')[0]! : String(err);
  const reason = /tab characters/i.test(first) ? `${first}; indent with spaces (YAML does not allow tabs there)` : first;
  return new MllError('INVALID_SERVING_YAML', `${file} is not valid YAML: ${reason}`, {
    details: [{ file, path: '', expected: 'a YAML document (a mapping)', found: reason }],
  });
}

function nameOf(c: Checker, body: Map<unknown, unknown>, at: string): { name: string; displayName: string } | null {
  const raw = body.get('name');
  if (typeof raw === 'string' && (modelNamePattern.test(raw) || hydrosphereNamePattern.test(raw))) {
    return { name: modelNameFromHydrosphere(raw), displayName: raw };
  }
  c.issue(at, `a model name matching ${modelNamePattern.source}, or a Hydrosphere name (1-255 characters without spaces or "/") that is mapped to one`, describe(raw));
  return null;
}

function payloadOf(c: Checker, payload: unknown, at: string): PayloadEntrySpec[] {
  const entries: PayloadEntrySpec[] = [];
  if (!Array.isArray(payload) || payload.length === 0) {
    c.issue(at, 'a non-empty list of files and folders of the upload (leave payload out to send the whole folder)', describe(payload));
    return entries;
  }
  const seen = new Set<string>();
  payload.forEach((e: unknown, i) => {
    const where = `${at}[${i}]`;
    const parsed = typeof e === 'string' ? parsePayloadEntry(e) : 'a relative path inside the upload (no "..", not absolute)';
    if (typeof parsed === 'string') {
      c.issue(where, parsed, describe(e));
      return;
    }
    if (seen.has(parsed.entry)) return;
    seen.add(parsed.entry);
    entries.push({ path: where, raw: e as string, ...parsed });
  });
  return entries;
}

/** Parses and checks the document (everything that needs no file system). */
export function parseServingYaml(text: string, file = 'serving.yaml', options: ServingYamlOptions = {}): ParsedServingYaml {
  if (Buffer.byteLength(text) > MAX_SERVING_YAML_BYTES) {
    throw new MllError('INVALID_SERVING_YAML', `${file} is larger than ${MAX_SERVING_YAML_BYTES / 1024} KiB; a serving.yaml is a short description`, {
      details: [{ file, path: '', expected: `at most ${MAX_SERVING_YAML_BYTES} bytes`, found: `${Buffer.byteLength(text)} bytes` }],
    });
  }
  let loaded: unknown;
  try {
    loaded = load(text, { filename: file, schema: CORE_SCHEMA.withTags(realMapTag), maxAliases: MAX_ALIASES, maxDepth: 32 });
  } catch (err) {
    throw yamlError(file, err);
  }
  if (!isMap(loaded)) {
    throw new MllError('INVALID_SERVING_YAML', `${file} must be a mapping with kind, name, model-type, payload and contract`, {
      details: [{ file, path: '', expected: 'a mapping', found: describe(loaded) }],
    });
  }
  const c = new Checker(file, options.strict === true);
  // Keys in any case or with `_` for `-` (`Kind`, `model_type`) are the known keys.
  const doc = canonicalKeys(c, loaded, rootKeys, '');
  const dialect = detectDialect(doc);
  const is2018a = dialect === '2018a';
  let body: Map<unknown, unknown> = doc;
  let at = '';
  if (is2018a) {
    c.unknownKeys(doc, keys2018a, '');
    at = 'model';
    body = canonicalKeys(c, doc.get('model') as Map<unknown, unknown>, keys2018aModel, at);
    c.unknownKeys(body, keys2018aModel, at);
  } else {
    c.unknownKeys(doc, dialect === '2018b' ? keys2018b : keys2019, '');
    const kind = doc.get('kind');
    if (typeof kind !== 'string' || kind.trim().toLowerCase() !== 'model') c.issue('kind', '"Model"', describe(kind));
  }

  const names = nameOf(c, body, childPath(at, 'name'));
  const modelType = modelTypeOf(c, body, dialect, at);

  let payloadEntries: PayloadEntrySpec[] = [];
  const payload = body.get('payload');
  const payloadDeclared = payload !== undefined && payload !== null;
  if (payloadDeclared) payloadEntries = payloadOf(c, payload, childPath(at, 'payload'));

  let contract: ContractSignature[] | null = null;
  let contractFile: string | null = null;
  const cat = childPath(at, 'contract');
  const contractDoc = body.get('contract');
  if (typeof contractDoc === 'string') {
    const parsed = parsePayloadEntry(contractDoc);
    if (typeof parsed === 'string' || parsed.glob) c.issue(cat, 'the path of a contract file inside the upload (e.g. contract.prototxt)', describe(contractDoc));
    else contractFile = parsed.entry;
  } else if (contractDoc !== undefined && contractDoc !== null) {
    if (!isMap(contractDoc)) {
      c.issue(cat, 'a mapping of signature names to {inputs, outputs}, one signature {name, inputs, outputs}, or a contract file name', describe(contractDoc));
    } else {
      contract = contractFromYaml(c, contractDoc, cat, {
        float: dialect === '2019+' ? 'double' : 'float',
        shapeOptional: dialect !== '2018b',
        strict: options.strict === true,
      });
    }
  }

  const extras = is2018a ? { dependencies: null, requestedRuntime: null, labels: {} } : hydrosphereExtras(c, doc);
  const description = body.get('description');
  if (description !== undefined && description !== null && typeof description !== 'string') c.issue(childPath(at, 'description'), 'a text', describe(description));

  if (c.issues.length > 0) throw invalid(file, c.issues);
  return {
    doc: {
      file,
      dialect,
      name: names!.name,
      displayName: names!.displayName,
      modelType: modelType ?? (extras.requestedRuntime ? modelTypeFromRuntime(extras.requestedRuntime) : null),
      payloadEntries,
      payloadDeclared,
      contract,
      contractFile,
      ...extras,
      description: typeof description === 'string' ? description : null,
      raw: text,
    },
    warnings: c.warnings,
  };
}

function modelTypeOf(c: Checker, body: Map<unknown, unknown>, dialect: ServingYamlDialect, at: string): string | null {
  const key = dialect === '2018a' ? 'type' : 'model-type';
  const written = body.get(key);
  // The framework in any case (`Python:3.6`, `TensorFlow`); the version as written.
  const raw = typeof written === 'string' ? written.trim().replace(/^[^:]*/, (framework) => framework.toLowerCase()) : written;
  const where = childPath(at, key);
  const expected = '<framework>:<version>, e.g. "python:3.6" or "tensorflow:1.14.0"';
  if (raw === undefined || raw === null) {
    if (dialect === '2018b') c.issue(where, expected, describe(raw));
    return null;
  }
  if (typeof raw === 'string' && modelTypePattern.test(raw)) return raw;
  // 2018a wrote the framework alone ("tensorflow"); the files tell the version.
  if (dialect === '2018a' && typeof raw === 'string' && /^[a-z][a-z0-9_.-]*$/.test(raw)) return `${raw}:unknown`;
  c.issue(where, expected, describe(written));
  return null;
}

/** runtime, install-command, metadata, and the keys that are accepted but not used. */
function hydrosphereExtras(c: Checker, doc: Map<unknown, unknown>): Pick<ServingYaml, 'dependencies' | 'requestedRuntime' | 'labels'> {
  let requestedRuntime: string | null = null;
  const runtime = doc.get('runtime');
  if (runtime !== undefined && runtime !== null) {
    if (typeof runtime === 'string' && isImageReference(runtime.trim())) requestedRuntime = runtime.trim();
    else c.issue('runtime', 'an image reference, e.g. "hydrosphere/serving-runtime-python-3.6:2.1.0"', describe(runtime));
  }

  let dependencies: ServingYamlDependencies | null = null;
  const command = doc.get('install-command');
  if (command !== undefined && command !== null) {
    if (typeof command !== 'string') {
      c.issue('install-command', 'a pip install command, e.g. "pip install -r requirements.txt"', describe(command));
    } else if (command.trim() !== '') {
      const result = installCommandToRequirements(command);
      if (!result.ok) {
        c.issue('install-command', `pip install steps only (${result.reason})`, `${describe(command)}, which runs ${JSON.stringify(result.part)}`);
      } else {
        for (const note of result.notes) c.warn('INSTALL_COMMAND_TRANSLATED', `${c.file}: install-command: ${note}`, { file: c.file, path: 'install-command' });
        if (result.requirements !== '') dependencies = { source: 'install-command', text: result.requirements, command };
      }
    }
  }

  let labels: Record<string, string> = {};
  const metadata = doc.get('metadata');
  if (metadata !== undefined && metadata !== null) {
    if (isMap(metadata)) labels = labelsFromMetadata(metadata, c);
    else c.issue('metadata', 'a mapping of names to values (they become the version\'s labels)', describe(metadata));
  }

  for (const [key, why] of Object.entries(notUsed)) {
    if (doc.has(key)) c.warn('SERVING_YAML_NOT_USED', `${c.file}: ${key} is not used: ${why}`, { file: c.file, path: key });
  }
  return { dependencies, requestedRuntime, labels };
}

function invalid(file: string, issues: YamlIssue[]): MllError {
  const lines = issues.slice(0, 10).map((i) => `  ${i.file === file ? '' : `${i.file}: `}${i.path || '(document)'}: expected ${i.expected}, found ${i.found}`);
  const more = issues.length > 10 ? `\n  ... and ${issues.length - 10} more` : '';
  return new MllError('INVALID_SERVING_YAML', `${file} has ${issues.length} error${issues.length === 1 ? '' : 's'}:\n${lines.join('\n')}${more}`, {
    details: issues,
  });
}

async function readCapped(file: string, cap: number): Promise<Buffer | null> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch {
    return null;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return null;
    const buf = Buffer.alloc(Math.min(st.size, cap + 1));
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

async function readCappedText(file: string, cap: number): Promise<string | null> {
  const bytes = await readCapped(file, cap);
  return bytes === null ? null : new TextDecoder('utf-8').decode(bytes);
}

export interface LoadedServingYaml {
  yaml: ServingYaml;
  warnings: Warning[];
}

/** 2018a's separate contract: protobuf text format, or binary for .protobin/.pb (as the hs CLI read them). */
async function readContractFile(dir: string, doc: ParsedServingYaml['doc'], contractFile: string, strict: boolean, warnings: Warning[]): Promise<{ contract: ContractSignature[] | null; issues: YamlIssue[] }> {
  const yamlFile = doc.file;
  const where = doc.dialect === '2018a' ? 'model.contract' : 'contract';
  const bytes = await readCapped(path.join(dir, contractFile), MAX_CONTRACT_FILE_BYTES);
  if (bytes === null) {
    return { contract: null, issues: [{ file: yamlFile, path: where, expected: `the contract file ${contractFile} in the upload`, found: 'no such file' }] };
  }
  if (bytes.length > MAX_CONTRACT_FILE_BYTES) {
    return { contract: null, issues: [{ file: contractFile, path: '', expected: `at most ${MAX_CONTRACT_FILE_BYTES} bytes`, found: 'a larger file' }] };
  }
  if (/\.(protobin|pb)$/.test(contractFile)) {
    try {
      return { contract: decodeContract(bytes).contract.signatures, issues: [] };
    } catch (err) {
      return { contract: null, issues: [{ file: contractFile, path: '', expected: 'a binary ModelContract', found: (err as Error).message }] };
    }
  }
  const report = new Report(contractFile);
  const read = contractFromPrototxt(new TextDecoder('utf-8').decode(bytes), report, { strict });
  warnings.push(...report.warnings);
  return { contract: report.issues.length === 0 && read ? read.signatures : null, issues: report.issues };
}

/**
 * Reads serving.yaml (or serving.yml) at the upload root, validates it, reads a separate contract
 * file, expands and places the payload, and checks, for python models, src/func_main.py. Null
 * when the upload has none.
 */
export async function loadServingYaml(dir: string, options: ServingYamlOptions = {}): Promise<LoadedServingYaml | null> {
  const found: string[] = [];
  for (const n of SERVING_YAML_NAMES) {
    const st = await stat(path.join(dir, n)).catch(() => null);
    if (st?.isFile()) found.push(n);
  }
  if (found.length === 0) return null;
  if (found.length > 1) {
    throw new MllError('INVALID_SERVING_YAML', 'the upload has both serving.yaml and serving.yml; keep one', {
      details: [{ file: 'serving.yml', path: '', expected: 'a single serving.yaml', found: 'serving.yaml and serving.yml' }],
    });
  }
  const file = found[0]!;
  const text = await readCappedText(path.join(dir, file), MAX_SERVING_YAML_BYTES);
  const { doc, warnings } = parseServingYaml(text ?? '', file, options);
  const issues: YamlIssue[] = [];

  let contract = doc.contract;
  if (doc.contractFile !== null) {
    const read = await readContractFile(dir, doc, doc.contractFile, options.strict === true, warnings);
    contract = read.contract;
    issues.push(...read.issues);
  }

  let placements: PayloadPlacement[] | null = null;
  let payload: string[];
  const missing: { file: string; path: string; entry: string }[] = [];
  if (doc.payloadDeclared && options.payloadAssembled !== true) {
    const resolved = await resolvePayload(dir, doc.payloadEntries);
    placements = resolved.placements;
    payload = resolved.placements.map((p) => p.source);
    for (const m of resolved.missing) missing.push({ file, path: m.path, entry: m.entry + (m.dir ? '/' : '') });
    for (const p of resolved.problems) issues.push({ file, ...p });
  } else {
    payload = await topLevelEntries(dir);
  }
  if (contract !== null && doc.modelType?.split(':')[0] === 'python' && missing.length === 0) {
    issues.push(...(await checkPythonFunctions(dir, file, contract, placements)));
  }
  if (issues.length > 0) throw invalid(file, issues);
  if (missing.length > 0) {
    throw new MllError(
      'PAYLOAD_ENTRY_MISSING',
      `${file} lists payload ${missing.length === 1 ? 'entry' : 'entries'} the upload does not contain: ${missing.map((m) => `${m.entry} (${m.path})`).join(', ')}. ` +
        'Add them to the upload or remove them from payload.',
      { details: missing },
    );
  }
  const { payloadEntries: _entries, ...rest } = doc;
  return { yaml: { ...rest, contract, payload, placements }, warnings };
}

async function topLevelEntries(dir: string): Promise<string[]> {
  const list = await readdir(dir, { withFileTypes: true });
  const out: string[] = [];
  for (const e of list) {
    const isDir = e.isDirectory() || (e.isSymbolicLink() && (await stat(path.join(dir, e.name)).catch(() => null))?.isDirectory() === true);
    out.push(isDir ? `${e.name}/` : e.name);
  }
  return out.sort();
}

export const PYTHON_ENTRY = 'src/func_main.py';
const MAX_PYTHON_BYTES = 4 * 1024 * 1024;

/** Every signature of a python model must be a top-level function of src/func_main.py, where the payload puts it. */
export async function checkPythonFunctions(dir: string, file: string, contract: ContractSignature[], placements: PayloadPlacement[] | null): Promise<YamlIssue[]> {
  const source = sourceOfTarget(placements, PYTHON_ENTRY);
  const text = source === null ? null : await readCappedText(path.join(dir, source), MAX_PYTHON_BYTES);
  const from = source !== null && source !== PYTHON_ENTRY ? ` (from ${source})` : '';
  if (text === null) {
    return [{ file, path: 'model-type', expected: `a python model to have ${PYTHON_ENTRY} with a top-level function per signature`, found: `no ${PYTHON_ENTRY}${placements ? ' in the payload' : ''}` }];
  }
  const defined = topLevelFunctions(text);
  return contract
    .filter((s) => !defined.has(s.name))
    .map((s) => ({
      file,
      path: childPath('contract', s.name),
      expected: `a top-level function "def ${s.name}(...)" in ${PYTHON_ENTRY}${from}`,
      found: defined.size === 0 ? `no top-level functions in ${PYTHON_ENTRY}` : `only ${[...defined].slice(0, 10).join(', ')}`,
    }));
}
