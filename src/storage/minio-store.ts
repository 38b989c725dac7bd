import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { addAbortSignal, type Readable } from 'node:stream';
import * as Minio from 'minio';
import { isTransient, MllError } from '../errors.js';
import {
  assertValidKey, NotFoundError, PreconditionFailedError, type GetOptions, type ListOptions, type ObjectInfo, type ObjectStore,
  type PutOptions, type VersionedObject, type WriteCondition,
} from './object-store.js';
import type { WriteLock } from './write-lock.js';
import { failpoint, type Failpoints } from '../failpoints.js';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';

export interface MinioStoreOptions {
  endpoint: string;
  /**
   * The endpoint clients outside the service reach, when it differs from `endpoint` (a compose
   * stack, a cluster). S3 signatures cover the host, so presigned URLs are signed for this one.
   */
  publicEndpoint?: string;
  accessKey: string;
  secretKey: string;
  region: string;
  bucket: string;
  /** Prepended to every key; ends with `/` or is empty. */
  prefix?: string;
  /**
   * Fixed multipart part size. The MinIO client buffers one part in memory, and for a stream of
   * unknown length it would otherwise pick parts of 528 MiB; a fixed size keeps memory flat.
   */
  partSize: number;
  /**
   * Serialises conditional writes when the server lacks them (S3 `If-None-Match`/`If-Match` on
   * PUT; OpenStack Swift's s3api answers 501). Unused when the server has them.
   */
  writeLock?: WriteLock;
  /** Testing only (MLL_FAILPOINTS): s3-multipart-mid pauses once a multipart upload's first part is in. */
  failpoints?: Failpoints;
}

/** How a server does compare-and-swap: itself, or under the write lock. */
type ConditionalMode = 'native' | 'locked';

/** A locked write starts only with this much of its lease left. */
const minLeaseForWriteMs = 3_000;

const notFoundCodes = new Set(['NoSuchKey', 'NotFound', 'NoSuchObject']);

/** Any S3 API through the MinIO client. */
export class MinioObjectStore implements ObjectStore {
  readonly kind = 'minio' as const;
  readonly remote = true;
  readonly client: Minio.Client;
  /** Signs presigned URLs (no request is made: the region is configured). */
  private readonly presigner: Minio.Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;
  private bucketReady: Promise<void> | undefined;
  private conditionalMode: Promise<ConditionalMode> | undefined;
  private readonly writeLock: WriteLock | undefined;
  private readonly failpoints: Failpoints | undefined;

  constructor(options: MinioStoreOptions) {
    this.client = s3Client(options.endpoint, options);
    this.presigner = options.publicEndpoint ? s3Client(options.publicEndpoint, options) : this.client;
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? '';
    this.partSize = options.partSize;
    this.writeLock = options.writeLock;
    this.failpoints = options.failpoints;
  }

  private name(key: string): string {
    assertValidKey(key);
    return this.prefix + key;
  }

