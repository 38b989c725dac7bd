import { canonicalJson } from '../shared/canonical-json.js';
import { sha256Digest } from '../shared/digest.js';
import { keys } from '../domain/keys.js';
import { getJsonIfPresent, putJson, type ObjectStore } from '../storage/object-store.js';

/**
 * Stage outputs are keyed by the digest of everything that decides them, so a retried or
 * duplicated stage, and a later version with the same inputs, finds the work already done.
 */
export function inputsDigest(inputs: unknown): string {
  return sha256Digest(Buffer.from(canonicalJson(inputs)));
}

export const readOutput = <T>(store: ObjectStore, key: string) => getJsonIfPresent<T>(store, key);

export const writeOutput = (store: ObjectStore, key: string, value: unknown) => putJson(store, key, value);

export const outputKey = (stage: 'extract', digest: string) => keys.stageOutput(stage, digest);
