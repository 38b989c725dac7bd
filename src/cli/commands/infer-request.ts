import type { ContractField, ContractSignature, DType } from '../../contract/index.js';
import { usageError } from '../errors.js';

/**
 * Open Inference Protocol (v2) request bodies for the Python runtime's HTTP face, built from the
 * contract: from `--input name=v1,v2` options (mll predict) or as an example (mll run's curl line).
 */

const oipTypes: Partial<Record<DType, string>> = {
  float: 'FP32', double: 'FP64', half: 'FP16', int8: 'INT8', int16: 'INT16', int32: 'INT32', int64: 'INT64',
  uint8: 'UINT8', uint16: 'UINT16', uint32: 'UINT32', uint64: 'UINT64', bool: 'BOOL', string: 'BYTES',
};

export interface OipTensor {
  name: string;
  shape: number[];
  datatype: string;
  data: unknown[];
}

export function oipDatatype(f: ContractField): string {
  const t = oipTypes[f.dtype];
  if (!t) throw usageError(`input ${f.name} has type ${f.dtype}, which the HTTP face cannot carry; call the runtime's gRPC face instead`);
  return t;
}

/** The only signature, or the one named; a usage error listing them otherwise. */
export function pickSignature(signatures: ContractSignature[], name: string | undefined): ContractSignature {
  const names = signatures.map((s) => s.name).join(', ');
  if (name !== undefined) {
    const found = signatures.find((s) => s.name === name);
    if (!found) throw usageError(`the model has no signature "${name}" (it has: ${names})`);
    return found;
  }
  if (signatures.length !== 1) throw usageError(`the model has several signatures (${names}); choose one with --signature`);
  return signatures[0]!;
}

function parseValue(raw: string, f: ContractField): unknown {
  if (f.dtype === 'string') return raw;
  if (f.dtype === 'bool') {
    if (/^(true|1)$/i.test(raw)) return true;
    if (/^(false|0)$/i.test(raw)) return false;
    throw usageError(`--input ${f.name}: "${raw}" is not true or false`);
  }
  const n = Number(raw.trim());
  if (raw.trim() === '' || Number.isNaN(n)) throw usageError(`--input ${f.name}: "${raw}" is not a number`);
  if (/int/.test(f.dtype) && !Number.isInteger(n)) throw usageError(`--input ${f.name}: "${raw}" is not a whole number (${f.dtype})`);
  return n;
}

/** The shape for `count` values: the contract's, with one -1 dim filled in. */
function shapeFor(f: ContractField, count: number): number[] {
  if (f.shape === null) return [count];
  const known = f.shape.filter((d) => d >= 0).reduce((a, b) => a * b, 1);
  const free = f.shape.filter((d) => d < 0).length;
  if (free === 0) {
    if (known !== count) throw usageError(`--input ${f.name}: the contract's shape [${f.shape.join(',')}] holds ${known} values, ${count} were given`);
    return f.shape;
  }
  if (free > 1) throw usageError(`--input ${f.name}: the contract's shape [${f.shape.join(',')}] has several free dims; give the shape with --shape ${f.name}=2x3`);
  if (count % known !== 0) throw usageError(`--input ${f.name}: ${count} values do not fill the shape [${f.shape.join(',')}]`);
  return f.shape.map((d) => (d < 0 ? count / known : d));
}

function parseShape(raw: string, name: string): number[] {
  if (raw === '' || raw === 'scalar') return [];
  const dims = raw.split('x').map(Number);
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw usageError(`--shape ${name}=${raw}: write the sizes as 2x3 (or "scalar")`);
  return dims;
}

function splitOption(option: string, raw: string): [string, string] {
  const eq = raw.indexOf('=');
  if (eq <= 0) throw usageError(`${option} ${raw}: write it as name=value`);
  return [raw.slice(0, eq), raw.slice(eq + 1)];
}

/** `--input x=1,2,3` (and `--shape x=3x1`) as tensors of the signature; every input is required. */
export function requestFromOptions(sig: ContractSignature, inputs: string[], shapes: string[] = []): { inputs: OipTensor[] } {
  const values = new Map(inputs.map((raw) => splitOption('--input', raw)));
  const shapeOf = new Map(shapes.map((raw) => splitOption('--shape', raw)));
  const expected = sig.inputs.map((f) => f.name).join(', ');
  for (const name of [...values.keys(), ...shapeOf.keys()]) {
    if (!sig.inputs.some((f) => f.name === name)) throw usageError(`signature ${sig.name} has no input "${name}" (it takes ${expected})`);
  }
  return {
    inputs: sig.inputs.map((f) => {
      const raw = values.get(f.name);
      if (raw === undefined) throw usageError(`signature ${sig.name} needs --input ${f.name}=… (it takes ${expected})`);
      const scalarText = f.dtype === 'string' && f.shape !== null && f.shape.length === 0 && !shapeOf.has(f.name);
      const data = (scalarText ? [raw] : raw.split(',')).map((v) => parseValue(v, f));
      const given = shapeOf.get(f.name);
      const shape = given !== undefined ? parseShape(given, f.name) : shapeFor(f, data.length);
      if (shape.length === 0 && data.length !== 1) throw usageError(`--input ${f.name}: a scalar takes one value, ${data.length} were given`);
      return { name: f.name, shape, datatype: oipDatatype(f), data };
    }),
  };
}

/** An example request for a signature: every free dim 2, counting numbers, "text" strings. */
export function exampleRequest(sig: ContractSignature): { inputs: OipTensor[] } {
  return {
    inputs: sig.inputs.map((f) => {
      const shape = f.shape === null ? [2] : f.shape.map((d) => (d < 0 ? 2 : d));
      const count = shape.reduce((a, b) => a * b, 1);
      const data = Array.from({ length: count }, (_, i) => (f.dtype === 'string' ? 'text' : f.dtype === 'bool' ? i % 2 === 0 : i + 1));
      return { name: f.name, shape, datatype: oipTypes[f.dtype] ?? f.dtype.toUpperCase(), data };
    }),
  };
}

/** The `--input` options of an example request (for the `mll predict` line mll run prints). */
export function exampleOptions(sig: ContractSignature): string {
  return exampleRequest(sig).inputs.map((t) => {
    const field = sig.inputs.find((f) => f.name === t.name)!;
    const scalarText = field.dtype === 'string' && t.shape.length === 0;
    const value = scalarText ? "'some text'" : t.data.join(',');
    return `--input ${t.name}=${value}`;
  }).join(' ');
}

/** Nested arrays of a flat row-major list, for printing. */
function nest(data: unknown[], shape: number[]): unknown {
  if (shape.length === 0) return data[0];
  if (shape.length === 1) return data;
  const [first, ...rest] = shape;
  const size = rest.reduce((a, b) => a * b, 1);
  return Array.from({ length: first! }, (_, i) => nest(data.slice(i * size, (i + 1) * size), rest));
}

export function renderOutputs(outputs: OipTensor[]): string {
  return outputs.map((o) => `${o.name} (${o.datatype} [${o.shape.join(',')}]): ${JSON.stringify(nest(o.data, o.shape))}`).join('\n') + '\n';
}
