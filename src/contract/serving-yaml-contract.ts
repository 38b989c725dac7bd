import { dtypeFromServingYaml, profileFromName, servingYamlTypeNames, type DtypeNameOptions } from './dtypes.js';
import { sortSignatures } from './frameworks/common.js';
import { MAX_CONTRACT_FIELDS, MAX_RANK, MAX_SIGNATURES, MAX_SUBFIELD_DEPTH } from './limits.js';
import { childPath, describe, isPlainName, Report } from './report.js';
import { SUBFIELDS, type ContractField, type ContractSignature } from './types.js';

/**
 * The `contract` section of a serving.yaml, in every dialect: a map of signatures
 * (`contract: {<signature>: {inputs, outputs}}`) or one signature (`contract: {name?, inputs,
 * outputs}`, name defaulting to `Predict`). A field has `type` and `shape` (a list of -1 or
 * positive sizes, or `scalar`), or `fields` (a record of fields) instead of a type, and
 * optionally `profile` in any case (an unknown profile is a warning and the field gets none).
 */

export interface YamlContractOptions {
  /** What a bare `float` means (see DtypeNameOptions). */
  float: DtypeNameOptions['float'];
  /** Whether a field may leave out `shape` (then it accepts any rank; a warning says so). */
  shapeOptional: boolean;
  /** Unknown keys fail instead of warning. */
  strict: boolean;
}

const signatureKeys = new Set(['inputs', 'outputs']);
const oneSignatureKeys = new Set(['name', 'inputs', 'outputs']);
const fieldKeys = new Set(['shape', 'type', 'profile', 'fields']);

export function isMap(v: unknown): v is Map<unknown, unknown> {
  return v instanceof Map;
}

/** Validates one document section by section; every problem becomes an issue or a warning. */
export class Checker extends Report {
  fields = 0;

  constructor(
    file: string,
    readonly strict: boolean,
  ) {
    super(file);
  }

  unknownKeys(m: Map<unknown, unknown>, known: ReadonlySet<string>, at: string): void {
    for (const k of m.keys()) {
      const key = String(k);
      if (known.has(key)) continue;
      const where = childPath(at, key);
      if (this.strict) {
        this.issue(where, `one of ${[...known].join(', ')} (MLL_SERVING_YAML=strict refuses unknown keys)`, `an unknown key ${key}`);
      } else {
        this.warn('SERVING_YAML_UNKNOWN_KEY', `${this.file}: unknown key ${where} is ignored (known here: ${[...known].join(', ')})`, { file: this.file, path: where });
      }
    }
  }

  /** Map entries with printable names; non-name keys are issues. */
  named(m: Map<unknown, unknown>, at: string, what: string): [string, unknown][] {
    const out: [string, unknown][] = [];
    for (const [k, v] of m) {
      const name = typeof k === 'string' ? k : typeof k === 'number' && Number.isFinite(k) ? String(k) : null;
      if (name === null || !isPlainName(name)) {
        this.issue(childPath(at, String(k)), `a ${what} name (no spaces or control characters)`, describe(k));
        continue;
      }
      out.push([name, v]);
    }
    return out;
  }
}

/** A structural key as compared: any case, `_` for `-`, surrounding spaces ignored (`Model_Type` is model-type). */
const foldKey = (k: string) => k.trim().toLowerCase().replace(/_/g, '-');

/**
 * A mapping with its structural keys as ML Lambda knows them: users' folders write `Kind`,
 * `Model-Type`, `model_type` or `Inputs`, which mean the known key. Names (of fields, signatures,
 * labels) are never touched. The same key written twice that way is an issue.
 */
export function canonicalKeys(c: Checker, m: Map<unknown, unknown>, known: ReadonlySet<string>, at: string): Map<unknown, unknown> {
  const byFold = new Map([...known].map((k) => [foldKey(k), k]));
  if ([...m.keys()].every((k) => typeof k !== 'string' || known.has(k) || !byFold.has(foldKey(k)))) return m;
  const out = new Map<unknown, unknown>();
  const writtenAs = new Map<unknown, string>();
  for (const [k, v] of m) {
    const key = typeof k === 'string' && !known.has(k) ? byFold.get(foldKey(k)) ?? k : k;
    if (out.has(key)) {
      c.issue(childPath(at, String(key)), `${String(key)} written once`, `${writtenAs.get(key)} and ${String(k)}`);
      continue;
    }
    out.set(key, v);
    writtenAs.set(key, String(k));
  }
  return out;
}

