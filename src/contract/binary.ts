import { MllError } from '../errors.js';
import { binaryDtypeNumber, dtypeFromBinary, isNamedDtype, profileFromNumber, profileNumber } from './dtypes.js';
import { sortSignatures } from './frameworks/common.js';
import { contractType, has, toNumber } from './proto/schemas.js';
import type { Contract, ContractField, ContractSignature, DType } from './types.js';

/**
 * The binary contract (contract.protobin): hydro-serving-protos' ModelContract. Canonical proto3
 * bytes: fields in number order, default values (empty name, NONE profile, unknown_rank false)
 * left out. A scalar is a present, empty shape; an unknown rank sets unknown_rank; a symbolic dim
 * keeps its name with size -1.
 */

interface PbDim { size: number; name?: string }
interface PbShape { dim: PbDim[]; unknown_rank?: boolean }
interface PbField { name?: string; shape?: PbShape; dtype?: number; subfields?: { data: PbField[] }; profile?: number }
interface PbSignature { signature_name?: string; inputs: PbField[]; outputs: PbField[] }
interface PbContract { model_name?: string; signatures: PbSignature[] }

function encodeField(f: ContractField, where: string): PbField {
  if (!isNamedDtype(f.dtype)) {
    throw new MllError(
      'UNSUPPORTED_DTYPE',
      `${where} has type ${f.dtype}, which the binary contract cannot hold; declare the field with a supported type in serving.yaml's contract`,
      { details: { field: where, dtype: f.dtype } },
    );
  }
  const out: PbField = {};
  if (f.name !== '') out.name = f.name;
  if (f.shape === null) {
    out.shape = { dim: [], unknown_rank: true };
  } else {
    out.shape = {
      dim: f.shape.map((size, i) => {
        const dimName = f.dimNames?.[i];
        const d: PbDim = { size };
        if (dimName) d.name = dimName;
        return d;
      }),
    };
  }
  out.dtype = binaryDtypeNumber[f.dtype];
  if (f.profile !== undefined && f.profile !== 'none') out.profile = profileNumber[f.profile];
  return out;
}

function encodeSignature(s: ContractSignature): PbSignature {
  const where = (dir: string, f: ContractField): string => `signature ${s.name}, ${dir} ${f.name}`;
  const sig: PbSignature = {
    inputs: s.inputs.map((f) => encodeField(f, where('input', f))),
    outputs: s.outputs.map((f) => encodeField(f, where('output', f))),
  };
  if (s.name !== '') sig.signature_name = s.name;
  return sig;
}

export function encodeContract(modelName: string, contract: Contract): Uint8Array {
  const msg: PbContract = { signatures: sortSignatures(contract.signatures).map(encodeSignature) };
  if (modelName !== '') msg.model_name = modelName;
  return contractType('ModelContract').encode(msg).finish();
}

function decodeField(f: PbField): ContractField {
  let dtype: DType;
  if (has(f, 'subfields')) dtype = 'unsupported:SUBFIELDS';
  else dtype = dtypeFromBinary(f.dtype ?? 0);
  let shape: number[] | null = null;
  let dimNames: (string | null)[] | undefined;
  if (has(f, 'shape') && !f.shape!.unknown_rank) {
    shape = f.shape!.dim.map((d) => toNumber(d.size));
    const names = f.shape!.dim.map((d) => (d.name ? d.name : null));
    if (names.some((n) => n !== null)) dimNames = names;
  }
  const out: ContractField = { name: f.name ?? '', dtype, shape };
  if (dimNames) out.dimNames = dimNames;
  const profile = profileFromNumber(f.profile ?? 0);
  if (profile !== undefined && profile !== 'none') out.profile = profile;
  return out;
}

/**
 * The inverse of encodeContract. The binary form has no framework: the result's `framework` is
 * the one passed in ('' by default). Fields with subfields (not expressible in the JSON form)
 * get dtype `unsupported:SUBFIELDS`; a field without a shape gets shape null.
 */
export function decodeContract(bytes: Uint8Array, framework = ''): { modelName: string; contract: Contract } {
  let msg: PbContract;
  try {
    msg = contractType('ModelContract').decode(bytes) as unknown as PbContract;
  } catch (err) {
    throw new MllError('INVALID_MODEL', `the binary contract cannot be decoded: ${(err as Error).message}`);
  }
  const signatures = msg.signatures.map((s) => ({
    name: s.signature_name ?? '',
    inputs: s.inputs.map(decodeField),
    outputs: s.outputs.map(decodeField),
  }));
  return { modelName: msg.model_name ?? '', contract: { framework, signatures: sortSignatures(signatures) } };
}
