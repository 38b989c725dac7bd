import { dtypeFromTfName, profileFromName, profileFromNumber } from '../dtypes.js';
import { sortSignatures } from '../frameworks/common.js';
import { MAX_CONTRACT_FIELDS, MAX_RANK, MAX_SIGNATURES, MAX_SUBFIELD_DEPTH } from '../limits.js';
import { parseTextFormat, TextFormatError, type TextField, type TextMessage, type TextScalar } from '../prototxt.js';
import type { Report } from '../report.js';
import { isPlainName } from '../report.js';
import { SUBFIELDS, type ContractField, type ContractSignature, type Profile } from '../types.js';

/**
 * A `contract.prototxt` (Hydrosphere 2018a): a ModelContract in protobuf text format, read into
 * our contract. Both generations of hydro-serving-protos are understood:
 * - 2018 and later: `ModelField { name, shape { dim { size name } unknown_rank }, dtype | subfields { data },
 *   profile }`;
 * - early 2018: `ModelField { field_name, info { dtype tensor_shape } | dict { data { key value } } }`.
 * `predict { … }` (the 2019 ModelContract's single signature) counts as one more signature.
 * Unknown field names are warnings (issues when `strict`).
 */

export interface PrototxtContract {
  modelName: string;
  signatures: ContractSignature[];
}

const contractKeys = new Set(['model_name', 'signatures', 'predict']);
const signatureKeys = new Set(['signature_name', 'inputs', 'outputs']);
const fieldKeys = new Set(['name', 'field_name', 'shape', 'dtype', 'subfields', 'profile', 'info', 'dict']);
const shapeKeys = new Set(['dim', 'unknown_rank']);
const dimKeys = new Set(['size', 'name']);
const infoKeys = new Set(['name', 'dtype', 'tensor_shape']);
const recordKeys = new Set(['data']);

class Reader {
  fields = 0;
  constructor(
    readonly report: Report,
    readonly strict: boolean,
  ) {}

  unknown(msg: TextMessage, known: ReadonlySet<string>, at: string): void {
    for (const f of msg.fields) {
      if (known.has(f.name)) continue;
      const where = `${at}${at ? '.' : ''}${f.name}`;
      if (this.strict) this.report.issue(where, `one of ${[...known].join(', ')}`, `an unknown field ${f.name}`);
      else this.report.warn('CONTRACT_FILE_UNKNOWN_FIELD', `${this.report.file}: unknown field ${where} (line ${f.line}) is ignored`, { file: this.report.file, path: where });
    }
  }

  one(msg: TextMessage, name: string, at: string): TextField | undefined {
    const all = msg.fields.filter((f) => f.name === name);
    if (all.length > 1) this.report.issue(`${at}${at ? '.' : ''}${name}`, 'at most one value', `${all.length} values (lines ${all.map((f) => f.line).join(', ')})`);
    return all[0];
  }

  string(msg: TextMessage, name: string, at: string): string | undefined {
    const f = this.one(msg, name, at);
    if (!f) return undefined;
    if (f.value.kind === 'string') return f.value.value;
    this.report.issue(`${at}${at ? '.' : ''}${name}`, 'a quoted string', describeValue(f.value));
    return undefined;
  }

  message(f: TextField, at: string): TextMessage | null {
    if (f.value.kind === 'message') return f.value;
    this.report.issue(at, `a message ${f.name} { … }`, describeValue(f.value));
    return null;
  }
}

function describeValue(v: TextScalar | TextMessage): string {
  switch (v.kind) {
    case 'message':
      return 'a message { … }';
    case 'string':
      return JSON.stringify(v.value.length > 60 ? `${v.value.slice(0, 57)}...` : v.value);
    case 'number':
      return v.raw;
    default:
      return v.value;
  }
}

