import { MllError } from '../../errors.js';
import { decodeContract } from '../binary.js';
import { dtypeFromTfName, isNamedDtype, profileFromName, profileFromNumber, tfEnumNameOf } from '../dtypes.js';
import { sortSignatures } from '../frameworks/common.js';
import { MAX_CONTRACT_FIELDS, MAX_RANK, MAX_SIGNATURES, MAX_SUBFIELD_DEPTH } from '../limits.js';
import { describe, isPlainName, Report, type DocumentIssue } from '../report.js';
import { SUBFIELDS, type Contract, type ContractField, type ContractSignature, type Profile } from '../types.js';
import { decodeLegacyContract } from './legacy-binary.js';

/**
 * The contracts Hydrosphere's clients send, read into ours, and ours written the way they read
 * them back (HYDROSPHERE.md):
 * - v1 (hs CLI 2018): the multipart field `model_contract`, a binary ModelContract (early-2018
 *   files in the old `field_name`/`info` layout are recognised too);
 * - v2 (hs CLI 2.x, hydrosdk 2.x): metadata `contract: {modelName, predict: {signatureName, inputs,
 *   outputs}}`, early 2019 `contract: {modelName, signatures: [...]}`, fields
 *   `{name, profile, shape: {dim: [{size, name}], unknownRank}, dtype: "DT_DOUBLE"}` or `subfields`
 *   (a list, protobuf's `{data: [...]}`, or hydrosdk's map of name to field);
 * - v3 (hydrosdk 3.x, hs 3.x): metadata `modelSignature: {signatureName, inputs: [{name, profile,
 *   shape: {dims: [...]}, dtype}], outputs}`, a scalar as `dims: []`.
 * Protobuf's JSON spellings are all accepted (lowerCamelCase or snake_case keys, int64 as text,
 * enums by name or number, default values left out). A contract that cannot be used is an
 * INVALID_METADATA error (400) whose details list every problem with its path.
 * The returned contract's framework is '' (the caller knows the model-type).
 */

export interface SentContract {
  modelName: string;
  contract: Contract;
}

function invalidMetadata(what: string, issues: DocumentIssue[]): MllError {
  const lines = issues.slice(0, 10).map((i) => `  ${i.path || '(root)'}: expected ${i.expected}, found ${i.found}`);
  const more = issues.length > 10 ? `\n  ... and ${issues.length - 10} more` : '';
  return new MllError('INVALID_METADATA', `The ${what} cannot be used as a contract (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${lines.join('\n')}${more}`, { details: issues });
}

/** Every field has a usable type; records have fields. The problems, by path. */
function checkFields(contract: Contract, where: string): DocumentIssue[] {
  const issues: DocumentIssue[] = [];
  const visit = (f: ContractField, at: string) => {
    if (f.dtype === SUBFIELDS) {
      if (!f.subfields || f.subfields.length === 0) issues.push({ file: where, path: at, expected: 'a record with at least one field', found: 'no fields' });
      f.subfields?.forEach((s, i) => visit(s, `${at}.subfields[${i}]`));
    } else if (!isNamedDtype(f.dtype)) {
      const hint = f.dtype === 'unsupported:DT_INVALID' ? ' (the hs CLI sends DT_INVALID for a type name it does not know: fix the type in serving.yaml)' : '';
      issues.push({ file: where, path: `${at}.dtype`, expected: `a data type such as DT_FLOAT, DT_DOUBLE, DT_INT64, DT_STRING${hint}`, found: f.dtype.replace(/^unsupported:/, '') });
    }
  };
  contract.signatures.forEach((s, i) => {
    for (const dir of ['inputs', 'outputs'] as const) s[dir].forEach((f, j) => visit(f, `signatures[${i}].${dir}[${j}]`));
  });
  return issues;
}

/**
 * v1's `model_contract` part (raw bytes of a binary ModelContract). Null for an empty part (the
 * CLI leaves the part out when it has no contract; an empty one means the same).
 */
