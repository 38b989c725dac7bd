import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { CORE_SCHEMA, load, realMapTag } from 'js-yaml';
import { modelNamePattern } from '../domain/model-name.js';
import type { Warning } from '../domain/version.js';
import { MllError } from '../errors.js';
import { dtypeFromKeras, isNamedDtype, isProfile } from './dtypes.js';
import { sortSignatures } from './frameworks/common.js';
import { topLevelFunctions } from './python-source.js';
import { dtypeNames, profileNames, type ContractField, type ContractSignature } from './types.js';

/**
 * serving.yaml: parsing (js-yaml, core schema only: no custom types, a size cap, an alias cap)
 * and validation against ../shared/CONTRACT.md. Every broken rule becomes one issue naming the
 * file, the path in the document, what was expected and what was found; all issues of a file
 * are reported together. Unknown keys are warnings.
 */

export interface ServingYaml {
  /** The file name as found at the upload root (serving.yaml or serving.yml). */
  file: string;
  name: string;
  modelType: string;
  /**
   * Normalised relative paths of the upload; directories end with '/'. Without a `payload` key,
   * every top-level entry of the upload (the whole upload goes into the image).
   */
  payload: string[];
  /** Whether the document had a `payload` key at all. */
  payloadDeclared: boolean;
  /** The contract section (signatures sorted by name), or null without one. */
  contract: ContractSignature[] | null;
  /** The text of the file. */
  raw: string;
}

export interface YamlIssue {
  file: string;
  path: string;
  expected: string;
  found: string;
}

export const SERVING_YAML_NAMES = ['serving.yaml', 'serving.yml'] as const;
export const MAX_SERVING_YAML_BYTES = 1024 * 1024;
const MAX_ALIASES = 100;
const MAX_FIELDS = 10_000;
const MAX_RANK = 64;
export const modelTypePattern = /^[a-z][a-z0-9_.-]*:[A-Za-z0-9][A-Za-z0-9._+-]*$/;

const topKeys = new Set(['kind', 'name', 'model-type', 'payload', 'contract']);
const signatureKeys = new Set(['inputs', 'outputs']);
const fieldKeys = new Set(['shape', 'type', 'profile']);

type Yaml = unknown;

function isMap(v: Yaml): v is Map<unknown, unknown> {
  return v instanceof Map;
}

/** A short, printable rendering of what the document holds at a path. */
export function describe(v: Yaml): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (isMap(v)) return 'a mapping';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  return String(v);
}

function child(base: string, key: string): string {
  const seg = /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? key : JSON.stringify(key);
  if (base === '') return seg;
  return seg.startsWith('"') ? `${base}[${seg}]` : `${base}.${seg}`;
}

class Checker {
  issues: YamlIssue[] = [];
  warnings: Warning[] = [];
  fields = 0;
  constructor(readonly file: string) {}

  issue(p: string, expected: string, found: string): void {
    this.issues.push({ file: this.file, path: p, expected, found });
  }

  unknownKeys(m: Map<unknown, unknown>, known: ReadonlySet<string>, at: string): void {
    for (const k of m.keys()) {
      const key = String(k);
      if (!known.has(key)) {
        const where = child(at, key);
        this.warnings.push({
          code: 'SERVING_YAML_UNKNOWN_KEY',
          message: `${this.file}: unknown key ${where} is ignored (known here: ${[...known].join(', ')})`,
          details: { file: this.file, path: where },
        });
      }
    }
  }

  /** Map entries with printable names; non-name keys are issues. */
  named(m: Map<unknown, unknown>, at: string, what: string): [string, unknown][] {
    const out: [string, unknown][] = [];
    for (const [k, v] of m) {
      const name = typeof k === 'string' ? k : typeof k === 'number' && Number.isFinite(k) ? String(k) : null;
      if (name === null || name === '' || /[\s\p{Cc}]/u.test(name)) {
        this.issue(child(at, String(k)), `a ${what} name (no spaces or control characters)`, describe(k));
        continue;
      }
      out.push([name, v]);
    }
    return out;
  }

  requiredString(doc: Map<unknown, unknown>, key: string): string | undefined {
    const v = doc.get(key);
    if (typeof v === 'string' && v !== '') return v;
    return undefined;
  }
}

export interface ParsedServingYaml {
  doc: Omit<ServingYaml, 'payload'> & { payloadEntries: { path: string; entry: string; dir: boolean }[] };
  warnings: Warning[];
}

function yamlError(file: string, err: unknown): MllError {
  const reason = err instanceof Error ? err.message.split('\n')[0]! : String(err);
  return new MllError('INVALID_SERVING_YAML', `${file} is not valid YAML: ${reason}`, {
    details: [{ file, path: '', expected: 'a YAML document (a mapping)', found: reason }],
  });
}