function shapeOf(r: Reader, shape: TextMessage, at: string): { shape: number[] | null; dimNames?: (string | null)[] } {
  r.unknown(shape, shapeKeys, at);
  const unknownRank = r.one(shape, 'unknown_rank', at);
  if (unknownRank && unknownRank.value.kind === 'identifier' && unknownRank.value.value === 'true') return { shape: null };
  if (unknownRank && !(unknownRank.value.kind === 'identifier' && unknownRank.value.value === 'false') && !(unknownRank.value.kind === 'number' && (unknownRank.value.value === 0 || unknownRank.value.value === 1))) {
    r.report.issue(`${at}.unknown_rank`, 'true or false', describeValue(unknownRank.value));
  } else if (unknownRank?.value.kind === 'number' && unknownRank.value.value === 1) return { shape: null };
  const dims = shape.fields.filter((f) => f.name === 'dim');
  if (dims.length > MAX_RANK) {
    r.report.issue(`${at}.dim`, `at most ${MAX_RANK} dimensions`, `${dims.length}`);
    return { shape: [] };
  }
  const sizes: number[] = [];
  const names: (string | null)[] = [];
  dims.forEach((d, i) => {
    const dat = `${at}.dim[${i}]`;
    const dim = r.message(d, dat);
    if (!dim) return;
    r.unknown(dim, dimKeys, dat);
    const size = r.one(dim, 'size', dat);
    const value = size === undefined ? 0 : size.value.kind === 'number' ? size.value.value : NaN;
    const name = r.string(dim, 'name', dat);
    if (Number.isSafeInteger(value) && value >= 1) sizes.push(value);
    else if (value === -1 || (value === 0 && name)) sizes.push(-1);
    else r.report.issue(`${dat}.size`, '-1 (any size) or a positive integer', size ? describeValue(size.value) : 'nothing (0)');
    names.push(name ? name : null);
  });
  return names.some((n) => n !== null) ? { shape: sizes, dimNames: names } : { shape: sizes };
}

function profileOf(r: Reader, msg: TextMessage, at: string, fieldName: string): Profile | undefined {
  const f = r.one(msg, 'profile', at);
  if (!f) return undefined;
  let profile: Profile | null | undefined = null;
  if (f.value.kind === 'identifier' || f.value.kind === 'string') profile = profileFromName(f.value.value);
  else if (f.value.kind === 'number') profile = profileFromNumber(f.value.value) ?? null;
  if (profile === null || profile === undefined) {
    r.report.warn('UNKNOWN_PROFILE', `${r.report.file}: ${at}.profile ${describeValue(f.value)} is not a data profile; field ${fieldName} gets NONE`, { file: r.report.file, path: `${at}.profile`, profile: describeValue(f.value) });
    return undefined;
  }
  return profile === 'none' ? undefined : profile;
}

function fieldOf(r: Reader, msg: TextMessage, at: string, depth: number, keyName?: string): ContractField | null {
  if (++r.fields > MAX_CONTRACT_FIELDS) {
    if (r.fields === MAX_CONTRACT_FIELDS + 1) r.report.issue(at, `at most ${MAX_CONTRACT_FIELDS} fields in the whole contract`, 'more');
    return null;
  }
  r.unknown(msg, fieldKeys, at);
  const name = r.string(msg, 'name', at) ?? r.string(msg, 'field_name', at) ?? keyName;
  if (name === undefined || !isPlainName(name)) {
    r.report.issue(`${at}.name`, 'a field name (no spaces or control characters)', name === undefined ? 'nothing' : JSON.stringify(name));
  }
  const info = r.one(msg, 'info', at);
  const infoMsg = info ? r.message(info, `${at}.info`) : null;
  if (infoMsg) r.unknown(infoMsg, infoKeys, `${at}.info`);
  const holder = infoMsg ?? msg;
  const holderAt = infoMsg ? `${at}.info` : at;

  const shapeField = r.one(holder, infoMsg ? 'tensor_shape' : 'shape', holderAt);
  let shape: { shape: number[] | null; dimNames?: (string | null)[] } = { shape: null };
  if (shapeField) {
    const shapeMsg = r.message(shapeField, `${holderAt}.${shapeField.name}`);
    if (shapeMsg) shape = shapeOf(r, shapeMsg, `${holderAt}.${shapeField.name}`);
  }

  const record = r.one(msg, 'subfields', at) ?? r.one(msg, 'dict', at);
  const dtypeField = r.one(holder, 'dtype', holderAt);
  let field: ContractField | null = null;
  if (record && dtypeField) {
    r.report.issue(at, 'either dtype or subfields, not both', 'both');
  } else if (record) {
    const rat = `${at}.${record.name}`;
    if (depth >= MAX_SUBFIELD_DEPTH) {
      r.report.issue(rat, `subfields at most ${MAX_SUBFIELD_DEPTH} levels deep`, 'deeper');
      return null;
    }
    const recordMsg = r.message(record, rat);
    if (recordMsg) r.unknown(recordMsg, recordKeys, rat);
    const subfields: ContractField[] = [];
    for (const [i, data] of (recordMsg?.fields ?? []).filter((f) => f.name === 'data').entries()) {
      const dat = `${rat}.data[${i}]`;
      const dataMsg = r.message(data, dat);
      if (!dataMsg) continue;
      // Early 2018: `dict { data { key: "a" value { … } } }` (a protobuf map).
      const value = record.name === 'dict' ? r.one(dataMsg, 'value', dat) : undefined;
      const key = record.name === 'dict' ? r.string(dataMsg, 'key', dat) : undefined;
      const inner = value ? r.message(value, `${dat}.value`) : record.name === 'dict' ? null : dataMsg;
      if (!inner) {
        if (record.name === 'dict') r.report.issue(`${dat}.value`, 'the field as value { … }', 'nothing');
        continue;
      }
      const sub = fieldOf(r, inner, value ? `${dat}.value` : dat, depth + 1, key);
      if (sub) subfields.push(sub);
    }
    if (subfields.length === 0 && recordMsg) r.report.issue(rat, 'at least one field in data', 'none');
    field = { name: name ?? '', dtype: SUBFIELDS, ...shape, subfields };
  } else if (dtypeField) {
    const v = dtypeField.value;
    const dtype = v.kind === 'identifier' || v.kind === 'number' ? dtypeFromTfName(v.value) : null;
    if (dtype === null || dtype.startsWith('unsupported:')) {
      r.report.issue(`${holderAt}.dtype`, 'a TensorFlow DataType such as DT_FLOAT, DT_DOUBLE, DT_INT64, DT_STRING, DT_BOOL', describeValue(v));
    } else {
      field = { name: name ?? '', dtype, ...shape };
    }
  } else {
    r.report.issue(`${holderAt}.dtype`, 'a dtype (e.g. DT_DOUBLE) or subfields { data { … } }', 'nothing');
  }
  const profile = profileOf(r, msg, at, name ?? '?');
  if (field && profile) field.profile = profile;
  return field;
}