export function contractFromV1Binary(bytes: Uint8Array): SentContract | null {
  if (bytes.length === 0) return null;
  let current: SentContract | null = null;
  let problems: DocumentIssue[];
  try {
    current = decodeContract(bytes);
    problems = checkFields(current.contract, 'model_contract');
  } catch (err) {
    problems = [{ file: 'model_contract', path: '', expected: 'a binary ModelContract (hydro-serving-protos)', found: (err as Error).message }];
  }
  if (current && problems.length === 0 && current.contract.signatures.length > 0) return current;
  const legacy = decodeLegacyContract(bytes);
  if (legacy && checkFields(legacy.contract, 'model_contract').length === 0) {
    return { modelName: legacy.modelName, contract: { framework: '', signatures: sortSignatures(legacy.contract.signatures) } };
  }
  if (current && current.contract.signatures.length === 0) {
    problems.push({ file: 'model_contract', path: 'signatures', expected: 'at least one signature', found: 'none' });
  }
  throw invalidMetadata('model_contract part', problems);
}

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A key in either protobuf JSON spelling (`signatureName` or `signature_name`). */
function get(o: Record<string, Json>, camel: string): Json {
  if (Object.hasOwn(o, camel)) return o[camel];
  const snake = camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  return Object.hasOwn(o, snake) ? o[snake] : undefined;
}

/** int64 as protobuf JSON writes it: a number or a decimal string. */
function int64(v: Json): number | null {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  if (typeof v === 'string' && /^-?[0-9]{1,15}$/.test(v)) return Number(v);
  return null;
}

/**
 * A record's fields in any form a client writes them: protobuf JSON's `{data: [...]}`, the hs 2.x
 * CLI's and hydrosdk's plain list, or hydrosdk's own answer form, a map of name to field.
 */
function subfieldList(raw: Json): Json {
  if (!isObject(raw)) return raw;
  // A map entry is a field (an object); protobuf's `data` is a list.
  if (Object.keys(raw).length === 1 && Array.isArray(raw.data)) return raw.data;
  return Object.entries(raw).map(([name, f]) => (isObject(f) ? { ...f, name } : f));
}

class JsonReader {
  readonly report: Report;
  fields = 0;
  constructor(what: string) {
    this.report = new Report(what);
  }

  issue(at: string, expected: string, found: Json): void {
    this.report.issue(at, expected, describe(found));
  }

  list(v: Json, at: string, what: string): Json[] {
    if (v === undefined || v === null) return [];
    if (Array.isArray(v)) return v;
    this.issue(at, `a list of ${what}`, v);
    return [];
  }

  profile(v: Json, at: string): Profile | undefined {
    if (v === undefined || v === null) return undefined;
    const p = typeof v === 'string' ? profileFromName(v) : typeof v === 'number' ? profileFromNumber(v) ?? null : null;
    if (p === null) {
      this.report.warn('UNKNOWN_PROFILE', `${this.report.file}: ${at} ${describe(v)} is not a data profile; the field gets NONE`, { path: at, profile: describe(v) });
      return undefined;
    }
    return p === 'none' ? undefined : p;
  }

  /** v1/v2 shape: `{dim: [{size, name}], unknownRank}`; missing = unknown rank. */
  shapeV2(v: Json, at: string): Pick<ContractField, 'shape' | 'dimNames'> {
    if (v === undefined || v === null) return { shape: null };
    if (!isObject(v)) {
      this.issue(at, 'a shape {dim: [{size, name}], unknownRank}', v);
      return { shape: null };
    }
    if (get(v, 'unknownRank') === true) return { shape: null };
    const dims = this.list(get(v, 'dim'), `${at}.dim`, 'dims {size, name}');
    if (dims.length > MAX_RANK) {
      this.issue(`${at}.dim`, `at most ${MAX_RANK} dims`, `${dims.length}`);
      return { shape: null };
    }
    const shape: number[] = [];
    const names: (string | null)[] = [];
    dims.forEach((d, i) => {
      const dat = `${at}.dim[${i}]`;
      if (!isObject(d)) {
        this.issue(dat, 'a dim {size, name}', d);
        return;
      }
      const name = typeof d.name === 'string' && d.name !== '' ? d.name : null;
      const size = d.size === undefined ? 0 : int64(d.size);
      if (size !== null && (size === -1 || size > 0)) shape.push(size);
      else if (size === 0 && name !== null) shape.push(-1);
      else this.issue(`${dat}.size`, '-1 (any size) or a positive integer', d.size);
      names.push(name);
    });
    return names.some((n) => n !== null) ? { shape, dimNames: names } : { shape };
  }