/** Parses and checks the document (everything that needs no file system). */
export function parseServingYaml(text: string, file = 'serving.yaml'): ParsedServingYaml {
  if (Buffer.byteLength(text) > MAX_SERVING_YAML_BYTES) {
    throw new MllError('INVALID_SERVING_YAML', `${file} is larger than ${MAX_SERVING_YAML_BYTES / 1024} KiB; a serving.yaml is a short description`, {
      details: [{ file, path: '', expected: `at most ${MAX_SERVING_YAML_BYTES} bytes`, found: `${Buffer.byteLength(text)} bytes` }],
    });
  }
  let doc: Yaml;
  try {
    doc = load(text, { filename: file, schema: CORE_SCHEMA.withTags(realMapTag), maxAliases: MAX_ALIASES, maxDepth: 32 });
  } catch (err) {
    throw yamlError(file, err);
  }
  const c = new Checker(file);
  if (!isMap(doc)) {
    throw new MllError('INVALID_SERVING_YAML', `${file} must be a mapping with kind, name, model-type, payload and contract`, {
      details: [{ file, path: '', expected: 'a mapping', found: describe(doc) }],
    });
  }
  c.unknownKeys(doc, topKeys, '');

  const kind = doc.get('kind');
  if (kind !== 'Model') c.issue('kind', '"Model"', describe(kind));
  const name = c.requiredString(doc, 'name');
  if (name === undefined || !modelNamePattern.test(name)) {
    c.issue('name', `a model name matching ${modelNamePattern.source}`, describe(doc.get('name')));
  }
  const modelType = c.requiredString(doc, 'model-type');
  if (modelType === undefined || !modelTypePattern.test(modelType)) {
    c.issue('model-type', '<framework>:<version>, e.g. "python:3.6" or "tensorflow:1.14.0"', describe(doc.get('model-type')));
  }

  const payloadEntries: { path: string; entry: string; dir: boolean }[] = [];
  const payload = doc.get('payload');
  if (payload !== undefined && payload !== null) {
    if (!Array.isArray(payload) || payload.length === 0) {
      c.issue('payload', 'a non-empty list of files and folders of the upload', describe(payload));
    } else {
      const seen = new Set<string>();
      payload.forEach((e: unknown, i) => {
        const at = `payload[${i}]`;
        const norm = typeof e === 'string' ? normalisePayloadEntry(e) : null;
        if (norm === null) {
          c.issue(at, 'a relative path inside the upload (no "..", not absolute)', describe(e));
          return;
        }
        if (seen.has(norm.entry)) return;
        seen.add(norm.entry);
        payloadEntries.push({ path: at, ...norm });
      });
    }
  }

  let contract: ContractSignature[] | null = null;
  const contractDoc = doc.get('contract');
  if (contractDoc !== undefined && contractDoc !== null) {
    if (!isMap(contractDoc) || contractDoc.size === 0) {
      c.issue('contract', 'a mapping of signature names to {inputs, outputs}', describe(contractDoc));
    } else {
      contract = sortSignatures(c.named(contractDoc, 'contract', 'signature').map(([sig, body]) => signatureOf(c, sig, body)));
    }
  }

  if (c.issues.length > 0) throw invalid(file, c.issues);
  return {
    doc: { file, name: name!, modelType: modelType!, payloadEntries, payloadDeclared: payload !== undefined && payload !== null, contract, raw: text },
    warnings: c.warnings,
  };
}

function signatureOf(c: Checker, sig: string, body: Yaml): ContractSignature {
  const at = child('contract', sig);
  const signature: ContractSignature = { name: sig, inputs: [], outputs: [] };
  if (!isMap(body)) {
    c.issue(at, 'a mapping with inputs and outputs', describe(body));
    return signature;
  }
  c.unknownKeys(body, signatureKeys, at);
  for (const dir of ['inputs', 'outputs'] as const) {
    const list = body.get(dir);
    const lat = child(at, dir);
    if (!isMap(list) || list.size === 0) {
      c.issue(lat, `a mapping with at least one ${dir === 'inputs' ? 'input' : 'output'} field`, describe(list));
      continue;
    }
    for (const [fname, fbody] of c.named(list, lat, 'field')) {
      if (++c.fields > MAX_FIELDS) {
        c.issue(lat, `at most ${MAX_FIELDS} fields in the whole contract`, 'more');
        return signature;
      }
      const f = fieldOf(c, child(lat, fname), fname, fbody);
      if (f) signature[dir].push(f);
    }
  }
  return signature;
}

