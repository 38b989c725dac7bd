import { pipelineQueueNames, queuePrefix } from '../../queues/names.js';
import { webhookQueueName } from '../webhooks/queue.js';

/**
 * Every Redis key of one deployment, in one place; all of it can be rebuilt from the object store.
 * Keys that one script or transaction touches together carry the same {hash tag}, so they share a
 * Redis Cluster slot; everything else is untagged and spreads over the shards. See README.md here
 * for the layout and its trade-offs; `slotGroups` lists the keys used together, and start-up
 * refuses a layout in which any group would span slots (src/redis/slots.ts).
 */
export function redisKeys(prefix: string) {
  const model = (name: string) => `{${prefix}:m:${name}}`;
  const index = `{${prefix}:idx}`;
  const batch = (id: string) => `{${prefix}:b:${id}}`;
  const webhooks = `{${prefix}:wh}`;
  return {
    /** BullMQ's key prefix: one tag for every queue, as a version's flow spans the stage queues. */
    queuePrefix: queuePrefix(prefix),

    // A model (one slot per model: the cache script touches all of these at once).
    /** Last allocated version number of a model (INCR). */
    sequence: (name: string) => `${model(name)}:seq`,
    /** HASH summary of a model: createdAt, updatedAt, latestVersion, latestStatus. */
    model: (name: string) => `${model(name)}:summary`,
    /** ZSET of a model's version numbers (score = number). */
    versions: (name: string) => `${model(name)}:versions`,
    /** STRING: the version record as JSON (a cache of version.json). */
    version: (name: string, version: number) => `${model(name)}:v:${version}`,
    /** STREAM of a version's events (transitions, log lines). Untagged: streams spread over shards. */
    events: (name: string, version: number) => `${prefix}:events:${name}:${version}`,

    // Deployment-wide indexes (one slot: the index script keeps them in step).
    /** ZSET of model names (score 0: lexical order). */
    models: () => `${index}:models`,
    /** HASH `<model>/<version>` → `<updatedAt> <status>`: what the counts below last counted. */
    statusOf: () => `${index}:status-of`,
    /** HASH status → number of versions in it. */
    statusCounts: () => `${index}:status-counts`,
    /** ZSET `<model>/<version>` of versions whose status is queued, scored by when it was written (ms): the orphan sweep's list. */
    queuedSince: () => `${index}:queued-since`,
    /** Set once the index has been built from the store; in the index's slot, so it goes when the index goes. */
    indexBuilt: () => `${index}:built`,
    /**
     * Markers spread over the slots (a Cluster): when a shard comes back empty, its markers are
     * gone too, and the index is rebuilt although the shard holding `indexBuilt` kept its keys.
     */
    shardMarker: (i: number) => `{${prefix}:built:${i}}`,
    /** Lock: one process rebuilds the index at a time. */
    reindexing: () => `${prefix}:reindexing`,
    /** Pub/sub channel announcing new events: payload `{topic?, model, version, id}`. */
    eventChannel: () => `${prefix}:events`,

    // Hydrosphere's integer ids (src/hydrosphere/ids.ts), indexed in the index's slot so they go (and are rebuilt) with it.
    /** Last allocated Hydrosphere id (INCR; model and version ids share it). */
    hydrosphereSequence: () => `${index}:hs:seq`,
    /** ZSET of versions that have a Hydrosphere id: member `<model>/<version>`, score = the id. */
    hydrosphereVersions: () => `${index}:hs:versions`,
    /** HASH `<model>/<version>` → Hydrosphere version id. */
    hydrosphereVersionIds: () => `${index}:hs:version-ids`,
    /** HASH model name → `{id, name}` (Hydrosphere model id and name). */
    hydrosphereModelIds: () => `${index}:hs:model-ids`,
    /** STREAM of version creations and terminal transitions, served as Hydrosphere's `ModelUpdate` events. */
    hydrosphereUpdates: () => `${prefix}:hs:updates`,

    // Batches (one slot per batch).
    batch: (id: string) => `${batch(id)}:record`,
    batchTotal: (id: string) => `${batch(id)}:total`,
    /** SET of a batch's terminal items. */
    batchTerminal: (id: string) => `${batch(id)}:terminal`,
    batchEvents: (id: string) => `${batch(id)}:events`,
    batchCompleted: (id: string) => `${batch(id)}:completed`,

    // Webhooks.
    /** HASH endpoint id → endpoint JSON (an index of the store's webhooks/endpoints/). */
    webhookEndpoints: () => `${webhooks}:endpoints`,
    /** Set once the endpoint index has been built from the store. */
    webhookEndpointsIndexed: () => `${webhooks}:indexed`,
    /** ZSET: an endpoint's delivery ids by creation time (an index of the store's webhooks/deliveries/<endpoint>/). */
    webhookDeliveries: (endpointId: string) => `${prefix}:wh:deliveries:${endpointId}`,
    /** Set once an endpoint's delivery index has been built from the store. */
    webhookDeliveriesIndexed: (endpointId: string) => `${prefix}:wh:deliveries-indexed:${endpointId}`,

    // Access and requests (single keys).
    /** A token record, cached briefly. */
    token: (id: string) => `${prefix}:token:${id}`,
    /** The first admin token is created by one process only. */
    bootstrapToken: () => `${prefix}:bootstrap-token`,
    /** HASH: a token bucket of the upload rate limit. */
    rate: (key: string) => `${prefix}:rate:${key}`,
    /** STRING set once a presigned upload made a version (an upload id makes at most one). */
    uploadClaim: (uploadId: string) => `${prefix}:upload-claimed:${uploadId}`,
    /** An Idempotency-Key's claim and, once answered, the answer. */
    idempotency: (hash: string) => `${prefix}:idem:${hash}`,
    /**
     * HASH of a batch request's Idempotency-Key: the batch it fills (field _batch) and, per item
     * (field <index>:<model>), the version it numbered, so a retry of a batch cut off midway makes
     * no item twice.
     */
    batchResume: (hash: string) => `${prefix}:idem-batch:${hash}`,
    /** Alive while the request that kept an Idempotency-Key's answer before its effect still runs. */
    idempotencyLease: (hash: string) => `${prefix}:idem-lease:${hash}`,
    /** A writer's lease on one object, for stores that cannot compare-and-swap (src/storage/write-lock.ts). */
    writeLock: (name: string) => `${prefix}:write-lock:${name}`,
  };
}

