import { binaryDtypeNumber, isNamedDtype, tfEnumName } from '../../contract/dtypes.js';
import type { Contract, ContractField, ContractSignature } from '../../contract/types.js';

/**
 * Our contract in the JSON shapes Hydrosphere's clients read back: the proto3 JSON of
 * hydro-serving-protos' ModelField (v1 and v2: `shape.dim[].size`, `dtype: "DT_FLOAT"`,
 * `profile: "NUMERICAL"`) and hydrosdk 3's signature (`shape.dims`, null for an unknown rank).
 */
export interface V2Field {
  name: string;
  profile: string;
  shape: { dim: { size: number; name: string }[]; unknownRank: boolean };
  dtype: string;
}

export interface V2Signature {
  signatureName: string;
  inputs: V2Field[];
  outputs: V2Field[];
}

export interface V3Field {
  name: string;
  profile: string;
  shape: { dims: number[] } | null;
  dtype: string;
}

export interface V3Signature {
  signatureName: string;
  inputs: V3Field[];
  outputs: V3Field[];
}

function dtypeName(field: ContractField): string {
  return isNamedDtype(field.dtype) ? tfEnumName(binaryDtypeNumber[field.dtype]) : 'DT_INVALID';
}

const profileName = (field: ContractField) => (field.profile ?? 'none').toUpperCase();

function v2Field(field: ContractField): V2Field {
  return {
    name: field.name,
    profile: profileName(field),
    shape: field.shape === null
      ? { dim: [], unknownRank: true }
      : { dim: field.shape.map((size, i) => ({ size, name: field.dimNames?.[i] ?? '' })), unknownRank: false },
    dtype: dtypeName(field),
  };
}

function v3Field(field: ContractField): V3Field {
  return { name: field.name, profile: profileName(field), shape: field.shape === null ? null : { dims: [...field.shape] }, dtype: dtypeName(field) };
}

/**
 * Hydrosphere 2.x and 3.x models have one signature: the one named like Hydrosphere's default
 * (`predict`, any case) when there are several, else the first.
 */
export function mainSignature(contract: Contract | null): ContractSignature | null {
  const signatures = contract?.signatures ?? [];
  return signatures.find((s) => s.name.toLowerCase() === 'predict') ?? signatures[0] ?? null;
}

function v2Signature(signature: ContractSignature | null): V2Signature {
  return { signatureName: signature?.name ?? '', inputs: signature?.inputs.map(v2Field) ?? [], outputs: signature?.outputs.map(v2Field) ?? [] };
}

/** v1's ModelContract: every signature. */
export function v1ModelContract(modelName: string, contract: Contract | null) {
  return { modelName, signatures: (contract?.signatures ?? []).map(v2Signature) };
}

/** v2's ModelContract: `{modelName, predict}`; an empty signature while the contract is not known yet. */
export function v2ModelContract(modelName: string, contract: Contract | null) {
  return { modelName, predict: v2Signature(mainSignature(contract)) };
}

/** v3's modelSignature. */
export function v3ModelSignature(contract: Contract | null): V3Signature {
  const signature = mainSignature(contract);
  return { signatureName: signature?.name ?? '', inputs: signature?.inputs.map(v3Field) ?? [], outputs: signature?.outputs.map(v3Field) ?? [] };
}
