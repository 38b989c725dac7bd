import { MllError } from '../../errors.js';
import { dtypeFromKeras } from '../dtypes.js';
import type { Contract, ContractField, DType } from '../types.js';

/**
 * The contract of a Keras model from its `model_config` JSON (the root attribute of a Keras .h5),
 * following hydro-serving-manager's keras/ModelConfig with the extensions of
 * ../shared/fixtures/README.md: dict-style Sequential, class Functional, Keras 3 `batch_shape`
 * and DTypePolicy objects. One signature, `infer`.
 */

export const SIGNATURE = 'infer';

type Json = unknown;
type Obj = Record<string, Json>;

function isObj(v: Json): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function invalid(label: string, why: string): MllError {
  return new MllError('INVALID_MODEL', `${label}: the Keras model_config ${why}`, { details: { file: label } });
}

export function contractFromKerasConfig(config: Json, label: string): Contract {
  if (!isObj(config)) throw invalid(label, 'is not a JSON object');
  const cls = config.class_name;
  const body = config.config;
  if (cls === 'Sequential') {
    const layers = Array.isArray(body) ? body : isObj(body) ? body.layers : undefined;
    if (!Array.isArray(layers) || layers.length === 0) throw invalid(label, 'describes a Sequential model without layers');
    return signatureOf([fieldOf(layers[0], label)], [fieldOf(layers[layers.length - 1], label)]);
  }
  if (cls === 'Model' || cls === 'Functional') {
    if (!isObj(body) || !Array.isArray(body.layers)) throw invalid(label, `describes a ${cls} model without layers`);
    const inputNames = endpointNames(body.input_layers);
    const outputNames = endpointNames(body.output_layers);
    if (inputNames === null || outputNames === null) throw invalid(label, `lists its ${cls} input_layers/output_layers in an unknown form`);
    const pick = (names: ReadonlySet<string>): ContractField[] =>
      (body.layers as Json[]).filter((l) => names.has(layerName(l))).map((l) => fieldOf(l, label));
    return signatureOf(pick(inputNames), pick(outputNames));
  }
  throw invalid(label, `has model class ${JSON.stringify(cls ?? null)}; only Sequential, Model and Functional models can be read`);
}

function signatureOf(inputs: ContractField[], outputs: ContractField[]): Contract {
  return { framework: 'keras', signatures: [{ name: SIGNATURE, inputs, outputs }] };
}

/** `[[name, 0, 0], ...]`, or a single `[name, 0, 0]` (Keras 3 with one endpoint). */
function endpointNames(v: Json): Set<string> | null {
  if (!Array.isArray(v)) return null;
  if (v.length > 0 && typeof v[0] === 'string') return new Set([v[0]]);
  const names = new Set<string>();
  for (const e of v) {
    if (Array.isArray(e) && typeof e[0] === 'string') names.add(e[0]);
    else return null;
  }
  return names;
}

function layerName(layer: Json): string {
  if (!isObj(layer)) return '';
  if (typeof layer.name === 'string') return layer.name;
  const cfg = layer.config;
  return isObj(cfg) && typeof cfg.name === 'string' ? cfg.name : '';
}

function fieldOf(layer: Json, label: string): ContractField {
  if (!isObj(layer) || !isObj(layer.config)) throw invalid(label, 'has a layer without a config object');
  const cfg = layer.config;
  const name = typeof cfg.name === 'string' ? cfg.name : layerName(layer);
  return { name, dtype: dtypeOf(cfg.dtype), shape: shapeOf(cfg) };
}

function dtypeOf(v: Json): DType {
  if (v === undefined || v === null) return 'float';
  if (typeof v === 'string') return dtypeFromKeras(v);
  // Keras 3 DTypePolicy: {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}}
  if (isObj(v) && isObj(v.config) && typeof v.config.name === 'string') return dtypeFromKeras(v.config.name);
  return `unsupported:${JSON.stringify(v).slice(0, 64)}`;
}

function dims(v: Json): number[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const out: number[] = [];
  for (const d of v) {
    if (d === null) out.push(-1);
    else if (typeof d === 'number' && Number.isInteger(d)) out.push(d);
    else return undefined;
  }
  return out;
}

function shapeOf(cfg: Obj): number[] | null {
  for (const key of ['batch_input_shape', 'batch_shape']) {
    const s = dims(cfg[key]);
    if (s) return s;
  }
  const target = dims(cfg.target_shape);
  if (target) return target;
  if (typeof cfg.units === 'number' && Number.isInteger(cfg.units)) return [-1, cfg.units];
  return null;
}