function fieldOf(c: Checker, at: string, name: string, body: Yaml): ContractField | null {
  if (!isMap(body)) {
    c.issue(at, 'a mapping with shape, type and optionally profile', describe(body));
    return null;
  }
  c.unknownKeys(body, fieldKeys, at);
  const type = body.get('type');
  let dtype: ContractField['dtype'] | null = null;
  if (typeof type === 'string' && isNamedDtype(type)) {
    dtype = type;
  } else {
    const hint = typeof type === 'string' && isNamedDtype(dtypeFromKeras(type)) ? ` (for ${type} write ${dtypeFromKeras(type)})` : '';
    c.issue(child(at, 'type'), `one of ${dtypeNames.join(', ')}${hint}`, describe(type));
  }

  const shapeDoc = body.get('shape');
  let shape: number[] | null = null;
  if (shapeDoc === 'scalar') {
    shape = [];
  } else if (Array.isArray(shapeDoc)) {
    if (shapeDoc.length > MAX_RANK) {
      c.issue(child(at, 'shape'), `at most ${MAX_RANK} dimensions`, `${shapeDoc.length}`);
    } else {
      shape = [];
      shapeDoc.forEach((d: unknown, i) => {
        if (typeof d === 'number' && Number.isSafeInteger(d) && (d === -1 || d > 0)) shape!.push(d);
        else c.issue(`${child(at, 'shape')}[${i}]`, '-1 (any size) or a positive integer', describe(d));
      });
    }
  } else {
    c.issue(child(at, 'shape'), 'a list of -1 or positive integers, [] or "scalar"', describe(shapeDoc));
  }

  const profile = body.get('profile');
  if (profile !== undefined && profile !== null && !(typeof profile === 'string' && isProfile(profile))) {
    c.issue(child(at, 'profile'), `one of ${profileNames.join(', ')}`, describe(profile));
  }
  if (dtype === null || shape === null) return null;
  const field: ContractField = { name, dtype, shape };
  if (typeof profile === 'string' && isProfile(profile)) field.profile = profile;
  return field;
}

/** "src/", "./src", "src" all name the same entry; null for paths that leave the upload. */
export function normalisePayloadEntry(raw: string): { entry: string; dir: boolean } | null {
  if (raw.trim() === '' || raw.includes('\0') || raw.includes('\\')) return null;
  if (raw.startsWith('/') || /^[A-Za-z]:/.test(raw)) return null;
  const dir = raw.endsWith('/');
  const norm = path.posix.normalize(raw);
  const entry = norm.replace(/\/+$/, '');
  if (entry === '' || entry === '.' || entry === '..' || entry.startsWith('../')) return null;
  return { entry, dir };
}

function invalid(file: string, issues: YamlIssue[]): MllError {
  const lines = issues.slice(0, 10).map((i) => `  ${i.path || '(document)'}: expected ${i.expected}, found ${i.found}`);
  const more = issues.length > 10 ? `\n  ... and ${issues.length - 10} more` : '';
  return new MllError('INVALID_SERVING_YAML', `${file} has ${issues.length} error${issues.length === 1 ? '' : 's'}:\n${lines.join('\n')}${more}`, {
    details: issues,
  });
}

async function readCapped(file: string, cap: number): Promise<string | null> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch {
    return null;
  }
  try {
    const { size } = await fh.stat();
    const buf = new Uint8Array(Math.min(size, cap + 1));
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return new TextDecoder('utf-8').decode(buf.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

export interface LoadedServingYaml {
  yaml: ServingYaml;
  warnings: Warning[];
}

/**
 * Reads serving.yaml (or serving.yml) at the upload root, validates it and checks the payload
 * entries and, for python models, src/func_main.py. Null when the upload has none.
 */
export async function loadServingYaml(dir: string): Promise<LoadedServingYaml | null> {
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
  const text = await readCapped(path.join(dir, file), MAX_SERVING_YAML_BYTES);
  const { doc, warnings } = parseServingYaml(text ?? '', file);

  const missing: { file: string; path: string; entry: string }[] = [];
  const issues: YamlIssue[] = [];
  const payload: string[] = [];
  for (const p of doc.payloadEntries) {
    const st = await stat(path.join(dir, p.entry)).catch(() => null);
    if (!st) {
      missing.push({ file, path: p.path, entry: p.entry + (p.dir ? '/' : '') });
    } else if (st.isDirectory()) {
      payload.push(`${p.entry}/`);
    } else if (p.dir) {
      issues.push({ file, path: p.path, expected: 'a folder (the entry ends with "/")', found: `the file ${p.entry}` });
    } else {
      payload.push(p.entry);
    }
  }
  if (!doc.payloadDeclared) payload.push(...(await topLevelEntries(dir)));
  if (doc.contract !== null && doc.modelType.split(':')[0] === 'python') {
    issues.push(...(await checkPythonFunctions(dir, file, doc.contract)));
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
  return { yaml: { ...rest, payload }, warnings };
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

async function checkPythonFunctions(dir: string, file: string, contract: ContractSignature[]): Promise<YamlIssue[]> {
  const source = await readCapped(path.join(dir, PYTHON_ENTRY), MAX_PYTHON_BYTES);
  if (source === null) {
    return [{ file, path: 'model-type', expected: `a python model to have ${PYTHON_ENTRY} with a top-level function per signature`, found: `no ${PYTHON_ENTRY}` }];
  }
  const defined = topLevelFunctions(source);
  return contract
    .filter((s) => !defined.has(s.name))
    .map((s) => ({
      file,
      path: child('contract', s.name),
      expected: `a top-level function "def ${s.name}(...)" in ${PYTHON_ENTRY}`,
      found: defined.size === 0 ? `no top-level functions in ${PYTHON_ENTRY}` : `only ${[...defined].slice(0, 10).join(', ')}`,
    }));
}