/** Whether a contract section is the one-signature form (2019+) rather than a map of signatures. */
export function isOneSignature(contract: Map<unknown, unknown>): boolean {
  return [...contract.keys()].some((k) => typeof k === 'string' && (foldKey(k) === 'inputs' || foldKey(k) === 'outputs'));
}

/** Reads a contract section (a map); null when it is no usable contract (the issues say why). */
export function contractFromYaml(c: Checker, contract: Map<unknown, unknown>, at: string, options: YamlContractOptions): ContractSignature[] | null {
  if (isOneSignature(contract)) {
    contract = canonicalKeys(c, contract, oneSignatureKeys, at);
    c.unknownKeys(contract, oneSignatureKeys, at);
    const rawName = contract.get('name');
    let name = 'Predict';
    if (rawName !== undefined && rawName !== null) {
      if (typeof rawName === 'string' && isPlainName(rawName)) name = rawName;
      else c.issue(childPath(at, 'name'), 'a signature name (no spaces or control characters)', describe(rawName));
    }
    return [signatureOf(c, name, contract, at, options, false)];
  }
  if (contract.size === 0) {
    c.issue(at, 'a mapping of signature names to {inputs, outputs}, or one signature {name, inputs, outputs}', 'an empty mapping');
    return null;
  }
  if (contract.size > MAX_SIGNATURES) {
    c.issue(at, `at most ${MAX_SIGNATURES} signatures`, `${contract.size}`);
    return null;
  }
  return sortSignatures(c.named(contract, at, 'signature').map(([sig, body]) => signatureOf(c, sig, body, childPath(at, sig), options, true)));
}

function signatureOf(c: Checker, sig: string, doc: unknown, at: string, options: YamlContractOptions, checkKeys: boolean): ContractSignature {
  const signature: ContractSignature = { name: sig, inputs: [], outputs: [] };
  if (!isMap(doc)) {
    c.issue(at, 'a mapping with inputs and outputs', describe(doc));
    return signature;
  }
  const body = checkKeys ? canonicalKeys(c, doc, signatureKeys, at) : doc;
  if (checkKeys) c.unknownKeys(body, signatureKeys, at);
  for (const dir of ['inputs', 'outputs'] as const) {
    const list = body.get(dir);
    const lat = childPath(at, dir);
    if (!isMap(list) || list.size === 0) {
      c.issue(lat, `a mapping with at least one ${dir === 'inputs' ? 'input' : 'output'} field`, describe(list));
      continue;
    }
    const fields = fieldsOf(c, list, lat, options, 0);
    if (fields === null) return signature;
    signature[dir] = fields;
  }
  return signature;
}

/** The fields of a map; null when the contract's field budget ran out (reported once). */
function fieldsOf(c: Checker, list: Map<unknown, unknown>, at: string, options: YamlContractOptions, depth: number): ContractField[] | null {
  const out: ContractField[] = [];
  for (const [fname, fbody] of c.named(list, at, 'field')) {
    if (++c.fields > MAX_CONTRACT_FIELDS) {
      c.issue(at, `at most ${MAX_CONTRACT_FIELDS} fields in the whole contract`, 'more');
      return null;
    }
    const f = fieldOf(c, childPath(at, fname), fname, fbody, options, depth);
    if (f === 'over budget') return null;
    if (f) out.push(f);
  }
  return out;
}

/** What a dimension must be, with a hint for what Python users write instead (None, quoted sizes). */
function dimExpected(d: unknown): string {
  if (d === null || (typeof d === 'string' && /^\s*(none|null|~)\s*$/i.test(d))) return '-1 (any size; write -1 where Python prints None) or a positive integer';
  if (typeof d === 'string' && /^\s*-?[0-9]+\s*$/.test(d)) return '-1 (any size) or a positive integer, written without quotes';
  return '-1 (any size) or a positive integer';
}

