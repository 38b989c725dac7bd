import type { Readable } from 'node:stream';
import { MllError } from '../errors.js';
import { readAll } from '../shared/read-all.js';

/** What a stored object is known to be. `etag` is adapter-specific and only good for equality. */
export interface ObjectInfo {
  key: string;
  size: number;
  lastModified: Date;
  etag?: string;
  contentType?: string;
  metadata?: Record<string, string>;
}

export interface PutOptions {
  /** Byte count when known: lets the S3 adapter size its parts and lets every adapter check it. */
  size?: number;
  contentType?: string;
  /** Small string metadata (ASCII keys and values). */
  metadata?: Record<string, string>;
  signal?: AbortSignal;
}

export interface GetOptions {
  /** Inclusive byte range. */
  range?: { start: number; end: number };
  signal?: AbortSignal;
}

/**
 * The condition of a conditional put: create the object only if no object has the key
 * (`ifNoneMatch: '*'`), or replace it only if it is still the version whose etag was read
 * (`ifMatch`). A put whose condition does not hold raises `PreconditionFailedError` and changes nothing.
 */
export type WriteCondition = { ifNoneMatch: '*' } | { ifMatch: string };

/** An object's bytes together with the info of exactly that version of it (its etag included). */
export interface VersionedObject {
  stream: Readable;
  info: ObjectInfo & { etag: string };
}

export interface ListOptions {
  /** Only keys after this one (exclusive), in lexical order. */
  startAfter?: string;
}

/**
 * The object store port. Keys are relative, `/`-separated, without `.`/`..` segments.
 * An object becomes visible only when `put` has fully succeeded; a failed or aborted put leaves
 * nothing behind. Missing objects raise `NotFoundError` from every adapter.
 */
export interface ObjectStore {
  readonly kind: 'fs' | 'minio' | 'memory';
  /**
   * Whether every call is a request to a server (S3), where asking whether an object exists costs
   * about what writing a small one costs; false where it is a local lookup (fs, memory).
   */
  readonly remote: boolean;
  put(key: string, body: Readable | Buffer | string, options?: PutOptions): Promise<ObjectInfo>;
  /** Stores a local file; `move: true` lets the adapter take the file over (fs renames it). */
  putFile(key: string, filePath: string, options?: PutOptions & { move?: boolean }): Promise<ObjectInfo>;
  get(key: string, options?: GetOptions): Promise<Readable>;
  /** Like `get`, with the etag of the version being read (for a later `putIf` with `ifMatch`). */
  getWithInfo(key: string): Promise<VersionedObject>;
  /**
   * Compare-and-swap: writes a small object only if `condition` holds at the moment of the write,
   * atomically with respect to every other `putIf` on the key (in any process). The returned etag
   * is the one of the object just written (never of a later write).
   */
  putIf(key: string, body: Buffer | string, condition: WriteCondition, options?: Pick<PutOptions, 'contentType' | 'metadata'>): Promise<ObjectInfo & { etag: string }>;
  stat(key: string): Promise<ObjectInfo>;
  /**
   * Optional: a small object whole with the info of exactly that version, in fewer round trips
   * than a stream (`getBuffer` and `getBufferWithEtag` use it when an adapter has it). Raises
   * `tooLargeToReadWhole` for an object over `limit` bytes.
   */
  getSmall?(key: string, limit: number): Promise<{ body: Buffer; info: ObjectInfo & { etag: string } }>;
  /** Every object under a prefix, recursively, in lexical key order. */
  list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo>;
  /** Idempotent: deleting a missing key succeeds. */
  delete(key: string): Promise<void>;
  /** Server-side copy; the copy stays readable after the source is deleted. */
  copy(sourceKey: string, targetKey: string): Promise<ObjectInfo>;
  /** A URL that accepts one HTTP PUT of the object's bytes until it expires. */
  presignPut(key: string, expirySeconds: number): Promise<string>;
  /** A URL that answers HTTP GET with the object's bytes until it expires. */
  presignGet(key: string, expirySeconds: number): Promise<string>;
  /**
   * Optional: the local file that holds an object, for a store that keeps objects as files (fs),
   * so a writer on the same file system can hard-link it instead of copying its bytes. Whether the
   * file exists is not checked. Objects are never changed in place, so a link stays their bytes.
   */
  localPath?(key: string): string;
  /** Resolves when the store answers; raises STORE_UNAVAILABLE otherwise. */
  check(): Promise<void>;
  close?(): Promise<void>;
}

export class NotFoundError extends MllError {
  readonly key: string;
  constructor(key: string, options: { cause?: unknown } = {}) {
    // Most of these are expected (an "if present" read, a stage output not made yet) and caught a
    // frame above; capturing a stack for each costs more than the read. A cause, where the store
    // gives one (a file system's ENOENT, an S3 answer), keeps its own.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super('NOT_FOUND', `No object at key "${key}"`, { details: { key }, cause: options.cause });
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
    this.name = 'NotFoundError';
    this.key = key;
  }
}

