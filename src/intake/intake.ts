import type { Readable } from 'node:stream';
import type { FlowProducer } from 'bullmq';
import type { RedisClient } from '../redis/connect.js';
import { enqueueVersion } from '../../queues/flow.js';
import { failpoint, type Failpoints } from '../failpoints.js';
import type { Batches } from '../batches/batches.js';
import type { Catalog } from '../catalog/catalog.js';
import { redisKeys } from '../catalog/redis-keys.js';
import type { Config } from '../config.js';
import { keys } from '../domain/keys.js';
import { assertModelName } from '../domain/model-name.js';
import type { ClientInputs, VersionRecord, Warning } from '../domain/version.js';
import { isMllError, MllError } from '../errors.js';
import type { Logger } from '../log.js';
import { isNotFound, type ObjectStore } from '../storage/object-store.js';
import { BatchIntake } from './batch.js';
import { BatchResume } from './batch-resume.js';
import type { UploadMetadata } from './metadata.js';
import { receivePayload, validateStoredPayload, type IntakeLimits, type ReceivedPayload } from './payload.js';
import { PresignedUploads } from './uploads.js';

export interface IntakeDeps {
  config: Pick<Config, 'maxUploadBytes' | 'maxUnpackedBytes' | 'maxFiles' | 'maxPathDepth' | 'stageAttempts' | 'stageBackoffMs' | 'prefix'> & Partial<Pick<Config, 'failpoints'>>;
  store: ObjectStore;
  redis: RedisClient;
  catalog: Catalog;
  flows: FlowProducer;
  batches: Batches;
  logger: Logger;
  /** Set while the process shuts down: no new version is accepted. */
  draining?: { value: boolean };
}

/** Where a caller of createVersion can act: see createVersion. */
export interface VersionHooks {
  onNumbered?: (record: VersionRecord) => Promise<void>;
  onRecorded?: (record: VersionRecord) => Promise<void>;
}

/** Everything about a new version besides its payload. */
export interface VersionRequest {
  metadata: UploadMetadata;
  /** What a foreign client sent besides the payload (Hydrosphere's contract, runtime, …). */
  client?: ClientInputs;
  /** The model's name as the client wrote it, when it is not the model name (a Hydrosphere name). */
  displayName?: string;
  /** What the translation of a foreign client's request found worth saying (e.g. an unknown profile read as NONE). */
  warnings?: Warning[];
  batchId?: string | null;
}

/**
 * The intake: turns an upload into a queued version. Every way in — ML Lambda's routes, batches,
 * presigned uploads and the Hydrosphere protocols — calls this service; routes only translate HTTP.
 * A payload is streamed to the store and checked before a version number is spent, and a failure
 * after that removes what was written, so the client can simply retry.
 */
export class Intake {
  readonly limits: IntakeLimits;
  readonly uploads: PresignedUploads;

  private readonly failpoints: Failpoints | undefined;

  constructor(private readonly deps: IntakeDeps) {
    const c = deps.config;
    this.failpoints = c.failpoints;
    this.limits = { maxUploadBytes: c.maxUploadBytes, archive: { maxUnpackedBytes: c.maxUnpackedBytes, maxEntries: c.maxFiles, maxDepth: c.maxPathDepth } };
    this.uploads = new PresignedUploads(deps.store, deps.redis, redisKeys(c.prefix));
  }

  /** Throws SHUTTING_DOWN while the process drains; `what` names the refused request. */
  assertAccepting(what: string): void {
    if (this.deps.draining?.value) throw new MllError('SHUTTING_DOWN', `The service is shutting down; retry the ${what}`);
  }

  /** Streams a payload into the store, checking and hashing it in the same pass. */
  receive(body: Readable, options: { declaredSize?: number } = {}): Promise<ReceivedPayload> {
    return receivePayload(body, this.deps.store, this.limits, options);
  }

  /** Removes a received payload that will not become a version (e.g. its request turned out malformed). */
  async discard(payload: ReceivedPayload): Promise<void> {
    await this.deps.store.delete(payload.key).catch(() => undefined);
  }

  /**
   * A payload that reached the store through a presigned upload: claimed once (`owner`: see
   * PresignedUploads.claim), then checked like a streamed one.
   */
  async fromUpload(uploadId: string, owner?: string): Promise<ReceivedPayload> {
    await this.uploads.claim(uploadId, owner);
    try {
      return { ...(await validateStoredPayload(this.deps.store, uploadId, this.limits)), claimedBy: owner };
    } catch (err) {
      await this.uploads.release(uploadId).catch(() => undefined);
      if (isNotFound(err)) {
        throw new MllError('NOT_FOUND', `Upload ${uploadId} has no bytes yet (PUT them to its URL first) or has expired`, { cause: err });
      }
      throw err;
    }
  }

