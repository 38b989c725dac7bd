import { readFile, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { MllError } from '../errors.js';
import { readAll } from '../shared/read-all.js';
import {
  assertValidKey, NotFoundError, PreconditionFailedError,
  type GetOptions, type ListOptions, type ObjectInfo, type ObjectStore, type PutOptions, type VersionedObject, type WriteCondition,
} from './object-store.js';

interface Stored {
  bytes: Buffer;
  info: ObjectInfo;
}

/**
 * An ObjectStore held in memory, for the unit tier: stages and services run against it without
 * a server. It keeps the port's promises (whole-object visibility, NotFoundError, size checks),
 * so code that passes against it and the conformance suite behaves the same on fs and S3.
 */
export class MemoryObjectStore implements ObjectStore {
  readonly kind = 'memory' as const;
  readonly remote: boolean = false;
  private readonly objects = new Map<string, Stored>();
  /** Every write makes a new generation; its number is the etag, so rewriting the same bytes is a new version too. */
  private generation = 0;

  async put(key: string, body: Readable | Buffer | string, options: PutOptions = {}): Promise<ObjectInfo> {
    assertValidKey(key);
    const bytes = typeof body === 'string' ? Buffer.from(body) : Buffer.isBuffer(body) ? body : await readAll(body, options.signal);
    if (options.size !== undefined && bytes.length !== options.size) {
      throw new MllError('BAD_REQUEST', `Object "${key}": expected ${options.size} bytes, got ${bytes.length}`);
    }
    return this.putNow(key, bytes, options);
  }

  private putNow(key: string, bytes: Buffer, options: Pick<PutOptions, 'contentType' | 'metadata'>): ObjectInfo {
    const info: ObjectInfo = {
      key,
      size: bytes.length,
      lastModified: new Date(),
      etag: `g${++this.generation}`,
      contentType: options.contentType,
      metadata: options.metadata ? { ...options.metadata } : undefined,
    };
    this.objects.set(key, { bytes: Buffer.from(bytes), info });
    return { ...info };
  }

  async putFile(key: string, filePath: string, options: PutOptions & { move?: boolean } = {}): Promise<ObjectInfo> {
    const info = await this.put(key, await readFile(filePath), options);
    if (options.move) await rm(filePath, { force: true });
    return info;
  }

  async get(key: string, options: GetOptions = {}): Promise<Readable> {
    const { bytes } = this.find(key);
    const slice = options.range ? bytes.subarray(options.range.start, options.range.end + 1) : bytes;
    return Readable.from([slice], { objectMode: false });
  }

  async getWithInfo(key: string): Promise<VersionedObject> {
    const { bytes, info } = this.find(key);
    return { stream: Readable.from([bytes], { objectMode: false }), info: { ...info, etag: info.etag! } };
  }

  /** Atomic by construction: nothing else runs between the check and the write. */
  async putIf(key: string, body: Buffer | string, condition: WriteCondition, options: Pick<PutOptions, 'contentType' | 'metadata'> = {}): Promise<ObjectInfo & { etag: string }> {
    assertValidKey(key);
    const current = this.objects.get(key);
    const holds = 'ifNoneMatch' in condition ? !current : current?.info.etag === condition.ifMatch;
    if (!holds) throw new PreconditionFailedError(key, condition);
    const info = this.putNow(key, typeof body === 'string' ? Buffer.from(body) : body, options);
    return { ...info, etag: info.etag! };
  }

  async stat(key: string): Promise<ObjectInfo> {
    return { ...this.find(key).info };
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(prefix) && (options.startAfter === undefined || k > options.startAfter)).sort();
    for (const key of keys) {
      const stored = this.objects.get(key);
      if (stored) yield { ...stored.info };
    }
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    this.objects.delete(key);
  }

  async copy(sourceKey: string, targetKey: string): Promise<ObjectInfo> {
    const { bytes, info } = this.find(sourceKey);
    return this.put(targetKey, bytes, { contentType: info.contentType, metadata: info.metadata });
  }

  async presignPut(): Promise<string> {
    throw new MllError('INTERNAL', 'The memory object store has no presigned URLs');
  }

  async presignGet(): Promise<string> {
    throw new MllError('INTERNAL', 'The memory object store has no presigned URLs');
  }

  async check(): Promise<void> {}

  private find(key: string): Stored {
    assertValidKey(key);
    const stored = this.objects.get(key);
    if (!stored) throw new NotFoundError(key);
    return stored;
  }
}