function shapeOf(c: Checker, at: string, name: string, shapeDoc: unknown, options: YamlContractOptions): number[] | null | undefined {
  const where = childPath(at, 'shape');
  if (shapeDoc === undefined || shapeDoc === null) {
    if (options.shapeOptional) {
      c.warn('SHAPE_MISSING', `${c.file}: ${at} has no shape; field ${name} accepts any rank`, { file: c.file, path: where });
      return null;
    }
    c.issue(where, 'a list of -1 or positive integers, [] or "scalar"', describe(shapeDoc));
    return undefined;
  }
  if (typeof shapeDoc === 'string' && shapeDoc.trim().toLowerCase() === 'scalar') return [];
  if (!Array.isArray(shapeDoc)) {
    c.issue(where, 'a list of -1 or positive integers, [] or "scalar"', describe(shapeDoc));
    return undefined;
  }
  if (shapeDoc.length > MAX_RANK) {
    c.issue(where, `at most ${MAX_RANK} dimensions`, `${shapeDoc.length}`);
    return undefined;
  }
  const shape: number[] = [];
  let ok = true;
  shapeDoc.forEach((d: unknown, i) => {
    if (typeof d === 'number' && Number.isSafeInteger(d) && (d === -1 || d > 0)) shape.push(d);
    else {
      ok = false;
      c.issue(`${where}[${i}]`, dimExpected(d), describe(d));
    }
  });
  return ok ? shape : undefined;
}

function fieldOf(c: Checker, at: string, name: string, doc: unknown, options: YamlContractOptions, depth: number): ContractField | null | 'over budget' {
  if (!isMap(doc)) {
    c.issue(at, 'a mapping with shape, type (or fields) and optionally profile', describe(doc));
    return null;
  }
  const body = canonicalKeys(c, doc, fieldKeys, at);
  c.unknownKeys(body, fieldKeys, at);
  const type = body.get('type');
  const subfields = body.get('fields');
  const shape = shapeOf(c, at, name, body.get('shape'), options);

  let field: ContractField | null = null;
  if (subfields !== undefined && subfields !== null && type !== undefined && type !== null) {
    c.issue(at, 'either type or fields (a record), not both', 'both');
  } else if (subfields !== undefined && subfields !== null) {
    const sat = childPath(at, 'fields');
    if (depth >= MAX_SUBFIELD_DEPTH) {
      c.issue(sat, `fields nested at most ${MAX_SUBFIELD_DEPTH} levels deep`, 'deeper');
      return null;
    }
    if (!isMap(subfields) || subfields.size === 0) {
      c.issue(sat, 'a mapping of field names to fields (a record)', describe(subfields));
    } else {
      const inner = fieldsOf(c, subfields, sat, options, depth + 1);
      if (inner === null) return 'over budget';
      if (shape !== undefined) field = { name, dtype: SUBFIELDS, shape, subfields: inner };
    }
  } else {
    const dtype = typeof type === 'string' ? dtypeFromServingYaml(type, { float: options.float }) : null;
    if (dtype === null) {
      c.issue(childPath(at, 'type'), `one of ${servingYamlTypeNames.join(', ')} (or fields: for a record)`, describe(type));
    } else if (shape !== undefined) {
      field = { name, dtype, shape };
    }
  }

  const profile = body.get('profile');
  if (profile !== undefined && profile !== null) {
    const known = typeof profile === 'string' ? profileFromName(profile) : null;
    if (known === null) {
      c.warn('UNKNOWN_PROFILE', `${c.file}: ${childPath(at, 'profile')} ${describe(profile)} is not a data profile; field ${name} gets none (known: numerical, categorical, text, image, …)`, {
        file: c.file, path: childPath(at, 'profile'), profile: describe(profile),
      });
    } else if (field) {
      field.profile = known;
    }
  }
  return field;
}
