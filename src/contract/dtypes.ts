import { dtypeNames, profileNames, type DType, type NamedDType, type Profile } from './types.js';

/**
 * Element-type tables of every format the contract module reads or writes. Enum numbers are facts
 * of each format; a number with no name in our dtype list maps to `unsupported:<enum name>`
 * (or `unsupported:UNKNOWN_<n>` when the format itself has no name for it).
 */

/** TensorFlow `DataType` (also the numbering of the binary contract). */
const tfDataTypeNames: readonly string[] = [
  'DT_INVALID', 'DT_FLOAT', 'DT_DOUBLE', 'DT_INT32', 'DT_UINT8', 'DT_INT16', 'DT_INT8', 'DT_STRING',
  'DT_COMPLEX64', 'DT_INT64', 'DT_BOOL', 'DT_QINT8', 'DT_QUINT8', 'DT_QINT32', 'DT_BFLOAT16', 'DT_QINT16',
  'DT_QUINT16', 'DT_UINT16', 'DT_COMPLEX128', 'DT_HALF', 'DT_RESOURCE', 'DT_VARIANT', 'DT_UINT32', 'DT_UINT64',
  'DT_FLOAT8_E5M2', 'DT_FLOAT8_E4M3FN', 'DT_FLOAT8_E4M3FNUZ', 'DT_FLOAT8_E4M3B11FNUZ', 'DT_FLOAT8_E5M2FNUZ',
  'DT_INT4', 'DT_UINT4', 'DT_INT2', 'DT_UINT2',
];
/** TF numbers 1..23 in our names (index = enum number). */
const tfNamed: readonly (NamedDType | null)[] = [
  null, 'float', 'double', 'int32', 'uint8', 'int16', 'int8', 'string', 'complex64', 'int64', 'bool', 'qint8',
  'quint8', 'qint32', 'bfloat16', 'qint16', 'quint16', 'uint16', 'complex128', 'half', 'resource', 'variant',
  'uint32', 'uint64',
];
/** `*_REF` variants are the base number + 100 (DT_FLOAT_REF = 101). */
const TF_REF_OFFSET = 100;

export function tfEnumName(n: number): string {
  if (n >= 0 && n < tfDataTypeNames.length) return tfDataTypeNames[n]!;
  if (n > TF_REF_OFFSET && n - TF_REF_OFFSET < tfDataTypeNames.length) return `${tfDataTypeNames[n - TF_REF_OFFSET]!}_REF`;
  return `UNKNOWN_${n}`;
}

export function dtypeFromTf(n: number): DType {
  const named = n >= 0 && n < tfNamed.length ? tfNamed[n] : null;
  return named ?? `unsupported:${tfEnumName(n)}`;
}

/** The binary contract's DataType number of a named dtype (TensorFlow numbering). */
export const binaryDtypeNumber: Readonly<Record<NamedDType, number>> = Object.fromEntries(
  tfNamed.flatMap((name, n) => (name === null ? [] : [[name, n]])),
) as Record<NamedDType, number>;

export function dtypeFromBinary(n: number): DType {
  return dtypeFromTf(n);
}

/** ONNX `TensorProto.DataType`. */
const onnxDataTypeNames: readonly string[] = [
  'UNDEFINED', 'FLOAT', 'UINT8', 'INT8', 'UINT16', 'INT16', 'INT32', 'INT64', 'STRING', 'BOOL', 'FLOAT16',
  'DOUBLE', 'UINT32', 'UINT64', 'COMPLEX64', 'COMPLEX128', 'BFLOAT16', 'FLOAT8E4M3FN', 'FLOAT8E4M3FNUZ',
  'FLOAT8E5M2', 'FLOAT8E5M2FNUZ', 'UINT4', 'INT4', 'FLOAT4E2M1', 'FLOAT8E8M0', 'UINT2', 'INT2',
];
const onnxNamed: readonly (NamedDType | null)[] = [
  null, 'float', 'uint8', 'int8', 'uint16', 'int16', 'int32', 'int64', 'string', 'bool', 'half', 'double',
  'uint32', 'uint64', 'complex64', 'complex128', 'bfloat16',
];

export function onnxEnumName(n: number): string {
  return n >= 0 && n < onnxDataTypeNames.length ? onnxDataTypeNames[n]! : `UNKNOWN_${n}`;
}

export function dtypeFromOnnx(n: number): DType {
  const named = n >= 0 && n < onnxNamed.length ? onnxNamed[n] : null;
  return named ?? `unsupported:${onnxEnumName(n)}`;
}

