import type { Contract, ContractSignature } from '../types.js';

/** What a framework reader found in the model files. */
export interface Inferred {
  contract: Contract;
  /** framework:version; the version is `unknown` when the files do not record it. */
  modelType: string;
  /** Bytes read from the main model file versus its size (bounded reading, benchmarks). */
  stats?: { file: string; bytesRead: number; size: number };
}

export const UNKNOWN_VERSION = 'unknown';

/**
 * The model files are readable but declare no contract (no signatures, a framework without
 * metadata). index.ts turns it into CONTRACT_REQUIRED with a minimal serving.yaml.
 */
export class NeedsContract extends Error {
  constructor(
    readonly reason: string,
    /** framework:version as far as the files tell. */
    readonly modelType: string,
  ) {
    super(reason);
    this.name = 'NeedsContract';
  }
}

export function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

export function sortSignatures(signatures: ContractSignature[]): ContractSignature[] {
  return [...signatures].sort(byName);
}

/** A display name for a file inside the upload (relative, `/`-separated). */
export function displayPath(root: string, file: string): string {
  const rel = file.startsWith(root) ? file.slice(root.length).replace(/^[/\\]+/, '') : file;
  return rel === '' ? file.split(/[/\\]/).pop() ?? file : rel.split('\\').join('/');
}
