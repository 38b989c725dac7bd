/**
 * The contract in its JSON form, exactly as ../shared/CONTRACT.md writes it: the API, the CLI
 * and the fixtures all use this shape.
 */
export const dtypeNames = [
  'half', 'float', 'double', 'bfloat16', 'complex64', 'complex128', 'uint8', 'uint16', 'uint32', 'uint64',
  'int8', 'int16', 'int32', 'int64', 'bool', 'string', 'qint8', 'quint8', 'qint16', 'quint16', 'qint32',
  'resource', 'variant',
] as const;

export type NamedDType = (typeof dtypeNames)[number];
/** The dtype of a field that is a record of named fields (the binary form's `ModelField.subfields`). */
export const SUBFIELDS = 'subfields';
/** A type with no name in the list keeps its original enum name: `unsupported:FLOAT8E4M3FN`. */
export type DType = NamedDType | typeof SUBFIELDS | `unsupported:${string}`;

export const profileNames = [
  'none', 'categorical', 'nominal', 'ordinal', 'numerical', 'continuous', 'interval', 'ratio', 'image', 'video', 'audio', 'text',
] as const;
export type Profile = (typeof profileNames)[number];

export interface ContractField {
  name: string;
  dtype: DType;
  /** `null`: unknown rank; `[]`: scalar; -1: unknown size. */
  shape: number[] | null;
  /** Present only when some dim is symbolic; same length as `shape`. */
  dimNames?: (string | null)[];
  profile?: Profile;
  /** Present exactly when `dtype` is `subfields`: the record's fields, in document order. */
  subfields?: ContractField[];
}

export interface ContractSignature {
  name: string;
  inputs: ContractField[];
  outputs: ContractField[];
}

export interface Contract {
  /** tensorflow | onnx | keras | spark | python | … (the framework part of model-type). */
  framework: string;
  /** Sorted by name. */
  signatures: ContractSignature[];
}
