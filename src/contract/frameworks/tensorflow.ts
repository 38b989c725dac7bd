import { MllError } from '../../errors.js';
import { dtypeFromTf } from '../dtypes.js';
import { has, tensorflowType, toNumber } from '../proto/schemas.js';
import type { ContractField, ContractSignature } from '../types.js';
import { measuredRead } from '../wire/file-source.js';
import type { ByteSource, PrunePlan } from '../wire/prune.js';
import { decodePruned } from '../wire/read-proto.js';
import { NeedsContract, sortSignatures, UNKNOWN_VERSION, type Inferred } from './common.js';

/**
 * TensorFlow SavedModel (saved_model.pb): the MetaGraph tagged `serve`, one signature per
 * signature_def key (except __saved_model_init_op), fields in file order. The graph, the
 * stripped op list, collections and the object graph are skipped without being read.
 */

interface Dim { size?: unknown; name?: string }
interface TensorShape { dim: Dim[]; unknown_rank: boolean }
interface TensorInfo { dtype: number; tensor_shape?: TensorShape | null }
interface TensorInfoEntry { key: string; value?: TensorInfo | null }
interface SignatureDef { inputs: TensorInfoEntry[]; outputs: TensorInfoEntry[] }
interface SignatureDefEntry { key: string; value?: SignatureDef | null }
interface MetaInfoDef { tags: string[]; tensorflow_version: string }
interface MetaGraphDef { meta_info_def?: MetaInfoDef | null; signature_def: SignatureDefEntry[] }
interface SavedModel { meta_graphs: MetaGraphDef[] }

const plan: PrunePlan = {
  descend: {
    2: {
      keep: [5],
      descend: { 1: { keep: [4, 5] } },
    },
  },
};

const INIT_OP = '__saved_model_init_op';
const SERVE = 'serve';

export async function inferTensorflowFrom(src: ByteSource, label: string): Promise<Inferred> {
  const saved = await decodePruned<SavedModel>(src, plan, tensorflowType('SavedModel'), label, 'a TensorFlow SavedModel');
  const graphs = saved.meta_graphs;
  if (graphs.length === 0) {
    throw new MllError('INVALID_MODEL', `${label} holds no MetaGraph: it is not a TensorFlow SavedModel (empty, truncated or another file)`, {
      details: { file: label },
    });
  }
  const tagsOf = (g: MetaGraphDef): string[] => g.meta_info_def?.tags ?? [];
  const graph =
    graphs.find((g) => {
      const tags = new Set(tagsOf(g));
      return tags.size === 1 && tags.has(SERVE);
    }) ?? graphs.find((g) => tagsOf(g).includes(SERVE));
  if (!graph) {
    const found = graphs.map((g) => `[${tagsOf(g).join(', ')}]`).join(', ');
    throw new MllError('INVALID_MODEL', `${label} has no MetaGraph tagged "serve" (found tags ${found}); export it with the serve tag`, {
      details: { file: label, tags: graphs.map(tagsOf) },
    });
  }

  const entries = new Map<string, SignatureDef>();
  for (const e of graph.signature_def) {
    if (e.key === INIT_OP) continue;
    entries.set(e.key, e.value ?? { inputs: [], outputs: [] });
  }
  const version = graph.meta_info_def?.tensorflow_version || UNKNOWN_VERSION;
  if (entries.size === 0) {
    throw new NeedsContract(`${label} (TensorFlow ${version}) defines no signatures in its serve MetaGraph`, `tensorflow:${version}`);
  }
  const signatures: ContractSignature[] = [];
  for (const [name, def] of entries) {
    signatures.push({ name, inputs: fieldsOf(def.inputs), outputs: fieldsOf(def.outputs) });
  }
  return {
    contract: { framework: 'tensorflow', signatures: sortSignatures(signatures) },
    modelType: `tensorflow:${version}`,
  };
}

function fieldsOf(entries: TensorInfoEntry[]): ContractField[] {
  const byKey = new Map<string, TensorInfo | null | undefined>();
  for (const e of entries) byKey.set(e.key, e.value);
  return [...byKey].map(([name, info]) => ({
    name,
    dtype: dtypeFromTf(info?.dtype ?? 0),
    shape: shapeOf(info),
  }));
}

function shapeOf(info: TensorInfo | null | undefined): number[] | null {
  if (!info || !has(info, 'tensor_shape')) return null;
  const shape = info.tensor_shape!;
  if (shape.unknown_rank) return null;
  return shape.dim.map((d) => (has(d, 'size') ? toNumber(d.size) : 0));
}

export async function inferTensorflow(file: string, label: string): Promise<Inferred> {
  const { value, bytesRead, size } = await measuredRead(file, (src) => inferTensorflowFrom(src, label));
  return { ...value, stats: { file: label, bytesRead, size } };
}
