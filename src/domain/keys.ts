/**
 * The object-store key layout. Content-addressed data lives under blobs/, so a retried or
 * repeated stage finds its output already there and skips the work.
 */
export const keys = {
  upload: (uploadId: string) => `uploads/${uploadId}`,
  versionRecord: (model: string, version: number) => `models/${model}/versions/${version}/version.json`,
  versionsPrefix: (model: string) => `models/${model}/versions/`,
  modelsPrefix: () => 'models/',
  /** digest = sha256:<hex> */
  blob: (digest: string) => `blobs/sha256/${digest.replace(/^sha256:/, '')}`,
  /** A stage's output, keyed by the digest of its inputs (sha256:<hex>). */
  stageOutput: (stage: string, inputsDigest: string) => `stage-outputs/${stage}/${inputsDigest.replace(/^sha256:/, '')}.json`,
} as const;

/** Parses `models/<name>/versions/<n>/version.json`. */
export function parseVersionRecordKey(key: string): { model: string; version: number } | undefined {
  const m = /^models\/([^/]+)\/versions\/([1-9][0-9]*)\/version\.json$/.exec(key);
  return m ? { model: m[1]!, version: Number(m[2]) } : undefined;
}

/** The built image description (BuiltImage) of a version, handed from the build stage to the push stage. */
export const builtImageKey = (model: string, version: number) => `models/${model}/versions/${version}/image.json`;