  /** v3 shape: `{dims: [...]}`; `dims: []` is a scalar, a missing shape any rank. */
  shapeV3(v: Json, at: string): Pick<ContractField, 'shape'> {
    if (v === undefined || v === null) return { shape: null };
    if (!isObject(v)) {
      this.issue(at, 'a shape {dims: [...]}', v);
      return { shape: null };
    }
    const dims = this.list(get(v, 'dims'), `${at}.dims`, 'sizes');
    if (dims.length > MAX_RANK) {
      this.issue(`${at}.dims`, `at most ${MAX_RANK} dims`, `${dims.length}`);
      return { shape: null };
    }
    const shape: number[] = [];
    dims.forEach((d, i) => {
      const size = int64(d);
      if (size !== null && (size === -1 || size > 0)) shape.push(size);
      else this.issue(`${at}.dims[${i}]`, '-1 (any size) or a positive integer', d);
    });
    return { shape };
  }

  field(v: Json, at: string, depth: number, version: 'v2' | 'v3'): ContractField | null {
    if (++this.fields > MAX_CONTRACT_FIELDS) {
      if (this.fields === MAX_CONTRACT_FIELDS + 1) this.issue(at, `at most ${MAX_CONTRACT_FIELDS} fields in the whole contract`, 'more');
      return null;
    }
    if (!isObject(v)) {
      this.issue(at, 'a field {name, dtype, shape, profile}', v);
      return null;
    }
    const name = v.name;
    if (typeof name !== 'string' || !isPlainName(name)) this.issue(`${at}.name`, 'a field name (no spaces or control characters)', name);
    const shape = version === 'v2' ? this.shapeV2(v.shape, `${at}.shape`) : this.shapeV3(v.shape, `${at}.shape`);
    const profile = this.profile(v.profile, `${at}.profile`);
    const subList = subfieldList(v.subfields ?? v.fields);
    let field: ContractField | null = null;
    if (subList !== undefined && subList !== null) {
      if (depth >= MAX_SUBFIELD_DEPTH) {
        this.issue(`${at}.subfields`, `subfields at most ${MAX_SUBFIELD_DEPTH} levels deep`, 'deeper');
        return null;
      }
      const subfields: ContractField[] = [];
      this.list(subList, `${at}.subfields`, 'fields').forEach((s, i) => {
        const sub = this.field(s, `${at}.subfields[${i}]`, depth + 1, version);
        if (sub) subfields.push(sub);
      });
      if (subfields.length === 0) this.issue(`${at}.subfields`, 'at least one field', 'none');
      field = { name: typeof name === 'string' ? name : '', dtype: SUBFIELDS, ...shape, subfields };
    } else {
      const raw = v.dtype;
      const dtype = typeof raw === 'string' || typeof raw === 'number' ? dtypeFromTfName(raw) : null;
      if (dtype === null || !isNamedDtype(dtype)) {
        const hint = raw === 'DT_INVALID' || raw === undefined ? ' (a field without a type: the hs 2.x CLI sends that for fields with subfields, which it cannot send)' : '';
        this.issue(`${at}.dtype`, `a data type such as DT_FLOAT, DT_DOUBLE, DT_INT64, DT_STRING${hint}`, raw);
      } else {
        field = { name: typeof name === 'string' ? name : '', dtype, ...shape };
      }
    }
    if (field && profile) field.profile = profile;
    return field;
  }

