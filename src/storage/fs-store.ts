import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { addAbortSignal, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MllError } from '../errors.js';
import { signStoreUrl } from './fs-presign.js';
import {
  assertValidKey, NotFoundError, PreconditionFailedError, type GetOptions, type ListOptions, type ObjectInfo, type ObjectStore,
  type PutOptions, type VersionedObject, type WriteCondition,
} from './object-store.js';

export interface FsStoreOptions {
  /** Directory that holds the objects; created when missing. */
  root: string;
  /** Needed for presigned URLs: they point at the API's store route, signed with this secret. */
  presign?: { baseUrl: string; secret: string };
  /**
   * A replace claim (see `putIf`) older than this is taken to be left by a writer that died between
   * claiming and renaming (two system calls apart), and the next writer claims past it.
   */
  claimStaleMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Sidecar {
  contentType?: string;
  metadata?: Record<string, string>;
}

/**
 * Objects as files under `root/objects`. Writes go to `root/tmp` and are renamed into place,
 * so an object is visible only once complete. Content type and metadata live in a sidecar
 * under `root/meta` (written only when given).
 */
export class FsObjectStore implements ObjectStore {
  readonly kind = 'fs' as const;
  private readonly objects: string;
  private readonly tmp: string;
  private readonly meta: string;
  private readonly claims: string;
  private readonly claimStaleMs: number;
  private ready: Promise<void> | undefined;

  constructor(private readonly options: FsStoreOptions) {
    this.objects = path.join(options.root, 'objects');
    this.tmp = path.join(options.root, 'tmp');
    this.meta = path.join(options.root, 'meta');
    this.claims = path.join(options.root, 'claims');
    this.claimStaleMs = options.claimStaleMs ?? 30_000;
  }

  private init(): Promise<void> {
    this.ready ??= (async () => {
      await Promise.all([this.objects, this.tmp, this.meta, this.claims].map((d) => fs.mkdir(d, { recursive: true })));
      await this.sweepTemp(60 * 60 * 1000);
      await this.sweepClaims(60 * 60 * 1000);
    })();
    return this.ready;
  }

  /** Removes temp files a crashed writer left behind. */
  private async sweepTemp(olderThanMs: number): Promise<void> {
    const now = Date.now();
    for (const name of await fs.readdir(this.tmp)) {
      const file = path.join(this.tmp, name);
      const st = await fs.stat(file).catch(() => undefined);
      if (st && now - st.mtimeMs > olderThanMs) await fs.rm(file, { force: true });
    }
  }

  /** Removes replace claims a writer that died mid-claim left behind (they hold old versions' bytes). */
  private async sweepClaims(olderThanMs: number): Promise<void> {
    const found: string[] = [];
    await walk(this.claims, '', found);
    const now = Date.now();
    for (const key of found) {
      const file = path.join(this.claims, ...key.split('/'));
      const st = await fs.stat(file).catch(() => undefined);
      if (st && now - st.ctimeMs > olderThanMs) await fs.rm(file, { force: true });
    }
  }

  private file(key: string): string {
    assertValidKey(key);
    return path.join(this.objects, ...key.split('/'));
  }

  private sidecar(key: string): string {
    return path.join(this.meta, ...key.split('/')) + '.json';
  }

  private async commit(tempFile: string, key: string, options: PutOptions | undefined): Promise<ObjectInfo> {
    const target = this.file(key);
    await this.writeSidecar(key, options);
    // rename keeps the inode, size and mtime: the info of the object is that of the temp file.
    const st = await fs.stat(tempFile);
    // A concurrent delete may prune the (then empty) parent directory between mkdir and rename.
    for (let attempt = 0; ; attempt++) {
      await fs.mkdir(path.dirname(target), { recursive: true });
      try {
        await fs.rename(tempFile, target);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 5) throw err;
      }
    }
    return { key, size: st.size, lastModified: st.mtime, etag: etagOf(st), contentType: options?.contentType, metadata: options?.metadata };
  }

