import { MllError } from '../errors.js';
import { binaryDtypeNumber, dtypeFromBinary, isNamedDtype, profileFromNumber, profileNumber } from './dtypes.js';
import { sortSignatures } from './frameworks/common.js';
import { contractType, has, shapeFromMessage } from './proto/schemas.js';
import { MAX_CONTRACT_FIELDS, MAX_SUBFIELD_DEPTH } from './limits.js';
import { SUBFIELDS, type Contract, type NamedDType, type ContractField, type ContractSignature, type DType } from './types.js';

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
  const isRecord = f.dtype === SUBFIELDS;
  if (!isRecord && !isNamedDtype(f.dtype)) {
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
  if (isRecord) out.subfields = { data: (f.subfields ?? []).map((sub) => encodeField(sub, `${where}.${sub.name}`)) };
  else out.dtype = binaryDtypeNumber[f.dtype as NamedDType];
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

class Budget {
  fields = 0;
}

function decodeField(f: PbField, depth: number, budget: Budget): ContractField {
  if (++budget.fields > MAX_CONTRACT_FIELDS) throw new Error(`more than ${MAX_CONTRACT_FIELDS} fields`);
  const isRecord = has(f, 'subfields');
  if (isRecord && depth >= MAX_SUBFIELD_DEPTH) throw new Error(`subfields nested more than ${MAX_SUBFIELD_DEPTH} levels deep`);
  const dtype: DType = isRecord ? SUBFIELDS : dtypeFromBinary(f.dtype ?? 0);
  const out: ContractField = { name: f.name ?? '', dtype, ...shapeFromMessage(has(f, 'shape') ? f.shape : null) };
  const profile = profileFromNumber(f.profile ?? 0);
  if (profile !== undefined && profile !== 'none') out.profile = profile;
  if (isRecord) out.subfields = f.subfields!.data.map((sub) => decodeField(sub, depth + 1, budget));
  return out;
}

/**
 * The inverse of encodeContract. The binary form has no framework: the result's `framework` is
 * the one passed in ('' by default). A field with subfields gets dtype `subfields` and its
 * fields in `subfields`; a field without a shape gets shape null. Bounded: at most
 * MAX_CONTRACT_FIELDS fields and MAX_SUBFIELD_DEPTH levels of subfields.
 */
export function decodeContract(bytes: Uint8Array, framework = ''): { modelName: string; contract: Contract } {
  let msg: PbContract;
  let signatures: ContractSignature[];
  try {
    msg = contractType('ModelContract').decode(bytes) as unknown as PbContract;
    const budget = new Budget();
    signatures = msg.signatures.map((s) => ({
      name: s.signature_name ?? '',
      inputs: s.inputs.map((f) => decodeField(f, 0, budget)),
      outputs: s.outputs.map((f) => decodeField(f, 0, budget)),
    }));
  } catch (err) {
    throw new MllError('INVALID_MODEL', `the binary contract cannot be decoded: ${(err as Error).message}`, { cause: err });
  }
  return { modelName: msg.model_name ?? '', contract: { framework, signatures: sortSignatures(signatures) } };
}