  private ensureBucket(): Promise<void> {
    this.bucketReady ??= (async () => {
      try {
        if (!(await this.client.bucketExists(this.bucket))) await this.client.makeBucket(this.bucket);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code !== 'BucketAlreadyOwnedByYou' && code !== 'BucketAlreadyExists') throw err;
      }
    })().catch((err: unknown) => {
      this.bucketReady = undefined;
      throw this.wrap(err, '(bucket)');
    });
    return this.bucketReady;
  }

  private wrap(err: unknown, key: string): unknown {
    if (err instanceof MllError) return err;
    const code = (err as { code?: string } | undefined)?.code;
    if (code && notFoundCodes.has(code)) return new NotFoundError(key, { cause: err });
    if (isTransient(err)) {
      return new MllError('STORE_UNAVAILABLE', `The S3 store cannot be reached (${code ?? (err as Error).message})`, { cause: err });
    }
    return err;
  }

  async put(key: string, body: Readable | Buffer | string, options?: PutOptions): Promise<ObjectInfo> {
    const name = this.name(key);
    await this.ensureBucket();
    const headers = this.headers(options);
    const signal = options?.signal;
    let written: { size: number; etag: string };
    try {
      signal?.throwIfAborted();
      if (typeof body === 'string' || Buffer.isBuffer(body)) {
        const payload = Buffer.from(body);
        const { etag } = await this.client.putObject(this.bucket, name, payload, payload.length, headers);
        written = { size: payload.length, etag };
      } else {
        written = await this.putStream(name, body, headers, signal);
        if (options?.size !== undefined && written.size !== options.size) {
          await this.client.removeObject(this.bucket, name).catch(() => undefined);
          throw new MllError('BAD_REQUEST', `Object "${key}": expected ${options.size} bytes, received ${written.size}`);
        }
      }
    } catch (err) {
      throw this.wrap(err, key);
    }
    // What was written, from the write's own answer: no HEAD to read it back (one request per put saved).
    return { key, size: written.size, lastModified: new Date(), etag: written.etag, contentType: options?.contentType, metadata: lowerCaseKeys(options?.metadata) };
  }

  /**
   * Multipart upload driven here rather than by the client's putObject, which buffers parts of up
   * to 528 MiB and cannot see an error of its source stream (the upload would hang). At most
   * `partsInFlight` parts are in memory; a failure or abort cancels the upload, leaving nothing.
   */
  private async putStream(name: string, input: Readable, headers: Record<string, string>, signal?: AbortSignal): Promise<{ size: number; etag: string }> {
    const partsInFlight = MULTIPART_PARTS_IN_FLIGHT;
    const parts = readParts(input, this.partSize, signal);
    const first = await parts.next();
    const firstPart = first.done ? Buffer.alloc(0) : first.value;
    if (firstPart.length < this.partSize) {
      const rest = await parts.next();
      if (rest.done) {
        const { etag } = await this.client.putObject(this.bucket, name, firstPart, firstPart.length, headers);
        return { size: firstPart.length, etag };
      }
      throw new Error('unreachable: a short part before the end of the stream');
    }
    const uploadId = await this.client.initiateNewMultipartUpload(this.bucket, name, headers);
    const etags: { part: number; etag: string }[] = [];
    const pending = new Set<Promise<void>>();
    let failure: unknown;
    let total = 0;
    let partNumber = 0;
    const send = (payload: Buffer) => {
      const part = ++partNumber;
      total += payload.length;
      const p = this.client
        .uploadPart({ bucketName: this.bucket, objectName: name, uploadID: uploadId, partNumber: part, headers: {} }, payload)
        .then((r) => void etags.push({ part, etag: r.etag }))
        .catch((err: unknown) => void (failure ??= err))
        .finally(() => pending.delete(p));
      pending.add(p);
    };
    try {
      send(firstPart);
      if (this.failpoints?.has('s3-multipart-mid')) {
        await Promise.all(pending);
        await failpoint(this.failpoints, 's3-multipart-mid', signal);
      }
      for (let next = await parts.next(); !next.done; next = await parts.next()) {
        if (failure) break;
        send(next.value);
        while (pending.size >= partsInFlight) await Promise.race(pending);
      }
      await Promise.all(pending);
      if (failure) throw failure;
      etags.sort((a, b) => a.part - b.part);
      const { etag } = await this.client.completeMultipartUpload(this.bucket, name, uploadId, etags);
      return { size: total, etag: String(etag ?? '') };
    } catch (err) {
      input.destroy();
      await Promise.allSettled(pending);
      await this.client.abortMultipartUpload(this.bucket, name, uploadId).catch(() => undefined);
      throw err;
    }
  }

  async putIf(key: string, body: Buffer | string, condition: WriteCondition, options?: Pick<PutOptions, 'contentType' | 'metadata'>): Promise<ObjectInfo & { etag: string }> {
    const name = this.name(key);
    await this.ensureBucket();
    const payload = Buffer.from(body);
    const headers = this.headers(options);
    const mode = await this.detectConditionalMode();
    try {
      if (mode === 'native') {
        const conditional = 'ifNoneMatch' in condition ? { 'If-None-Match': '*' } : { 'If-Match': `"${condition.ifMatch}"` };
        const { etag } = await this.client.putObject(this.bucket, name, payload, payload.length, { ...headers, ...conditional });
        return { key, size: payload.length, lastModified: new Date(), etag, contentType: options?.contentType, metadata: options?.metadata };
      }
      return await this.putLocked(key, name, payload, headers, condition, options);
    } catch (err) {
      const code = (err as { code?: string }).code;
      // AWS answers 409 ConditionalRequestConflict to the loser of two racing conditional writes,
      // and 404 to an If-Match on a missing key: either way the caller must read again.
      if (code === 'PreconditionFailed' || code === 'ConditionalRequestConflict' || (code && notFoundCodes.has(code) && 'ifMatch' in condition)) {
        throw new PreconditionFailedError(key, condition, { cause: err });
      }
      throw this.wrap(err, key);
    }
  }

  /** Compare-and-swap under the write lock: no other conditional write of the key runs meanwhile. */
  private async putLocked(
    key: string, name: string, payload: Buffer, headers: Record<string, string>, condition: WriteCondition,
    options: Pick<PutOptions, 'contentType' | 'metadata'> | undefined,
  ): Promise<ObjectInfo & { etag: string }> {
    if (!this.writeLock) {
      throw new MllError('INTERNAL', 'The S3 server does not support conditional writes (If-None-Match / If-Match on PUT) and no write lock was configured');
    }
    return this.writeLock.withLock(`${this.bucket}/${name}`, async (lease) => {
      const current = await this.client.statObject(this.bucket, name).then((st) => st.etag, (err: unknown) => {
        const wrapped = this.wrap(err, key);
        if (wrapped instanceof NotFoundError) return null;
        throw wrapped;
      });
      const holds = 'ifNoneMatch' in condition ? current === null : current === condition.ifMatch;
      if (!holds) throw new PreconditionFailedError(key, condition);
      if (lease.remainingMs() < minLeaseForWriteMs) {
        throw new MllError('TIMEOUT', `The write lease on "${key}" ran short before the write; retry`);
      }
      try {
        const { etag } = await this.client.putObject(this.bucket, name, payload, payload.length, headers);
        return { key, size: payload.length, lastModified: new Date(), etag, contentType: options?.contentType, metadata: options?.metadata };
      } catch (err) {
        // Without an answer from the server the write may still land: nobody else writes until the lease ends.
        if (!(err as { code?: string }).code || isTransient(err)) lease.holdUntilExpiry();
        throw err;
      }
    });
  }

  /**
   * Finds out once whether the server does conditional PUTs itself, by trying them on a probe
   * object: some answer 501, and some would ignore the headers and overwrite, which only a
   * second create-only write of the same key shows.
   */
  private detectConditionalMode(): Promise<ConditionalMode> {
    this.conditionalMode ??= (async (): Promise<ConditionalMode> => {
      const probe = `${this.prefix}.mll-probe/conditional-${randomUUID()}`;
      const put = (headers: Record<string, string>) => this.client.putObject(this.bucket, probe, Buffer.from('probe'), 5, headers).then(
        (r) => ({ ok: true as const, etag: r.etag }),
        (err: unknown) => {
          const code = (err as { code?: string }).code;
          if (code === 'PreconditionFailed') return { ok: false as const, code };
          if (code === 'NotImplemented') return { ok: false as const, code };
          throw err;
        },
      );
      try {
        const created = await put({ 'If-None-Match': '*' });
        if (!created.ok) return 'locked';
        const again = await put({ 'If-None-Match': '*' });
        const stale = await put({ 'If-Match': '"0123456789abcdef0123456789abcdef"' });
        const current = await put({ 'If-Match': `"${created.etag}"` });
        return !again.ok && again.code === 'PreconditionFailed' && !stale.ok && stale.code === 'PreconditionFailed' && current.ok ? 'native' : 'locked';
      } finally {
        await this.client.removeObject(this.bucket, probe).catch(() => undefined);
      }
    })().catch((err: unknown) => {
      this.conditionalMode = undefined;
      throw this.wrap(err, '(conditional write probe)');
    });
    return this.conditionalMode;
  }

  /** Which way conditional writes go on this server (after probing it once). */
  async conditionalWrites(): Promise<ConditionalMode> {
    await this.ensureBucket();
    return this.detectConditionalMode();
  }

  private headers(options: Pick<PutOptions, 'contentType' | 'metadata'> | undefined): Record<string, string> {
    const headers: Record<string, string> = {};
    for (const [k, val] of Object.entries(options?.metadata ?? {})) headers[`x-amz-meta-${k.toLowerCase()}`] = val;
    if (options?.contentType) headers['Content-Type'] = options.contentType;
    return headers;
  }

  async getWithInfo(key: string): Promise<VersionedObject> {
    const name = this.name(key);
    await this.ensureBucket();
    try {
      // The client hands back the HTTP response itself: its headers describe exactly these bytes.
      const res = (await this.client.getObject(this.bucket, name)) as IncomingMessage;
      const h = res.headers;
      const metadata: Record<string, string> = {};
      for (const [k, val] of Object.entries(h)) {
        if (k.startsWith('x-amz-meta-') && typeof val === 'string') metadata[k.slice('x-amz-meta-'.length)] = val;
      }
      return {
        stream: res,
        info: {
          key,
          size: Number(h['content-length'] ?? 0),
          lastModified: new Date(h['last-modified'] ?? 0),
          etag: String(h.etag ?? '').replace(/^"|"$/g, ''),
          contentType: h['content-type'],
          metadata,
        },
      };
    } catch (err) {
      throw this.wrap(err, key);
    }
  }

  async putFile(key: string, filePath: string, options?: PutOptions & { move?: boolean }): Promise<ObjectInfo> {
    const { size } = await fs.stat(filePath);
    const info = await this.put(key, createReadStream(filePath), { ...options, size });
    if (options?.move) await fs.rm(filePath, { force: true });
    return info;
  }

  async get(key: string, options?: GetOptions): Promise<Readable> {
    const name = this.name(key);
    await this.ensureBucket();
    try {
      const range = options?.range;
      const stream = range
        ? await this.client.getPartialObject(this.bucket, name, range.start, range.end - range.start + 1)
        : await this.client.getObject(this.bucket, name);
      if (options?.signal) addAbortSignal(options.signal, stream);
      return stream;
    } catch (err) {
      throw this.wrap(err, key);
    }
  }

  async stat(key: string): Promise<ObjectInfo> {
    const name = this.name(key);
    await this.ensureBucket();
    try {
      const st = await this.client.statObject(this.bucket, name);
      const metadata: Record<string, string> = {};
      let contentType: string | undefined;
      for (const [k, val] of Object.entries(st.metaData ?? {})) {
        if (k.toLowerCase() === 'content-type') contentType = String(val);
        else metadata[k.toLowerCase()] = String(val);
      }
      return { key, size: st.size, lastModified: st.lastModified, etag: st.etag, contentType, metadata };
    } catch (err) {
      throw this.wrap(err, key);
    }
  }

  async *list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo> {
    await this.ensureBucket();
    const startAfter = options?.startAfter === undefined ? '' : this.prefix + options.startAfter;
    const stream = this.client.listObjectsV2(this.bucket, this.prefix + prefix, true, startAfter);
    try {
      for await (const item of stream as AsyncIterable<Minio.BucketItem>) {
        if (!item.name) continue;
        yield {
          key: item.name.slice(this.prefix.length),
          size: item.size,
          lastModified: item.lastModified ?? new Date(0),
          etag: item.etag,
        };
      }
    } catch (err) {
      throw this.wrap(err, prefix);
    }
  }

  async delete(key: string): Promise<void> {
    const name = this.name(key);
    await this.ensureBucket();
    try {
      await this.client.removeObject(this.bucket, name);
    } catch (err) {
      const wrapped = this.wrap(err, key);
      if (!(wrapped instanceof NotFoundError)) throw wrapped;
    }
  }

  async copy(sourceKey: string, targetKey: string): Promise<ObjectInfo> {
    const source = this.name(sourceKey);
    const target = this.name(targetKey);
    await this.ensureBucket();
    try {
      await this.client.copyObject(this.bucket, target, `/${this.bucket}/${source}`, new Minio.CopyConditions());
    } catch (err) {
      throw this.wrap(err, sourceKey);
    }
    return this.stat(targetKey);
  }

  async presignPut(key: string, expirySeconds: number): Promise<string> {
    await this.ensureBucket();
    return this.presigner.presignedPutObject(this.bucket, this.name(key), expirySeconds);
  }

  async presignGet(key: string, expirySeconds: number): Promise<string> {
    await this.ensureBucket();
    return this.presigner.presignedGetObject(this.bucket, this.name(key), expirySeconds);
  }

  async check(): Promise<void> {
    try {
      await this.ensureBucket();
      await this.client.bucketExists(this.bucket);
    } catch (err) {
      const wrapped = this.wrap(err, '(bucket)');
      if (wrapped instanceof MllError && wrapped.code === 'STORE_UNAVAILABLE') throw wrapped;
      throw new MllError('STORE_UNAVAILABLE', `The S3 store does not answer: ${(err as Error).message}`, { cause: err });
    }
  }
}