  async put(key: string, body: Readable | Buffer | string, options?: PutOptions): Promise<ObjectInfo> {
    this.file(key);
    await this.init();
    const temp = path.join(this.tmp, randomUUID());
    try {
      const source = typeof body === 'string' || Buffer.isBuffer(body) ? Readable.from([Buffer.from(body)]) : body;
      let written = 0;
      await pipeline(
        source,
        async function* count(chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) {
            written += chunk.length;
            yield chunk;
          }
        },
        createWriteStream(temp, { flags: 'wx' }),
        { signal: options?.signal },
      );
      if (options?.size !== undefined && written !== options.size) {
        throw new MllError('BAD_REQUEST', `Object "${key}": expected ${options.size} bytes, received ${written}`);
      }
      return await this.commit(temp, key, options);
    } catch (err) {
      await fs.rm(temp, { force: true });
      throw wrapFsError(err, key);
    }
  }

  async putFile(key: string, filePath: string, options?: PutOptions & { move?: boolean }): Promise<ObjectInfo> {
    this.file(key);
    await this.init();
    if (options?.move) {
      const temp = path.join(this.tmp, randomUUID());
      try {
        await fs.rename(filePath, temp);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw wrapFsError(err, key);
        return this.put(key, createReadStream(filePath), options).finally(() => fs.rm(filePath, { force: true }));
      }
      try {
        return await this.commit(temp, key, options);
      } catch (err) {
        await fs.rm(temp, { force: true });
        throw wrapFsError(err, key);
      }
    }
    return this.put(key, createReadStream(filePath), options);
  }

  /**
   * Compare-and-swap on a file system, atomic across processes that share the directory.
   * Create-only is `link(temp, target)`, which fails with EEXIST when the target exists.
   * Replace-if-match hard-links the current file to a claim named after the expected etag
   * (`claims/<key>.<etag>.<n>`): `link` succeeds for exactly one writer, so only one writer ever
   * replaces a given version; the winner checks the file is still that version and renames its
   * temp file over it. A claim whose writer died in between (two system calls apart) is passed
   * after `claimStaleMs` by claiming the next `<n>`. Every writer that lost sees a new etag.
   */
  async putIf(key: string, body: Buffer | string, condition: WriteCondition, options?: Pick<PutOptions, 'contentType' | 'metadata'>): Promise<ObjectInfo & { etag: string }> {
    const target = this.file(key);
    await this.init();
    const temp = path.join(this.tmp, randomUUID());
    try {
      await fs.writeFile(temp, body, { flag: 'wx' });
      const written = await fs.stat(temp);
      if ('ifNoneMatch' in condition) {
        await this.linkNew(temp, target, key, condition);
      } else {
        await this.replaceClaimed(temp, target, key, condition.ifMatch);
      }
      await this.writeSidecar(key, options);
      return { key, size: written.size, lastModified: written.mtime, etag: etagOf(written), contentType: options?.contentType, metadata: options?.metadata };
    } catch (err) {
      throw wrapFsError(err, key);
    } finally {
      await removeIfPresent(temp);
    }
  }

  private async linkNew(temp: string, target: string, key: string, condition: WriteCondition): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      await fs.mkdir(path.dirname(target), { recursive: true });
      try {
        await fs.link(temp, target);
        return;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') throw new PreconditionFailedError(key, condition);
        // A concurrent delete may prune the (then empty) parent directory between mkdir and link.
        if (code !== 'ENOENT' || attempt >= 5) throw err;
      }
    }
  }

  private async replaceClaimed(temp: string, target: string, key: string, expected: string): Promise<void> {
    const condition = { ifMatch: expected };
    if (!/^[0-9a-f]+-[0-9a-f]+-[0-9a-f]+$/.test(expected)) throw new PreconditionFailedError(key, condition);
    const claimBase = path.join(this.claims, ...key.split('/')) + `.${expected}`;
    await fs.mkdir(path.dirname(claimBase), { recursive: true });
    const waitUntil = Date.now() + this.claimStaleMs * 2 + 5_000;
    let n = 0;
    for (let pause = 2; ; pause = Math.min(pause * 2, 50)) {
      const claim = `${claimBase}.${n}`;
      try {
        await fs.link(target, claim);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') throw new PreconditionFailedError(key, condition, { cause: err });
        if (code !== 'EEXIST') throw err;
        // Another writer is replacing this version (or died doing it).
        const current = await fs.stat(target).catch(() => undefined);
        if (!current || etagOf(current) !== expected) throw new PreconditionFailedError(key, condition);
        const held = await fs.stat(claim).catch(() => undefined);
        // link() updates the inode's ctime, so it dates the newest claim on this version.
        if (held && Date.now() - held.ctimeMs > this.claimStaleMs) n += 1;
        else if (Date.now() > waitUntil) throw new MllError('TIMEOUT', `Gave up waiting to write "${key}": another writer holds it`);
        else await sleep(pause + Math.random() * pause);
        continue;
      }
      try {
        const current = await fs.stat(target);
        if (etagOf(current) !== expected) throw new PreconditionFailedError(key, condition);
        await fs.rename(temp, target);
      } finally {
        for (let i = n; i >= 0; i--) await fs.rm(`${claimBase}.${i}`, { force: true });
      }
      return;
    }
  }

  private async writeSidecar(key: string, options: Pick<PutOptions, 'contentType' | 'metadata'> | undefined): Promise<void> {
    if (options?.contentType || options?.metadata) {
      // Temp file + rename, like the object itself: a concurrent stat never reads half a sidecar.
      const side = this.sidecar(key);
      await fs.mkdir(path.dirname(side), { recursive: true });
      const sidecar: Sidecar = { contentType: options.contentType, metadata: options.metadata };
      const temp = path.join(this.tmp, `${randomUUID()}.meta`);
      await fs.writeFile(temp, JSON.stringify(sidecar));
      await fs.rename(temp, side);
    } else {
      await removeIfPresent(this.sidecar(key));
    }
  }

  async getWithInfo(key: string): Promise<VersionedObject> {
    const file = this.file(key);
    const handle = await fs.open(file, 'r').catch((err: unknown) => {
      throw wrapFsError(err, key);
    });
    try {
      // fstat: the info of exactly the file this handle reads, even if it is replaced meanwhile.
      const st = await handle.stat();
      const side = await this.readSidecar(key);
      return {
        stream: handle.createReadStream(),
        info: { key, size: st.size, lastModified: st.mtime, etag: etagOf(st), contentType: side.contentType, metadata: side.metadata },
      };
    } catch (err) {
      await handle.close();
      throw wrapFsError(err, key);
    }
  }

  private readSidecar(key: string): Promise<Sidecar> {
    return fs.readFile(this.sidecar(key), 'utf8').then((t) => JSON.parse(t) as Sidecar).catch(() => ({}) as Sidecar);
  }

  async get(key: string, options?: GetOptions): Promise<Readable> {
    const file = this.file(key);
    const handle = await fs.open(file, 'r').catch((err: unknown) => {
      throw wrapFsError(err, key);
    });
    const stream = handle.createReadStream({ start: options?.range?.start, end: options?.range?.end });
    if (options?.signal) addAbortSignal(options.signal, stream);
    return stream;
  }

  async stat(key: string): Promise<ObjectInfo> {
    const file = this.file(key);
    try {
      const st = await fs.stat(file);
      if (!st.isFile()) throw new NotFoundError(key);
      const side = await this.readSidecar(key);
      return {
        key,
        size: st.size,
        lastModified: st.mtime,
        etag: etagOf(st),
        contentType: side.contentType,
        metadata: side.metadata,
      };
    } catch (err) {
      throw wrapFsError(err, key);
    }
  }

  async *list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo> {
    await this.init();
    // Walk only the deepest directory the prefix names, then filter by the full prefix.
    const slash = prefix.lastIndexOf('/');
    const dirKey = slash >= 0 ? prefix.slice(0, slash) : '';
    if (dirKey !== '') assertValidKey(dirKey);
    const startDir = dirKey === '' ? this.objects : path.join(this.objects, ...dirKey.split('/'));
    const keys: string[] = [];
    await walk(startDir, dirKey, keys);
    keys.sort();
    for (const key of keys) {
      if (!key.startsWith(prefix)) continue;
      if (options?.startAfter !== undefined && key <= options.startAfter) continue;
      try {
        yield await this.stat(key);
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
      }
    }
  }

  async delete(key: string): Promise<void> {
    const file = this.file(key);
    await fs.rm(file, { force: true });
    await fs.rm(this.sidecar(key), { force: true });
    await pruneEmptyDirs(path.dirname(file), this.objects);
  }

  async copy(sourceKey: string, targetKey: string): Promise<ObjectInfo> {
    const info = await this.stat(sourceKey);
    return this.put(targetKey, await this.get(sourceKey), {
      size: info.size, contentType: info.contentType, metadata: info.metadata,
    });
  }

  async presignPut(key: string, expirySeconds: number): Promise<string> {
    return this.presign('PUT', key, expirySeconds);
  }

  async presignGet(key: string, expirySeconds: number): Promise<string> {
    return this.presign('GET', key, expirySeconds);
  }

  private presign(method: 'PUT' | 'GET', key: string, expirySeconds: number): string {
    assertValidKey(key);
    if (!this.options.presign) {
      throw new MllError('INTERNAL', 'The fs store was created without a presign base URL and secret');
    }
    const { baseUrl, secret } = this.options.presign;
    return signStoreUrl(baseUrl, secret, method, key, Math.floor(Date.now() / 1000) + expirySeconds);
  }

  async check(): Promise<void> {
    await this.init();
    try {
      await fs.access(this.objects, fs.constants.W_OK);
    } catch (err) {
      throw new MllError('STORE_UNAVAILABLE', `The fs store at ${this.options.root} is not writable`, { cause: err });
    }
  }
}

