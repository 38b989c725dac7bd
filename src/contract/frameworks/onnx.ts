import { MllError } from '../../errors.js';
import { dtypeFromOnnx } from '../dtypes.js';
import { has, onnxType, toNumber } from '../proto/schemas.js';
import type { ContractField } from '../types.js';
import { measuredRead } from '../wire/file-source.js';
import type { ByteSource, PrunePlan } from '../wire/prune.js';
import { decodePruned } from '../wire/read-proto.js';
import { UNKNOWN_VERSION, type Inferred } from './common.js';

/**
 * ONNX (*.onnx): one signature `infer` with graph.input minus initializers and graph.output.
 * Nodes, initializer data and everything else are skipped without being read: only each
 * initializer's name is kept.
 *
 * model-type: `onnx:<opset>`, the opset of the default operator domain ("" or "ai.onnx") the
 * model imports; `onnx:1` when it imports none (IR < 3 models, or models using only other domains,
 * as ONNX itself implies opset 1 then).
 */

interface Dimension { value?: 'dim_value' | 'dim_param'; dim_value?: unknown; dim_param?: string }
interface TensorShape { dim: Dimension[] }
interface TensorType { elem_type?: number; shape?: TensorShape | null }
interface TypeProto { tensor_type?: TensorType | null }
interface ValueInfo { name?: string; type?: TypeProto | null }
interface Graph {
  initializer: { name?: string }[];
  sparse_initializer: { values?: { name?: string } | null }[];
  input: ValueInfo[];
  output: ValueInfo[];
}
interface OpsetId { domain?: string; version?: unknown }
interface Model {
  ir_version?: unknown;
  producer_name?: string;
  producer_version?: string;
  graph?: Graph | null;
  opset_import: OpsetId[];
}

const plan: PrunePlan = {
  keep: [1, 2, 3, 8],
  descend: {
    7: {
      keep: [11, 12],
      descend: {
        5: { keep: [8] },
        15: { descend: { 1: { keep: [8] } } },
      },
    },
  },
};

export const SIGNATURE = 'infer';

export async function inferOnnxFrom(src: ByteSource, label: string): Promise<Inferred> {
  const model = await decodePruned<Model>(src, plan, onnxType('ModelProto'), label, 'an ONNX model');
  if (!has(model, 'graph')) {
    throw new MllError('INVALID_MODEL', `${label} is not an ONNX model: it has no graph (empty, truncated or another kind of file)`, {
      details: { file: label },
    });
  }
  const graph = model.graph!;
  if (graph.output.length === 0) {
    throw new MllError('INVALID_MODEL', `${label} is not a usable ONNX model: its graph declares no outputs`, { details: { file: label } });
  }
  const initializers = new Set<string>();
  for (const t of graph.initializer) if (t.name) initializers.add(t.name);
  for (const s of graph.sparse_initializer) if (s.values?.name) initializers.add(s.values.name);

  const inputs = graph.input.filter((v) => !initializers.has(v.name ?? '')).map(fieldOf);
  const outputs = graph.output.map(fieldOf);
  return {
    contract: { framework: 'onnx', signatures: [{ name: SIGNATURE, inputs, outputs }] },
    modelType: `onnx:${opsetOf(model)}`,
  };
}

function opsetOf(model: Model): string {
  const main = model.opset_import.find((o) => (o.domain ?? '') === '' || o.domain === 'ai.onnx');
  if (!main) return '1';
  const v = toNumber(main.version);
  return Number.isSafeInteger(v) && v > 0 ? String(v) : UNKNOWN_VERSION;
}

function fieldOf(v: ValueInfo): ContractField {
  const name = v.name ?? '';
  // Only tensor_type is read, as the rules say: a value of another kind (sequence, map, optional,
  // sparse tensor) or without a type has elem_type UNDEFINED and no shape.
  const tensor = v.type && has(v.type, 'tensor_type') ? v.type.tensor_type! : undefined;
  if (!tensor) return { name, dtype: 'unsupported:UNDEFINED', shape: null };
  const dtype = dtypeFromOnnx(tensor.elem_type ?? 0);
  if (!has(tensor, 'shape')) return { name, dtype, shape: null };
  const shape: number[] = [];
  const dimNames: (string | null)[] = [];
  for (const d of tensor.shape!.dim) {
    if (d.value === 'dim_value') {
      shape.push(toNumber(d.dim_value));
      dimNames.push(null);
    } else if (d.value === 'dim_param') {
      shape.push(-1);
      dimNames.push(d.dim_param ?? '');
    } else {
      shape.push(-1);
      dimNames.push(null);
    }
  }
  return dimNames.some((n) => n !== null) ? { name, dtype, shape, dimNames } : { name, dtype, shape };
}

export async function inferOnnx(file: string, label: string): Promise<Inferred> {
  const { value, bytesRead, size } = await measuredRead(file, (src) => inferOnnxFrom(src, label));
  return { ...value, stats: { file: label, bytesRead, size } };
}
