/**
 * Hydrosphere compatibility, pure functions (no I/O): what Hydrosphere's clients send turned into
 * ML Lambda's contract, names, requirements and labels, and ML Lambda's contract written the way
 * those clients read it. serving.yaml's dialects are read by ../serving-yaml.ts with these.
 */
export {
  contractFromV1Binary,
  contractFromV2Json,
  contractFromV3Signature,
  mainSignature,
  toV1Contract,
  toV2Contract,
  toV3Signature,
  type HydroFieldV2,
  type HydroFieldV3,
  type HydroSignatureV2,
  type HydroSignatureV3,
  type SentContract,
  type SentJsonContract,
} from './client-contracts.js';
export { mergeSentContract, uploadContractOf, type UploadContract } from './merge.js';
export { installCommandToRequirements, type InstallCommandResult } from './install-command.js';
export { labelsFromMetadata, labelKeyPattern } from './labels.js';
export { isImageReference, modelTypeFromRuntime, runtimeReferenceFromV2 } from './runtime-image.js';
export { contractFromPrototxt } from './prototxt-contract.js';
export { hydrosphereNamePattern, modelNameFromHydrosphere } from '../../domain/model-name.js';