  /**
   * Writes the record under the model's next version number and enqueues its stages. If any of it
   * fails before the version is recorded (written, and known to Redis), the record and the payload
   * are removed (a presigned upload's bytes stay, to be sent again); once recorded the version
   * stays (a failed enqueue is left to the recovery check).
   * `onNumbered` runs once the record has its number, before it is written (a request's answer can
   * be kept there, with the version it will make: see `adopt`); `onRecorded` once it is written and
   * Redis knows it, before the stages are enqueued (were this process to stop from then on, the
   * recovery check enqueues it).
   */
  async createVersion(model: string, payload: ReceivedPayload, request: VersionRequest, options: VersionHooks = {}): Promise<VersionRecord> {
    const { catalog, store, flows, config } = this.deps;
    // The record last tried: it is this upload's once written (a number found taken is never written over).
    let record: VersionRecord | undefined;
    let recorded = false;
    try {
      assertModelName(model);
      record = await catalog.createNext(model, (version) => (record = newVersionRecord(model, version, payload, request)), {
        numbered: async (numbered) => {
          await options.onNumbered?.(numbered);
          await failpoint(this.failpoints, 'intake-numbered');
        },
        written: () => failpoint(this.failpoints, 'intake-written'),
      });
      await options.onRecorded?.(record);
      recorded = true;
      await failpoint(this.failpoints, 'intake-recorded');
      await enqueueVersion(flows, config, { model, version: record.version });
      return record;
    } catch (err) {
      if (recorded && record) {
        // The version exists, and its answer may be kept already: it stays, and the recovery
        // check enqueues it (src/app/orphans.ts). Removing it could leave a kept answer naming nothing.
        this.deps.logger.warn({ err, model, version: record.version }, 'could not enqueue a new version; the recovery check will');
        return record;
      }
      const taken = isMllError(err) && err.code === 'CONFLICT';
      // Whether this upload's record is surely not in the store (never written, or removed now).
      const gone = !record || taken || await store.delete(keys.versionRecord(model, record.version)).then(() => true, () => false);
      if (!payload.presigned) {
        // A streamed payload comes again with its retry.
        await store.delete(payload.key).catch(() => undefined);
      } else if (gone && payload.claimedBy === undefined) {
        // A presigned upload's bytes stay where its client put them, and the upload is free to be
        // taken again. One taken under a request's key stays taken: a retry under the same key
        // takes it again (and may be running now), and a record left in the store still names it.
        await this.uploads.release(payload.uploadId).catch(() => undefined);
      }
      throw err;
    }
  }

  /**
   * Whether a version that a request numbered before its process stopped exists, made of that
   * request's payload: read through to the store (so Redis knows it from then on) and enqueued if
   * it is still queued (fixed job ids make that nothing new when its flow is there). False when the
   * process stopped before writing it.
   */
  async adopt(effect: { model: string; version: number; payloadKey: string }): Promise<boolean> {
    const { catalog, flows, config } = this.deps;
    // The store, not the cache: a record written, cached and then removed (its request failed
    // after all) must not be answered with.
    const durable = await catalog.getDurable(effect.model, effect.version).catch((err: unknown) => {
      if (isNotFound(err)) return null;
      throw err;
    });
    if (!durable || durable.payload.key !== effect.payloadKey) return false;
    const record = await catalog.get(effect.model, effect.version);
    if (record.status === 'queued') await enqueueVersion(flows, config, { model: effect.model, version: effect.version });
    this.deps.logger.info({ model: effect.model, version: effect.version }, 'a retried upload found the version an earlier attempt made; answered with it');
    return true;
  }

  /** Streams a payload and makes it a version: the common case of one upload request. */
  async streamVersion(
    model: string, body: Readable, request: VersionRequest, options: VersionHooks & { declaredSize?: number } = {},
  ): Promise<VersionRecord> {
    assertModelName(model);
    return this.createVersion(model, await this.receive(body, options), request, options);
  }

  /**
   * A batch being received: each item becomes its own version or is refused alone. `idempotencyKey`
   * (the request's, as the middleware holds it) lets a retry of a request cut off midway go on
   * where it stopped (BatchResume).
   */
  async startBatch(idempotencyKey?: string): Promise<BatchIntake> {
    const resume = idempotencyKey === undefined ? undefined : BatchResume.of(this.deps.redis, redisKeys(this.deps.config.prefix), idempotencyKey);
    return BatchIntake.open(this, this.deps.batches, this.deps.logger, resume);
  }
}

function newVersionRecord(model: string, version: number, payload: ReceivedPayload, request: VersionRequest): VersionRecord {
  const now = new Date().toISOString();
  const { uploadId: _uploadId, presigned: _presigned, claimedBy: _claimedBy, ...payloadInfo } = payload;
  const { metadata } = request;
  return {
    model, version, status: 'queued', createdAt: now, updatedAt: now,
    description: metadata.description ?? null,
    labels: metadata.labels ?? {},
    modelType: metadata['model-type'] ?? null,
    payload: payloadInfo,
    stages: {}, contract: null, contractDigest: null, tree: null, image: null, warnings: request.warnings ?? [], error: null, diff: null,
    batchId: request.batchId ?? null,
    ...(request.client ? { client: request.client } : {}),
    ...(request.displayName && request.displayName !== model ? { displayName: request.displayName } : {}),
  };
}