export function isNotFound(err: unknown): err is NotFoundError {
  return err instanceof Error && err.name === 'NotFoundError';
}

/** A conditional put whose condition did not hold: the object exists already, or changed since it was read. */
export class PreconditionFailedError extends MllError {
  readonly key: string;
  constructor(key: string, condition: WriteCondition, options: { cause?: unknown } = {}) {
    const what = 'ifNoneMatch' in condition
      ? `"${key}" exists already`
      : `"${key}" changed since it was read (or was deleted)`;
    super('PRECONDITION_FAILED', `Conditional write refused: ${what}`, { details: { key }, cause: options.cause });
    this.name = 'PreconditionFailedError';
    this.key = key;
  }
}

export function isPreconditionFailed(err: unknown): err is PreconditionFailedError {
  return err instanceof Error && err.name === 'PreconditionFailedError';
}

// eslint-disable-next-line no-control-regex
const forbidden = /[\u0000-\u001f\u007f\\]/;

/** Rejects keys that are empty, absolute, hold empty, `.` or `..` segments, control characters or backslashes. */
export function assertValidKey(key: string): void {
  const segments = key.split('/');
  if (forbidden.test(key) || key.length > 900 || segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new MllError('BAD_REQUEST', `Invalid object key "${key}"`, { details: { key } });
  }
}

/**
 * Content-addressed blobs (the same key always holds the same bytes) may be written again
 * harmlessly. On a remote store, up to this size a write costs about what asking whether the blob
 * exists costs (one request on S3), so small blobs are written without asking: one request instead
 * of two for a new blob, and still one for a blob that was there.
 */
export const blindWriteMaxBytes = 256 * 1024;

/**
 * The largest content-addressed blob `store` writes without asking first whether it has it. None
 * on a local store: there the lookup is one stat, while writing a blob again replaces its file,
 * which frees an inode — and on ext4 without a journal every inode freed in the last minutes is
 * stepped over, one by one, by each new file's allocation (bench/fs).
 */
export const blindWriteLimit = (store: ObjectStore): number => (store.remote ? blindWriteMaxBytes : 0);

/** Writes a content-addressed blob unless the store has it (asked first only above blindWriteLimit). */
export async function putBlobBytes(store: ObjectStore, key: string, bytes: Buffer): Promise<void> {
  if (bytes.length > blindWriteLimit(store)) {
    try {
      if ((await store.stat(key)).size === bytes.length) return;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  await store.put(key, bytes, { size: bytes.length });
}

export async function exists(store: ObjectStore, key: string): Promise<boolean> {
  try {
    await store.stat(key);
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

export function tooLargeToReadWhole(key: string, limit: number): MllError {
  return new MllError('INTERNAL', `Object "${key}" is larger than ${limit} bytes and was not read whole`);
}

/** Reads a small object whole; refuses objects over `limit` bytes rather than buffering them. */
export async function getBuffer(store: ObjectStore, key: string, limit = 16 * 1024 * 1024): Promise<Buffer> {
  if (store.getSmall) return (await store.getSmall(key, limit)).body;
  const stream = await store.get(key);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) {
      stream.destroy();
      throw tooLargeToReadWhole(key, limit);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export async function getJson<T>(store: ObjectStore, key: string): Promise<T> {
  return JSON.parse((await getBuffer(store, key)).toString('utf8')) as T;
}

/** Like getJson, but undefined when there is no such object (other errors, unparsable JSON included, still throw). */
export async function getJsonIfPresent<T>(store: ObjectStore, key: string): Promise<T | undefined> {
  try {
    return await getJson<T>(store, key);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Reads a small object whole with the etag of the version read (refuses objects over `limit` bytes). */
export async function getBufferWithEtag(store: ObjectStore, key: string, limit = 16 * 1024 * 1024): Promise<{ body: Buffer; etag: string }> {
  if (store.getSmall) {
    const { body, info } = await store.getSmall(key, limit);
    return { body, etag: info.etag };
  }
  const { stream, info } = await store.getWithInfo(key);
  if (info.size > limit) {
    stream.destroy();
    throw tooLargeToReadWhole(key, limit);
  }
  return { body: await readAll(stream), etag: info.etag };
}

/** Writes JSON only if `condition` holds (see `ObjectStore.putIf`); returns the etag written. */
export async function putJsonIf(store: ObjectStore, key: string, value: unknown, condition: WriteCondition): Promise<string> {
  const info = await store.putIf(key, JSON.stringify(value), condition, { contentType: 'application/json' });
  return info.etag;
}

export async function putJson(store: ObjectStore, key: string, value: unknown): Promise<ObjectInfo> {
  const body = Buffer.from(JSON.stringify(value));
  return store.put(key, body, { size: body.length, contentType: 'application/json' });
}