  signature(v: Json, at: string, version: 'v2' | 'v3'): ContractSignature | null {
    if (!isObject(v)) {
      this.issue(at, 'a signature {signatureName, inputs, outputs}', v);
      return null;
    }
    const rawName = get(v, 'signatureName');
    const name = rawName === undefined || rawName === null || rawName === '' ? 'Predict' : rawName;
    if (typeof name !== 'string' || !isPlainName(name)) this.issue(`${at}.signatureName`, 'a signature name (no spaces or control characters)', rawName);
    const sig: ContractSignature = { name: typeof name === 'string' ? name : '', inputs: [], outputs: [] };
    for (const dir of ['inputs', 'outputs'] as const) {
      const list = this.list(v[dir], `${at}.${dir}`, 'fields');
      if (list.length === 0) this.issue(`${at}.${dir}`, `at least one ${dir === 'inputs' ? 'input' : 'output'}`, v[dir]);
      list.forEach((f, i) => {
        const field = this.field(f, `${at}.${dir}[${i}]`, 0, version);
        if (field) sig[dir].push(field);
      });
    }
    return sig;
  }

  done(what: string, signatures: ContractSignature[]): { contract: Contract; warnings: Report['warnings'] } {
    if (this.report.issues.length > 0) throw invalidMetadata(what, this.report.issues);
    const names = new Set<string>();
    for (const s of signatures) {
      if (names.has(s.name)) throw invalidMetadata(what, [{ file: what, path: 'signatures', expected: 'signature names that differ', found: `${s.name} twice` }]);
      names.add(s.name);
    }
    return { contract: { framework: '', signatures: sortSignatures(signatures) }, warnings: this.report.warnings };
  }
}

export interface SentJsonContract extends SentContract {
  /** Unknown profiles (the field gets NONE). */
  warnings: Report['warnings'];
}

/** v2 metadata's `contract`: `{modelName, predict}` (2.x) or `{modelName, signatures: [...]}` (early 2019). */
export function contractFromV2Json(value: unknown): SentJsonContract {
  const r = new JsonReader('metadata.contract');
  if (!isObject(value)) throw invalidMetadata('metadata.contract', [{ file: 'metadata.contract', path: '', expected: 'an object {modelName, predict: {signatureName, inputs, outputs}}', found: describe(value) }]);
  const modelName = typeof get(value, 'modelName') === 'string' ? (get(value, 'modelName') as string) : '';
  const signatures: ContractSignature[] = [];
  const predict = value.predict;
  if (predict !== undefined && predict !== null) {
    const s = r.signature(predict, 'predict', 'v2');
    if (s) signatures.push(s);
  }
  const list = r.list(value.signatures, 'signatures', 'signatures');
  if (list.length > MAX_SIGNATURES) r.issue('signatures', `at most ${MAX_SIGNATURES} signatures`, `${list.length}`);
  else list.forEach((s, i) => {
    const sig = r.signature(s, `signatures[${i}]`, 'v2');
    if (sig) signatures.push(sig);
  });
  if (signatures.length === 0 && r.report.issues.length === 0) r.issue('predict', 'a signature {signatureName, inputs, outputs}', predict);
  return { modelName, ...r.done('metadata.contract', signatures) };
}

/** v3 metadata's `modelSignature`: `{signatureName, inputs: [{name, profile, shape: {dims}, dtype}], outputs}`. */
export function contractFromV3Signature(value: unknown): SentJsonContract {
  const r = new JsonReader('metadata.modelSignature');
  const s = r.signature(value, '', 'v3');
  return { modelName: '', ...r.done('metadata.modelSignature', s ? [s] : []) };
}

// ---- ours → theirs ---------------------------------------------------------------------------

export interface HydroFieldV2 {
  name: string;
  profile: string;
  shape: { dim: { size: number; name: string }[]; unknownRank: boolean };
  dtype?: string;
  /** hydrosdk's field_from_dict reads a record as a map of name to field (`subfields.items()`). */
  subfields?: Record<string, Omit<HydroFieldV2, 'name'>>;
}