/**
 * When leases are safe again after Redis lost its keys: one per Redis, not per deployment (it
 * says nothing but "leases granted before this time have run out"). In a Cluster it lives on one
 * shard; see src/storage/write-lock.ts for what that assumes.
 */
export const writeLockEpochKey = 'mll:write-lock-epoch';

export type RedisKeys = ReturnType<typeof redisKeys>;

/** SCAN patterns that match every key of a deployment (tagged and untagged). */
export function deploymentKeyPatterns(prefix: string): string[] {
  return [`${prefix}:*`, `{${prefix}}:*`, `{${prefix}:*`];
}

/** Sample identifiers for checking the layout; `placeholder` ones render a key as a pattern. */
export interface KeySample {
  model: string;
  version: number;
  batch: string;
  delivery: string;
  job: string;
}

export const placeholderSample = {
  model: '<model>', version: '<version>' as unknown as number, batch: '<batch>', delivery: '<delivery>', job: '<job>',
} satisfies KeySample;

export interface SlotGroup {
  /** What uses these keys together (a Lua script or a MULTI). */
  name: string;
  keys: (sample: KeySample) => string[];
}

const bullKeys = (qp: string, queue: string, job: string) =>
  [`${qp}:${queue}:wait`, `${qp}:${queue}:active`, `${qp}:${queue}:meta`, `${qp}:${queue}:events`, `${qp}:${queue}:${job}`, `${qp}:${queue}:${job}:dependencies`];

/** The keys each script or transaction uses together: each group must hash to a single slot. */
export function slotGroups(k: RedisKeys): SlotGroup[] {
  return [
    { name: 'version cache (catalog cache script)', keys: (s) => [k.version(s.model, s.version), k.versions(s.model), k.model(s.model)] },
    { name: 'catalogue indexes (catalog index script)', keys: () => [k.models(), k.statusOf(), k.statusCounts(), k.queuedSince()] },
    { name: 'Hydrosphere version ids (MULTI)', keys: () => [k.hydrosphereVersions(), k.hydrosphereVersionIds()] },
    { name: 'batch completion (MULTI on total and terminal set; the item-event and follow scripts with the events)', keys: (s) => [k.batchTotal(s.batch), k.batchTerminal(s.batch), k.batchEvents(s.batch)] },
    { name: 'webhook endpoint index (MULTI; the listing script)', keys: () => [k.webhookEndpoints(), k.webhookEndpointsIndexed()] },
    {
      name: "a version's flow (BullMQ scripts across the stage queues)",
      keys: (s) => pipelineQueueNames.flatMap((q) => bullKeys(k.queuePrefix, q, s.job)),
    },
    { name: 'webhook delivery queue (BullMQ scripts)', keys: (s) => bullKeys(k.queuePrefix, webhookQueueName, s.job) },
  ];
}
