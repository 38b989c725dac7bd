/** Every Redis key ML Lambda uses, under one deployment prefix. All of it can be rebuilt from the store. */
export function redisKeys(prefix: string) {
  return {
    /** Last allocated version number of a model (INCR). */
    sequence: (model: string) => `${prefix}:seq:${model}`,
    /** ZSET of model names (score 0: lexical order). */
    models: () => `${prefix}:models`,
    /** HASH summary of a model: createdAt, updatedAt, latestVersion, latestStatus, versions. */
    model: (model: string) => `${prefix}:model:${model}`,
    /** ZSET of a model's version numbers (score = number). */
    versions: (model: string) => `${prefix}:versions:${model}`,
    /** STRING: the version record as JSON (a cache of version.json). */
    version: (model: string, version: number) => `${prefix}:v:${model}:${version}`,
    /** STREAM of a version's events (transitions, log lines). */
    events: (model: string, version: number) => `${prefix}:events:${model}:${version}`,
    /** HASH status → number of versions in it. */
    statusCounts: () => `${prefix}:status-counts`,
    /** STRING set once a presigned upload made a version (an upload id makes at most one). */
    uploadClaim: (uploadId: string) => `${prefix}:upload-claimed:${uploadId}`,
    /** Pub/sub channel announcing new events: payload `{model, version, id}`. */
    eventChannel: () => `${prefix}:events`,
  };
}

export type RedisKeys = ReturnType<typeof redisKeys>;