/** Size, mtime (µs) and inode: every put renames a new file into place, so a new write is a new etag. */
function etagOf(st: { size: number; mtimeMs: number; ino: number }): string {
  return `${st.size.toString(16)}-${Math.trunc(st.mtimeMs * 1000).toString(16)}-${st.ino.toString(16)}`;
}

/** One unlink (fs.rm would lstat first): most calls find nothing to remove. */
async function removeIfPresent(file: string): Promise<void> {
  try {
    await fs.unlink(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

async function walk(dir: string, dirKey: string, out: string[]): Promise<void> {
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
    throw err;
  }
  for (const entry of entries) {
    const key = dirKey === '' ? entry.name : `${dirKey}/${entry.name}`;
    if (entry.isDirectory()) await walk(path.join(dir, entry.name), key, out);
    else if (entry.isFile()) out.push(key);
  }
}

async function pruneEmptyDirs(dir: string, stopAt: string): Promise<void> {
  let current = dir;
  while (current.startsWith(stopAt) && current !== stopAt) {
    try {
      await fs.rmdir(current);
    } catch {
      return;
    }
    current = path.dirname(current);
  }
}

function wrapFsError(err: unknown, key: string): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return new NotFoundError(key, { cause: err });
  if (code === 'ENOSPC' || code === 'EIO' || code === 'EROFS' || code === 'EACCES') {
    return new MllError('STORE_UNAVAILABLE', `The fs store cannot write "${key}": ${code}`, { cause: err });
  }
  return err;
}