function signatureOf(r: Reader, msg: TextMessage, at: string, fallbackName: string): ContractSignature {
  r.unknown(msg, signatureKeys, at);
  const name = r.string(msg, 'signature_name', at) ?? fallbackName;
  if (!isPlainName(name)) r.report.issue(`${at}.signature_name`, 'a signature name (no spaces or control characters)', JSON.stringify(name));
  const signature: ContractSignature = { name, inputs: [], outputs: [] };
  for (const dir of ['inputs', 'outputs'] as const) {
    const list = msg.fields.filter((f) => f.name === dir);
    if (list.length === 0) r.report.issue(`${at}.${dir}`, `at least one ${dir === 'inputs' ? 'input' : 'output'} field`, 'none');
    list.forEach((f, i) => {
      const fat = `${at}.${dir}[${i}]`;
      const fieldMsg = r.message(f, fat);
      const field = fieldMsg ? fieldOf(r, fieldMsg, fat, 0) : null;
      if (field) signature[dir].push(field);
    });
  }
  return signature;
}

/**
 * Reads a contract.prototxt. Issues (file, path, expected, found) and warnings go to `report`;
 * the result is null when the text cannot be parsed at all.
 */
export function contractFromPrototxt(text: string, report: Report, options: { strict?: boolean } = {}): PrototxtContract | null {
  let doc: TextMessage;
  try {
    doc = parseTextFormat(text);
  } catch (err) {
    if (!(err instanceof TextFormatError)) throw err;
    report.issue(`line ${err.line}, column ${err.column}`, 'a ModelContract in protobuf text format', err.reason);
    return null;
  }
  const r = new Reader(report, options.strict === true);
  r.unknown(doc, contractKeys, '');
  const modelName = r.string(doc, 'model_name', '') ?? '';
  const sigs = doc.fields.filter((f) => f.name === 'signatures' || f.name === 'predict');
  if (sigs.length === 0) report.issue('signatures', 'at least one signatures { signature_name inputs outputs }', 'none');
  if (sigs.length > MAX_SIGNATURES) {
    report.issue('signatures', `at most ${MAX_SIGNATURES} signatures`, `${sigs.length}`);
    return null;
  }
  const signatures: ContractSignature[] = [];
  let index = 0;
  for (const f of sigs) {
    const at = f.name === 'predict' ? 'predict' : `signatures[${index++}]`;
    const msg = r.message(f, at);
    if (msg) signatures.push(signatureOf(r, msg, at, f.name === 'predict' ? 'Predict' : ''));
  }
  const seen = new Set<string>();
  for (const s of signatures) {
    if (seen.has(s.name)) report.issue('signatures', 'signature names that differ', `${JSON.stringify(s.name)} twice`);
    seen.add(s.name);
  }
  return { modelName, signatures: sortSignatures(signatures) };
}
