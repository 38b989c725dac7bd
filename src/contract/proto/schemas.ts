import protobuf from 'protobufjs';
import type { ContractField } from '../types.js';

/**
 * The project's own .proto definitions, each with only the fields the contract module reads or
 * writes (protobufjs skips every other field). Field numbers and enum values are facts of the
 * formats. The text lives in this module so that src/ (tsx) and dist/ (tsc) find it alike.
 *
 * Map fields (`map<string, X> m = n`) are declared as `repeated Entry m = n` with key = 1 and
 * value = 2: the same bytes on the wire, and the entries stay in file order. Messages that several
 * formats share (TensorFlow's shape and tensor info, the contract's outer messages) are written once.
 */

/** TensorFlow's TensorShapeProto, which the binary contracts of every era reuse. */
const tensorShapeMessage = `
message TensorShapeProto {
  repeated Dim dim = 2;
  bool unknown_rank = 3;
  message Dim {
    int64 size = 1;
    string name = 2;
  }
}
`;

/** TensorFlow's TensorInfo (the early-2018 contract kept a field's type and shape in one). */
const tensorInfoMessage = `
message TensorInfo {
  string name = 1;
  int32 dtype = 2;
  TensorShapeProto tensor_shape = 3;
}
`;

/** The contract's outer messages, the same in every era (each package defines its own ModelField). */
const contractMessages = `
message ModelContract {
  string model_name = 1;
  repeated ModelSignature signatures = 2;
}
message ModelSignature {
  string signature_name = 1;
  repeated ModelField inputs = 2;
  repeated ModelField outputs = 3;
}
`;

export const tensorflowProto = `
syntax = "proto3";
package mll.tensorflow;

message SavedModel {
  repeated MetaGraphDef meta_graphs = 2;
}
message MetaGraphDef {
  MetaInfoDef meta_info_def = 1;
  repeated SignatureDefEntry signature_def = 5;
}
message MetaInfoDef {
  repeated string tags = 4;
  string tensorflow_version = 5;
}
message SignatureDefEntry {
  string key = 1;
  SignatureDef value = 2;
}
message SignatureDef {
  repeated TensorInfoEntry inputs = 1;
  repeated TensorInfoEntry outputs = 2;
  string method_name = 3;
}
message TensorInfoEntry {
  string key = 1;
  TensorInfo value = 2;
}
${tensorInfoMessage}${tensorShapeMessage}`;

export const onnxProto = `
syntax = "proto2";
package mll.onnx;

message ModelProto {
  optional int64 ir_version = 1;
  optional string producer_name = 2;
  optional string producer_version = 3;
  optional GraphProto graph = 7;
  repeated OperatorSetIdProto opset_import = 8;
}
message OperatorSetIdProto {
  optional string domain = 1;
  optional int64 version = 2;
}
message GraphProto {
  repeated TensorProto initializer = 5;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
  repeated SparseTensorProto sparse_initializer = 15;
}
message TensorProto {
  optional string name = 8;
}
message SparseTensorProto {
  optional TensorProto values = 1;
}
message ValueInfoProto {
  optional string name = 1;
  optional TypeProto type = 2;
}
message TypeProto {
  optional Tensor tensor_type = 1;
  message Tensor {
    optional int32 elem_type = 1;
    optional TensorShapeProto shape = 2;
  }
}
message TensorShapeProto {
  repeated Dimension dim = 1;
  message Dimension {
    oneof value {
      int64 dim_value = 1;
      string dim_param = 2;
    }
  }
}
`;

/** hydro-serving-protos compatible ModelContract, as ../shared/CONTRACT.md specifies it. */
export const contractProto = `
syntax = "proto3";
package hydrosphere.contract;
${contractMessages}
message ModelField {
  string name = 1;
  TensorShapeProto shape = 2;
  oneof type_or_subfields {
    Subfield subfields = 3;
    int32 dtype = 4;
  }
  int32 profile = 10;
  message Subfield {
    repeated ModelField data = 1;
  }
}
${tensorShapeMessage}`;

/**
 * The binary ModelContract of early 2018 (hydro-serving-protos before the `name`/`dtype` fields):
 * `ModelField { field_name = 1; oneof { Dict dict = 2; TensorInfo info = 3 } }`, with the type and
 * shape inside a TensorFlow TensorInfo and records as a map of fields. Only field numbers are
 * facts here; the schema text is this project's own, with what it reads.
 */
export const legacyContractProto = `
syntax = "proto3";
package hydrosphere.legacy;
${contractMessages}
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
${tensorInfoMessage}${tensorShapeMessage}`;

const roots = new Map<string, protobuf.Root>();

function rootOf(text: string): protobuf.Root {
  let root = roots.get(text);
  if (!root) {
    root = protobuf.parse(text, { keepCase: true }).root;
    roots.set(text, root);
  }
  return root;
}

export function tensorflowType(name: string): protobuf.Type {
  return rootOf(tensorflowProto).lookupType(`mll.tensorflow.${name}`);
}

export function onnxType(name: string): protobuf.Type {
  return rootOf(onnxProto).lookupType(`mll.onnx.${name}`);
}

export function contractType(name: string): protobuf.Type {
  return rootOf(contractProto).lookupType(`hydrosphere.contract.${name}`);
}

export function legacyContractType(name: string): protobuf.Type {
  return rootOf(legacyContractProto).lookupType(`hydrosphere.legacy.${name}`);
}

/** int64 fields decode to Long objects (protobufjs has `long`); contracts use plain numbers. */
export function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v !== null && typeof v === 'object' && 'toNumber' in v && typeof (v as { toNumber: unknown }).toNumber === 'function') {
    return (v as { toNumber(): number }).toNumber();
  }
  return 0;
}

/** True when a decoded message has the field on the wire (defaults live on the prototype). */
export function has(msg: object, field: string): boolean {
  return Object.hasOwn(msg, field) && (msg as Record<string, unknown>)[field] !== null && (msg as Record<string, unknown>)[field] !== undefined;
}

/** A decoded TensorShapeProto. */
export interface ShapeMessage {
  dim?: { size?: unknown; name?: string }[];
  unknown_rank?: boolean;
}

/** A contract field's shape from a TensorShapeProto: none or an unknown rank is null; a named dim keeps its name. */
export function shapeFromMessage(s: ShapeMessage | null | undefined): Pick<ContractField, 'shape' | 'dimNames'> {
  if (!s || s.unknown_rank) return { shape: null };
  const dims = s.dim ?? [];
  const shape = dims.map((d) => toNumber(d.size));
  const names = dims.map((d) => (d.name ? d.name : null));
  return names.some((n) => n !== null) ? { shape, dimNames: names } : { shape };
}