export interface HydroSignatureV2 {
  signatureName: string;
  inputs: HydroFieldV2[];
  outputs: HydroFieldV2[];
}

export interface HydroFieldV3 {
  name: string;
  profile: string;
  shape?: { dims: number[] };
  dtype?: string;
  subfields?: Record<string, Omit<HydroFieldV3, 'name'>>;
}

export interface HydroSignatureV3 {
  signatureName: string;
  inputs: HydroFieldV3[];
  outputs: HydroFieldV3[];
}

function profileName(f: ContractField): string {
  return (f.profile ?? 'none').toUpperCase();
}

function dtypeName(f: ContractField): string {
  return isNamedDtype(f.dtype) ? tfEnumNameOf(f.dtype) : 'DT_INVALID';
}

/**
 * A record's fields as hydrosdk 2.x/3.x read them back (`for k, v in subfields.items():
 * field_from_dict(k, v)`): a map of name to field; protobuf's `{data: [...]}` would be read as one
 * field named "data" and fail. Subfield names are unique (the contract checks them).
 */
function subfieldMap<F extends { name: string }>(fields: ContractField[], write: (f: ContractField) => F): Record<string, Omit<F, 'name'>> {
  // fromEntries defines own properties, so even a field named __proto__ stays a field.
  return Object.fromEntries(fields.map((f) => {
    const { name, ...rest } = write(f);
    return [name, rest];
  }));
}

function fieldV2(f: ContractField): HydroFieldV2 {
  const out: HydroFieldV2 = {
    name: f.name,
    profile: profileName(f),
    shape: f.shape === null
      ? { dim: [], unknownRank: true }
      : { dim: f.shape.map((size, i) => ({ size, name: f.dimNames?.[i] ?? '' })), unknownRank: false },
  };
  if (f.dtype === SUBFIELDS) out.subfields = subfieldMap(f.subfields ?? [], fieldV2);
  else out.dtype = dtypeName(f);
  return out;
}

function signatureV2(s: ContractSignature): HydroSignatureV2 {
  return { signatureName: s.name, inputs: s.inputs.map(fieldV2), outputs: s.outputs.map(fieldV2) };
}

/** The signature a one-signature client shows: `predict`/`Predict` when there is one, else the first. */
export function mainSignature(contract: Contract): ContractSignature | null {
  return contract.signatures.find((s) => s.name.toLowerCase() === 'predict') ?? contract.signatures[0] ?? null;
}

/** v1 (2018) answers: `{modelName, signatures: [...]}`. */
export function toV1Contract(modelName: string, contract: Contract): { modelName: string; signatures: HydroSignatureV2[] } {
  return { modelName, signatures: contract.signatures.map(signatureV2) };
}

/**
 * v2 answers (`modelContract`): `{modelName, predict}`, the 2.x contract's single signature (see
 * mainSignature; other signatures have no place in that form).
 */
export function toV2Contract(modelName: string, contract: Contract): { modelName: string; predict: HydroSignatureV2 | null } {
  const main = mainSignature(contract);
  return { modelName, predict: main ? signatureV2(main) : null };
}

function fieldV3(f: ContractField): HydroFieldV3 {
  const out: HydroFieldV3 = { name: f.name, profile: profileName(f) };
  if (f.shape !== null) out.shape = { dims: [...f.shape] };
  if (f.dtype === SUBFIELDS) out.subfields = subfieldMap(f.subfields ?? [], fieldV3);
  else out.dtype = dtypeName(f);
  return out;
}

/** v3 answers (`modelSignature`), the main signature (see mainSignature). */
export function toV3Signature(contract: Contract): HydroSignatureV3 | null {
  const main = mainSignature(contract);
  return main ? { signatureName: main.name, inputs: main.inputs.map(fieldV3), outputs: main.outputs.map(fieldV3) } : null;
}
