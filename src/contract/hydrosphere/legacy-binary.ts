import { dtypeFromBinary } from '../dtypes.js';
import { MAX_CONTRACT_FIELDS, MAX_SUBFIELD_DEPTH } from '../limits.js';
import { legacyContractType, shapeFromMessage, type ShapeMessage } from '../proto/schemas.js';
import { SUBFIELDS, type Contract, type ContractField } from '../types.js';

/** Reads the binary ModelContract of early 2018 (its schema: legacyContractProto in proto/schemas.ts). */

interface LegacyField {
  field_name?: string;
  dict?: { data?: { key?: string; value?: LegacyField }[] };
  info?: { dtype?: number; tensor_shape?: ShapeMessage };
}
interface LegacyContract { model_name?: string; signatures?: { signature_name?: string; inputs?: LegacyField[]; outputs?: LegacyField[] }[] }

/**
 * Decodes an early-2018 binary contract; null when the bytes are not one (a field with neither a
 * typed `info` nor a non-empty `dict`, or bytes protobuf cannot read).
 */
export function decodeLegacyContract(bytes: Uint8Array): { modelName: string; contract: Contract } | null {
  let msg: LegacyContract;
  try {
    msg = legacyContractType('ModelContract').decode(bytes) as unknown as LegacyContract;
  } catch {
    return null;
  }
  let count = 0;
  const field = (f: LegacyField, depth: number, keyName?: string): ContractField | null => {
    if (++count > MAX_CONTRACT_FIELDS || depth > MAX_SUBFIELD_DEPTH) return null;
    const name = f.field_name || keyName || '';
    if (f.info && f.info.dtype) return { name, dtype: dtypeFromBinary(f.info.dtype), ...shapeFromMessage(f.info.tensor_shape) };
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
