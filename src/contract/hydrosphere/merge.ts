import type { Warning } from '../../domain/version.js';
import { diffContracts } from '../diff.js';
import type { Inspection } from '../index.js';
import type { Contract } from '../types.js';

/**
 * A contract sent by a Hydrosphere client (v1 `model_contract`, v2 `contract`, v3
 * `modelSignature`) and the one the upload itself gives (its serving.yaml, or the model files):
 * the SENT contract wins — it is what the user's tool declared and what the client will show —
 * and the version warns (CONTRACT_MISMATCH, with the differences) when they differ. The
 * framework comes from the upload when it has one (the binary and JSON forms carry none).
 */

export interface UploadContract {
  contract: Contract;
  /** What it was read from, for the warning: "serving.yaml", "contract.prototxt", "model.onnx", … */
  source: string;
}

/** The contract an inspection found, with where it came from. */
export function uploadContractOf(inspection: Inspection): UploadContract {
  const yaml = inspection.servingYaml;
  const source = yaml?.contract ? (yaml.contractFile ?? yaml.file) : 'the model files';
  return { contract: inspection.contract, source };
}

export function mergeSentContract(sent: Contract, fromUpload: UploadContract | null, sentBy = 'the contract sent with the upload'): { contract: Contract; warnings: Warning[] } {
  const framework = fromUpload?.contract.framework || sent.framework;
  const contract: Contract = { framework, signatures: sent.signatures };
  if (!fromUpload) return { contract, warnings: [] };
  const { changes } = diffContracts({ ...fromUpload.contract, framework }, contract);
  if (changes.length === 0) return { contract, warnings: [] };
  return {
    contract,
    warnings: [{
      code: 'CONTRACT_MISMATCH',
      message: `${sentBy} differs from the one in ${fromUpload.source} (${changes.length} difference${changes.length === 1 ? '' : 's'}); the sent contract is used`,
      details: { source: fromUpload.source, changes },
    }],
  };
}
