import { randomUUID } from 'node:crypto';
import fsSync, { createReadStream, createWriteStream, type Stats } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { addAbortSignal, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { MllError } from '../errors.js';
import { placeFile, placeFileAsync, readOpenFile, removeFile, removeIfPresent, smallFileBytes, statIfPresent, writeNewSmallFile } from '../shared/local-fs.js';
import { signStoreUrl } from './fs-presign.js';
import {
  assertValidKey, NotFoundError, PreconditionFailedError, tooLargeToReadWhole, type GetOptions, type ListOptions, type ObjectInfo, type ObjectStore,
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
  /**
   * Write small objects with synchronous calls (src/shared/local-fs.ts), the cheapest in CPU; false:
   * through the thread pool, for an event loop that serves requests, which must not stop while a
   * slow disk creates a file (creating one took 0.9 ms on average, and far longer at times, on the
   * VMs this runs on). Sidecars (only for a content type or metadata the key does not imply) stay
   * synchronous either way. Default true.
   */
  blockingWrites?: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What a sidecar holds: the etag of the object it describes ties it to exactly that version. */
interface Sidecar {
  etag?: string;
  contentType?: string;
  metadata?: Record<string, string>;
}

/**
 * The owner-execute bit marks an object that has a sidecar, so a read learns from the stat it
 * does anyway whether there is one to read (no failing probe for the usual object without).
 * A file moved in with the bit set loses it (else every read would probe for nothing).
 */
const HAS_SIDECAR = 0o100;

/**
 * A complete temp file in `tmp/` and its stat: rename and link keep inode, size and mtime, so it is
 * the object's (chmod, which marks a sidecar, changes only the ctime).
 */
interface Staged {
  temp: string;
  st: Stats;
}

/**
 * Objects as files under `root/objects`. Writes go to `root/tmp` and are renamed into place,
 * so an object is visible only once complete. A content type other than the one the key implies
 * (application/json for `.json`, application/octet-stream otherwise) and metadata live in a
 * sidecar under `root/meta`, written only when there is something to say and tied to the object's
 * etag, so a stale one (left by an earlier version, or a writer that lost a race) is ignored.
 */
export class FsObjectStore implements ObjectStore {
  readonly kind = 'fs' as const;
  readonly remote = false;
  private readonly objects: string;
  private readonly tmp: string;
  private readonly meta: string;
  private readonly claims: string;
  private readonly claimStaleMs: number;
  private readonly blockingWrites: boolean;
  private ready: Promise<void> | undefined;

  constructor(private readonly options: FsStoreOptions) {
    this.objects = path.join(options.root, 'objects');
    this.tmp = path.join(options.root, 'tmp');
    this.meta = path.join(options.root, 'meta');
    this.claims = path.join(options.root, 'claims');
    this.claimStaleMs = options.claimStaleMs ?? 30_000;
    this.blockingWrites = options.blockingWrites ?? true;
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

  localPath(key: string): string {
    return this.file(key);
  }

  private sidecar(key: string): string {
    return path.join(this.meta, ...key.split('/')) + '.json';
  }

  private tempName(): string {
    return path.join(this.tmp, randomUUID());
  }

  /** Writes a whole body to a new temp file with one open, write, fstat and close (synchronous ones for a small body, with blockingWrites). */
  private async stageBytes(bytes: Buffer, marked: boolean): Promise<Staged> {
    const temp = this.tempName();
    if (bytes.length <= smallFileBytes && this.blockingWrites) return { temp, st: writeNewSmallFile(temp, bytes, (st) => (marked ? st.mode | HAS_SIDECAR : undefined)) };
    const handle = await fs.open(temp, 'wx');
    let st: Stats;
    try {
      for (let at = 0; at < bytes.length;) at += (await handle.write(bytes, at, bytes.length - at)).bytesWritten;
      st = await handle.stat();
      if (marked) await handle.chmod(st.mode | HAS_SIDECAR);
    } catch (err) {
      await handle.close().catch(() => undefined);
      await removeIfPresent(temp);
      throw err;
    }
    await handle.close();
    return { temp, st };
  }

  private async commit(staged: Staged, key: string, options: PutOptions | undefined): Promise<ObjectInfo> {
    const { temp, st } = staged;
    const target = this.file(key);
    const side = sidecarFor(key, options);
    // Written before the object it describes; until the rename it names an etag no object has yet.
    if (side) this.writeSidecar(key, { etag: etagOf(st), ...side });
    await this.place('rename', temp, target);
    return { key, size: st.size, lastModified: st.mtime, etag: etagOf(st), ...described(key, side) };
  }

  async put(key: string, body: Readable | Buffer | string, options?: PutOptions): Promise<ObjectInfo> {
    this.file(key);
    await this.init();
    const marked = sidecarFor(key, options) !== undefined;
    let staged: Staged | undefined;
    let temp: string | undefined;
    try {
      if (typeof body === 'string' || Buffer.isBuffer(body)) {
        const bytes = Buffer.from(body);
        if (options?.size !== undefined && bytes.length !== options.size) {
          throw new MllError('BAD_REQUEST', `Object "${key}": expected ${options.size} bytes, received ${bytes.length}`);
        }
        options?.signal?.throwIfAborted();
        staged = await this.stageBytes(bytes, marked);
        temp = staged.temp;
      } else {
        temp = this.tempName();
        let written = 0;
        await pipeline(
          body,
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
        staged = { temp, st: this.statStaged(temp, marked) };
      }
      return await this.commit(staged, key, options);
    } catch (err) {
      if (temp !== undefined) await removeIfPresent(temp);
      throw wrapFsError(err, key);
    }
  }

  private statStaged(temp: string, marked: boolean): Stats {
    const st = fsSync.statSync(temp);
    if (marked) fsSync.chmodSync(temp, st.mode | HAS_SIDECAR);
    else if (st.mode & HAS_SIDECAR) fsSync.chmodSync(temp, st.mode & ~HAS_SIDECAR);
    return st;
  }

  async putFile(key: string, filePath: string, options?: PutOptions & { move?: boolean }): Promise<ObjectInfo> {
    this.file(key);
    await this.init();
    if (options?.move) {
      const temp = this.tempName();
      try {
        fsSync.renameSync(filePath, temp);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw wrapFsError(err, key);
        return this.put(key, createReadStream(filePath), options).finally(() => fs.rm(filePath, { force: true }));
      }
      try {
        return await this.commit({ temp, st: this.statStaged(temp, sidecarFor(key, options) !== undefined) }, key, options);
      } catch (err) {
        await removeIfPresent(temp);
        throw wrapFsError(err, key);
      }
    }
    return this.put(key, createReadStream(filePath), options);
  }

  /**
   * Compare-and-swap on a file system, atomic across processes that share the directory.
   * Create-only is `link(temp, target)`, which fails with EEXIST when the target exists (opening
   * the target with O_EXCL would do it in fewer calls, but would show the object before it is
   * complete). Replace-if-match hard-links the current file to a claim named after the expected etag
   * (`claims/<key>.<etag>.<n>`): `link` succeeds for exactly one writer, so only one writer ever
   * replaces a given version; the winner checks the file is still that version and renames its
   * temp file over it. A claim whose writer died in between (two system calls apart) is passed
   * after `claimStaleMs` by claiming the next `<n>`. Every writer that lost sees a new etag.
   */
  async putIf(key: string, body: Buffer | string, condition: WriteCondition, options?: Pick<PutOptions, 'contentType' | 'metadata'>): Promise<ObjectInfo & { etag: string }> {
    const target = this.file(key);
    await this.init();
    const side = sidecarFor(key, options);
    let staged: Staged | undefined;
    let placed = false;
    try {
      staged = await this.stageBytes(Buffer.from(body), side !== undefined);
      const etag = etagOf(staged.st);
      if ('ifNoneMatch' in condition) {
        await this.linkNew(staged.temp, target, key, condition);
      } else {
        await this.replaceClaimed(staged.temp, target, key, condition.ifMatch);
        placed = true;
      }
      // After the write, not before: a refused write must not replace the sidecar of the object that stays.
      if (side) this.writeSidecar(key, { etag, ...side });
      return { key, size: staged.st.size, lastModified: staged.st.mtime, etag, ...described(key, side) };
    } catch (err) {
      throw wrapFsError(err, key);
    } finally {
      // link leaves the temp file behind; rename has consumed it. Removed without blocking: an
      // unlink waits on the disk (src/shared/local-fs.ts).
      if (staged && !placed) await removeIfPresent(staged.temp);
    }
  }

  private place(how: 'rename' | 'link', from: string, target: string): Promise<void> | void {
    return this.blockingWrites ? placeFile(how, from, target) : placeFileAsync(how, from, target);
  }

  private async linkNew(temp: string, target: string, key: string, condition: WriteCondition): Promise<void> {
    try {
      await this.place('link', temp, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new PreconditionFailedError(key, condition);
      throw err;
    }
  }

  private async replaceClaimed(temp: string, target: string, key: string, expected: string): Promise<void> {
    const condition = { ifMatch: expected };
    if (!/^[0-9a-f]+-[0-9a-f]+-[0-9a-f]+$/.test(expected)) throw new PreconditionFailedError(key, condition);
    const claimBase = path.join(this.claims, ...key.split('/')) + `.${expected}`;
    const waitUntil = Date.now() + this.claimStaleMs * 2 + 5_000;
    // The claims directory usually exists (nothing removes one): it is made only when link says it is missing.
    // Claims stay under the key's own path, although one flat folder of hashed names would spare a new
    // version's claims folder (three mkdir and a failed link): a process of an earlier release sharing
    // the directory claims here, and two claim names for one version would let two writers replace it.
    let claimDirMade = false;
    let n = 0;
    for (let pause = 2; ; pause = Math.min(pause * 2, 50)) {
      const claim = `${claimBase}.${n}`;
      try {
        fsSync.linkSync(target, claim);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' && !claimDirMade) {
          fsSync.mkdirSync(path.dirname(claimBase), { recursive: true });
          claimDirMade = true;
          continue;
        }
        // With the claims directory in place, ENOENT means the object is gone.
        if (code === 'ENOENT') throw new PreconditionFailedError(key, condition, { cause: err });
        if (code !== 'EEXIST') throw err;
        // Another writer is replacing this version (or died doing it).
        const current = statIfPresent(target);
        if (!current || etagOf(current) !== expected) throw new PreconditionFailedError(key, condition);
        const held = statIfPresent(claim);
        // link() updates the inode's ctime, so it dates the newest claim on this version.
        if (held && Date.now() - held.ctimeMs > this.claimStaleMs) n += 1;
        else if (Date.now() > waitUntil) throw new MllError('TIMEOUT', `Gave up waiting to write "${key}": another writer holds it`);
        else await sleep(pause + Math.random() * pause);
        continue;
      }
      try {
        const current = fsSync.statSync(target);
        if (etagOf(current) !== expected) throw new PreconditionFailedError(key, condition);
        fsSync.renameSync(temp, target);
      } finally {
        for (let i = n; i >= 0; i--) await removeIfPresent(`${claimBase}.${i}`);
      }
      return;
    }
  }

  /** Temp file + rename, like the object itself: a concurrent read never sees half a sidecar. */
  private writeSidecar(key: string, sidecar: Sidecar): void {
    const temp = `${this.tempName()}.meta`;
    writeNewSmallFile(temp, Buffer.from(JSON.stringify(sidecar)));
    try {
      placeFile('rename', temp, this.sidecar(key));
    } catch (err) {
      removeFile(temp); // a small sidecar, on a failure
      throw err;
    }
  }

  /** Content type and metadata of the object `st` describes: its sidecar's when it has one for exactly that version. */
  private describe(key: string, st: Stats): Pick<ObjectInfo, 'contentType' | 'metadata'> {
    if (st.mode & HAS_SIDECAR) {
      let side: Sidecar | undefined;
      try {
        side = JSON.parse(fsSync.readFileSync(this.sidecar(key), 'utf8')) as Sidecar;
      } catch {
        // none (or unreadable): the object is described by its key
      }
      if (side?.etag === etagOf(st)) return described(key, side);
    }
    return described(key, undefined);
  }

  async getWithInfo(key: string): Promise<VersionedObject> {
    const file = this.file(key);
    const handle = await fs.open(file, 'r').catch((err: unknown) => {
      throw wrapFsError(err, key);
    });
    try {
      // fstat: the info of exactly the file this handle reads, even if it is replaced meanwhile.
      const st = await handle.stat();
      return {
        stream: handle.createReadStream(),
        info: { key, size: st.size, lastModified: st.mtime, etag: etagOf(st), ...this.describe(key, st) },
      };
    } catch (err) {
      await handle.close();
      throw wrapFsError(err, key);
    }
  }

  /**
   * Opens an object for reading, with the fstat of exactly the file this descriptor reads (even if
   * it is replaced meanwhile); a folder is not an object. The caller closes the descriptor.
   */
  private openForRead(key: string): { fd: number; st: Stats } {
    const file = this.file(key);
    let fd: number;
    try {
      fd = fsSync.openSync(file, 'r');
    } catch (err) {
      throw wrapFsError(err, key);
    }
    try {
      const st = fsSync.fstatSync(fd);
      if (!st.isFile()) throw new NotFoundError(key);
      return { fd, st };
    } catch (err) {
      fsSync.closeSync(fd);
      throw wrapFsError(err, key);
    }
  }

  /**
   * A small object whole: open, fstat, one read, close, no stream (synchronous calls up to
   * smallFileBytes; a larger object is read from the same descriptor by the thread pool).
   */
  async getSmall(key: string, limit: number): Promise<{ body: Buffer; info: ObjectInfo & { etag: string } }> {
    const { fd, st } = this.openForRead(key);
    try {
      if (st.size > limit) throw tooLargeToReadWhole(key, limit);
      // Objects are never written in place (every write renames a new file), so size bytes are all there is.
      const body = st.size <= smallFileBytes ? readOpenFile(fd, st.size) : await readWhole(fd, st.size);
      return { body, info: { key, size: st.size, lastModified: st.mtime, etag: etagOf(st), ...this.describe(key, st) } };
    } catch (err) {
      throw wrapFsError(err, key);
    } finally {
      fsSync.closeSync(fd);
    }
  }

  /**
   * A small object (up to smallFileBytes) is read at once with synchronous calls and handed out as
   * a one-chunk stream; a larger one streams from the same descriptor.
   */
  async get(key: string, options?: GetOptions): Promise<Readable> {
    const { fd, st } = this.openForRead(key);
    let stream: Readable;
    if (st.size <= smallFileBytes) {
      let bytes: Buffer;
      try {
        bytes = readOpenFile(fd, st.size);
      } finally {
        fsSync.closeSync(fd);
      }
      const start = options?.range?.start ?? 0;
      const end = Math.min(options?.range?.end ?? bytes.length - 1, bytes.length - 1); // inclusive
      stream = Readable.from(end >= start ? [bytes.subarray(start, end + 1)] : [], { objectMode: false });
    } else {
      stream = createReadStream('', { fd, start: options?.range?.start, end: options?.range?.end });
    }
    if (options?.signal) addAbortSignal(options.signal, stream);
    return stream;
  }

  async stat(key: string): Promise<ObjectInfo> {
    const file = this.file(key);
    try {
      const st = statIfPresent(file);
      if (!st?.isFile()) throw new NotFoundError(key);
      return { key, size: st.size, lastModified: st.mtime, etag: etagOf(st), ...this.describe(key, st) };
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
    await removeIfPresent(file);
    // Stale sidecars are ignored anyway; this one goes so that nothing is left behind.
    await removeIfPresent(this.sidecar(key));
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

/** What the key implies, so that the usual object needs no sidecar. */
export function impliedContentType(key: string): string {
  return key.endsWith('.json') ? 'application/json' : 'application/octet-stream';
}

/** The sidecar a write needs: none when the content type is the implied one and there is no metadata. */
function sidecarFor(key: string, options: Pick<PutOptions, 'contentType' | 'metadata'> | undefined): Omit<Sidecar, 'etag'> | undefined {
  const contentType = options?.contentType && options.contentType !== impliedContentType(key) ? options.contentType : undefined;
  const metadata = options?.metadata && Object.keys(options.metadata).length > 0 ? options.metadata : undefined;
  return contentType || metadata ? { contentType, metadata } : undefined;
}

function described(key: string, side: Omit<Sidecar, 'etag'> | undefined): Pick<ObjectInfo, 'contentType' | 'metadata'> {
  return { contentType: side?.contentType ?? impliedContentType(key), metadata: side?.metadata };
}

const readAt = promisify(fsSync.read);

/** Reads `size` bytes from the start of an open file through the thread pool (fewer if it is shorter). */
async function readWhole(fd: number, size: number): Promise<Buffer> {
  const body = Buffer.allocUnsafe(size);
  let got = 0;
  while (got < size) {
    const { bytesRead } = await readAt(fd, body, got, size - got, got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === size ? body : body.subarray(0, got);
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