/** Metadata as `stat` reports it (S3 lower-cases x-amz-meta-* names). */
function lowerCaseKeys(metadata: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(metadata ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
}

function s3Client(endpoint: string, options: MinioStoreOptions): Minio.Client {
  const url = new URL(endpoint);
  return new Minio.Client({
    endPoint: url.hostname,
    port: url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80,
    useSSL: url.protocol === 'https:',
    accessKey: options.accessKey,
    secretKey: options.secretKey,
    region: options.region,
    partSize: options.partSize,
  });
}

/** Parts of one multipart upload sent at once (bench/ingest's direct client uses the same). */
export const MULTIPART_PARTS_IN_FLIGHT = 2;

/**
 * Cuts a byte stream into parts of exactly `size` bytes (the last may be shorter). Bytes before the
 * first full part are kept as a list, so a small object costs only its own size; after that, parts
 * are filled into a ring of three reused buffers (two in flight, one filling), so a long upload
 * allocates nothing more and memory stays flat however large the object is.
 */
async function* readParts(input: Readable, size: number, signal?: AbortSignal): AsyncGenerator<Buffer> {
  const ringSize = 3;
  const ring: Buffer[] = [];
  let slot = 0;
  let head: Buffer[] | undefined = [];
  let headLength = 0;
  let current: Buffer | undefined;
  let filled = 0;
  const nextBuffer = (): Buffer => {
    const buffer = (ring[slot] ??= Buffer.allocUnsafe(size));
    slot = (slot + 1) % ringSize;
    filled = 0;
    return buffer;
  };
  for await (const chunk of input as AsyncIterable<Buffer>) {
    signal?.throwIfAborted();
    if (head) {
      if (headLength + chunk.length < size) {
        head.push(chunk);
        headLength += chunk.length;
        continue;
      }
      current = nextBuffer();
      for (const piece of head) filled += piece.copy(current, filled);
      head = undefined;
    }
    let offset = 0;
    while (offset < chunk.length) {
      current ??= nextBuffer();
      const take = Math.min(chunk.length - offset, size - filled);
      chunk.copy(current, filled, offset, offset + take);
      filled += take;
      offset += take;
      if (filled === size) {
        yield current;
        current = undefined;
      }
    }
  }
  signal?.throwIfAborted();
  if (head) yield Buffer.concat(head, headLength);
  else if (current && filled > 0) yield current.subarray(0, filled);
}
