/**
 * Every object-store key ML Lambda writes or reads, in one place (test/domain/keys.unit.test.ts
 * fails when code under src/ builds one by hand). Content-addressed data lives under blobs/, so a
 * retried or repeated stage finds its output already there and skips the work.
 */
const hex = (digest: string) => digest.replace(/^sha256:/, '');

export const keys = {
  /** An upload's payload (intake writes it, extract reads it). */
  upload: (uploadId: string) => `uploads/${uploadId}`,
  versionRecord: (model: string, version: number) => `models/${model}/versions/${version}/version.json`,
  /** The built image description (BuiltImage) of a version, handed from the build stage to the push stage. */
  builtImage: (model: string, version: number) => `models/${model}/versions/${version}/image.json`,
  versionsPrefix: (model: string) => `models/${model}/versions/`,
  modelsPrefix: () => 'models/',
  /** digest = sha256:<hex> */
  blob: (digest: string) => `blobs/sha256/${hex(digest)}`,
  /** A stage's output, keyed by the digest of its inputs (sha256:<hex>). */
  stageOutput: (stage: string, inputsDigest: string) => `stage-outputs/${stage}/${hex(inputsDigest)}.json`,
  /** An image layer's record, keyed by the hash of everything that decides its bytes (hex). */
  layerRecord: (id: string) => `image-layers/${id}.json`,
  /** A dependency (/model/lib) layer's record, keyed by the hash of its inputs, credentials excluded (hex). */
  dependencyLayer: (id: string) => `dependency-layers/${id}.json`,
  /** A docker-built image exported into the store, keyed by the hash of what decides its manifest (hex; src/image/docker/export.ts). */
  dockerExport: (id: string) => `docker-exports/${id}.json`,
  batch: (id: string) => `batches/${id}.json`,
  token: (id: string) => `tokens/${id}.json`,
  tokensPrefix: () => 'tokens/',
  webhookEndpoint: (id: string) => `webhooks/endpoints/${id}.json`,
  webhookEndpointsPrefix: () => 'webhooks/endpoints/',
  /** What a Hydrosphere id names (src/hydrosphere/ids.ts). */
  hydrosphereId: (id: number) => `hydrosphere-ids/ids/${id}.json`,
  hydrosphereIdsPrefix: () => 'hydrosphere-ids/ids/',
  /** The Hydrosphere id of a version. */
  hydrosphereVersion: (model: string, version: number) => `hydrosphere-ids/versions/${model}/${version}.json`,
  /** The Hydrosphere id and name of a model. */
  hydrosphereModel: (model: string) => `hydrosphere-ids/models/${model}.json`,
  /** A webhook event as sent: its body is signed and sent byte for byte on every attempt. */
  webhookEvent: (eventId: string) => `webhooks/events/${eventId}.json`,
  /** One event to one endpoint, with every attempt made (the truth; Redis only indexes them). */
  webhookDelivery: (endpointId: string, deliveryId: string) => `webhooks/deliveries/${endpointId}/${deliveryId}.json`,
  webhookDeliveriesPrefix: (endpointId: string) => `webhooks/deliveries/${endpointId}/`,
  /** Present while a delivery may still need an attempt: recovery re-enqueues these. */
  webhookPending: (deliveryId: string) => `webhooks/pending/${deliveryId}.json`,
  webhookPendingPrefix: () => 'webhooks/pending/',
  /** A terminal event not yet turned into deliveries (the outbox), written before the record that makes it. */
  outboxIntent: (eventId: string) => `outbox/${eventId}.json`,
  outboxPrefix: () => 'outbox/',
  batchesPrefix: () => 'batches/',
} as const;

/** Parses `models/<name>/versions/<n>/version.json`. */
export function parseVersionRecordKey(key: string): { model: string; version: number } | undefined {
  const m = /^models\/([^/]+)\/versions\/([1-9][0-9]*)\/version\.json$/.exec(key);
  return m ? { model: m[1]!, version: Number(m[2]) } : undefined;
}
