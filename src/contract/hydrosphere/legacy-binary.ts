import protobuf from 'protobufjs';
import { dtypeFromBinary } from '../dtypes.js';
import { MAX_CONTRACT_FIELDS, MAX_SUBFIELD_DEPTH } from '../limits.js';
import { toNumber } from '../proto/schemas.js';
import { SUBFIELDS, type Contract, type ContractField } from '../types.js';

/**
 * The binary ModelContract of early 2018 (hydro-serving-protos before the `name`/`dtype` fields):
 * `ModelField { field_name = 1; oneof { Dict dict = 2; TensorInfo info = 3 } }`, with the type and
 * shape inside a TensorFlow TensorInfo and records as a map of fields. Only field numbers are
 * facts here; the schema text is this project's own, with what it reads.
 */
const legacyProto = `
syntax = "proto3";
package hydrosphere.legacy;

message ModelContract {
  string model_name = 1;
  repeated ModelSignature signatures = 2;
}
message ModelSignature {
  string signature_name = 1;
  repeated ModelField inputs = 2;
  repeated ModelField outputs = 3;
}
message ModelField {
  string field_name = 1;
  oneof info_or_dict {
    Dict dict = 2;
    TensorInfo info = 3;
  }
  message Dict {
    repeated DictEntry data = 1;
  }
  message DictEntry {
    string key = 1;
    ModelField value = 2;
  }
}
message TensorInfo {
  string name = 1;
  int32 dtype = 2;
  TensorShapeProto tensor_shape = 3;
}
message TensorShapeProto {
  repeated Dim dim = 2;
  bool unknown_rank = 3;
  message Dim {
    int64 size = 1;
    string name = 2;
  }
}
`;

interface LegacyShape { dim?: { size?: unknown; name?: string }[]; unknown_rank?: boolean }
interface LegacyField {
  field_name?: string;
  dict?: { data?: { key?: string; value?: LegacyField }[] };
  info?: { dtype?: number; tensor_shape?: LegacyShape };
}
interface LegacyContract { model_name?: string; signatures?: { signature_name?: string; inputs?: LegacyField[]; outputs?: LegacyField[] }[] }

let root: protobuf.Root | null = null;

function legacyType(): protobuf.Type {
  root ??= protobuf.parse(legacyProto, { keepCase: true }).root;
  return root.lookupType('hydrosphere.legacy.ModelContract');
}

function shapeOf(s: LegacyShape | undefined): Pick<ContractField, 'shape' | 'dimNames'> {
  if (!s || s.unknown_rank) return { shape: null };
  const dims = s.dim ?? [];
  const names = dims.map((d) => (d.name ? d.name : null));
  const shape = dims.map((d) => toNumber(d.size));
  return names.some((n) => n !== null) ? { shape, dimNames: names } : { shape };
}

/**
 * Decodes an early-2018 binary contract; null when the bytes are not one (a field with neither a
 * typed `info` nor a non-empty `dict`, or bytes protobuf cannot read).
 */
export function decodeLegacyContract(bytes: Uint8Array): { modelName: string; contract: Contract } | null {
  let msg: LegacyContract;
  try {
    msg = legacyType().decode(bytes) as unknown as LegacyContract;
  } catch {
    return null;
  }
  let count = 0;
  const field = (f: LegacyField, depth: number, keyName?: string): ContractField | null => {
    if (++count > MAX_CONTRACT_FIELDS || depth > MAX_SUBFIELD_DEPTH) return null;
    const name = f.field_name || keyName || '';
    if (f.info && f.info.dtype) return { name, dtype: dtypeFromBinary(f.info.dtype), ...shapeOf(f.info.tensor_shape) };
    const entries = f.dict?.data ?? [];
    if (entries.length === 0) return null;
    const subfields: ContractField[] = [];
    for (const e of entries) {
      const sub = e.value ? field(e.value, depth + 1, e.key) : null;
      if (!sub) return null;
      subfields.push(sub);
    }
    return { name, dtype: SUBFIELDS, shape: null, subfields };
  };
  const signatures = [];
  for (const s of msg.signatures ?? []) {
    const inputs: ContractField[] = [];
    const outputs: ContractField[] = [];
    for (const [list, out] of [[s.inputs ?? [], inputs], [s.outputs ?? [], outputs]] as const) {
      for (const f of list) {
        const read = field(f, 0);
        if (!read) return null;
        out.push(read);
      }
    }
    signatures.push({ name: s.signature_name ?? '', inputs, outputs });
  }
  if (signatures.length === 0) return null;
  return { modelName: msg.model_name ?? '', contract: { framework: '', signatures } };
}