/** Keras / NumPy dtype names. Names already in our list (e.g. `int32`, `bool`) map to themselves. */
const kerasAliases: Readonly<Record<string, NamedDType>> = {
  float16: 'half', float32: 'float', float64: 'double',
};

const namedSet: ReadonlySet<string> = new Set(dtypeNames);

export function isNamedDtype(s: string): s is NamedDType {
  return namedSet.has(s);
}

export function dtypeFromKeras(name: string): DType {
  if (Object.hasOwn(kerasAliases, name)) return kerasAliases[name]!;
  if (isNamedDtype(name)) return name;
  return `unsupported:${name}`;
}

/** DataProfileType numbers of the binary contract. */
export const profileNumber: Readonly<Record<Profile, number>> = {
  none: 0, categorical: 1, nominal: 11, ordinal: 12, numerical: 2, continuous: 21, interval: 22, ratio: 23,
  image: 3, video: 4, audio: 5, text: 6,
};

const profileByNumber = new Map<number, Profile>(Object.entries(profileNumber).map(([k, v]) => [v, k as Profile]));

export function profileFromNumber(n: number): Profile | undefined {
  return profileByNumber.get(n);
}

const profileSet: ReadonlySet<string> = new Set(profileNames);
export function isProfile(s: string): s is Profile {
  return profileSet.has(s);
}

/**
 * Type names a serving.yaml may use besides ours: NumPy's and Hydrosphere's (hydro-serving-cli,
 * hydrosdk) and TensorFlow's enum names (`DT_FLOAT`). Case does not matter.
 */
const servingYamlAliases: Readonly<Record<string, NamedDType>> = {
  float16: 'half', float32: 'float', float64: 'double', single: 'float',
  byte: 'int8', short: 'int16', int: 'int64', ubyte: 'uint8', ushort: 'uint16',
  str: 'string', bytes: 'string', complex: 'complex128',
  // NumPy's scalar type names (`np.float_` is 64-bit whatever a bare float means) and Python 2's.
  float_: 'double', int_: 'int64', bool_: 'bool', str_: 'string', bytes_: 'string', unicode: 'string', unicode_: 'string', long: 'int64',
};

export interface DtypeNameOptions {
  /**
   * What a bare `float` means. ML Lambda (and TensorFlow) read it as 32-bit; hydrosdk 3 and the
   * hs 3.x CLI, which wrote the one-signature serving.yaml, read it as NumPy's float: 64-bit.
   */
  float: 'float' | 'double';
}

/** The dtype a serving.yaml `type` names, or null when the name is none we know. */
export function dtypeFromServingYaml(raw: string, options: DtypeNameOptions = { float: 'float' }): NamedDType | null {
  // `np.float32`, `numpy.int64`, `tf.string`: the module prefix says nothing more.
  const name = raw.trim().toLowerCase().replace(/^(np|numpy|tf|tensorflow)\./, '');
  // A TensorFlow enum name says its width: DT_FLOAT is 32-bit in every dialect.
  if (name.startsWith('dt_')) {
    const tf = dtypeFromTfName(name);
    return tf !== null && isNamedDtype(tf) ? tf : null;
  }
  if (name === 'float') return options.float;
  if (Object.hasOwn(servingYamlAliases, name)) return servingYamlAliases[name]!;
  return isNamedDtype(name) ? name : null;
}

/** Every type name dtypeFromServingYaml accepts (for messages). */
export const servingYamlTypeNames: readonly string[] = [...dtypeNames, ...Object.keys(servingYamlAliases)];

/** A profile written in any case (`NUMERICAL`, `Text`); null for names that are not profiles. */
export function profileFromName(raw: string): Profile | null {
  const name = raw.trim().toLowerCase();
  return isProfile(name) ? name : null;
}

/** The TensorFlow enum name of a named dtype (`DT_DOUBLE`), as Hydrosphere's JSON writes it. */
export function tfEnumNameOf(dtype: NamedDType): string {
  return tfEnumName(binaryDtypeNumber[dtype]);
}

/** A TensorFlow enum name (`DT_DOUBLE`, any case) or number as our dtype; null for DT_INVALID and unknown names. */
export function dtypeFromTfName(raw: string | number): DType | null {
  if (typeof raw === 'number') return Number.isInteger(raw) && raw > 0 ? dtypeFromTf(raw) : null;
  const index = tfDataTypeNames.indexOf(raw.trim().toUpperCase());
  if (index > 0) return dtypeFromTf(index);
  return null;
}
