import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { keys } from '../../domain/keys.js';
import { MllError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { makeDir, readSmallFile, removeIfPresent, renameFile, smallFileBytes, statIfPresent, writeSmallFile } from '../../shared/local-fs.js';
import { readAll } from '../../shared/read-all.js';
import { mediaTypes } from '../oci/media-types.js';
import { HashingReader } from '../publish/hashing-reader.js';
import { publishBlobs, seconds, type BlobWriter } from '../publish/publish.js';
import type { BlobSource } from '../publish/sources.js';
import type { Registries } from '../registry/registries.js';
import type { BuiltImage, ImageTarget, PublishedImage, PublishRef, StageContext } from '../types.js';
import { formatBytes } from '../util.js';

export interface OciLayoutTargetOptions {
  store: ObjectStore;
  logger: Logger;
  registries: Registries;
  /** Each repository becomes the OCI image layout <root>/<repository>. */
  root: string;
  concurrency?: number;
}

interface IndexJson {
  schemaVersion: 2;
  mediaType?: string;
  manifests: { mediaType: string; digest: string; size: number; annotations?: Record<string, string> }[];
}

const REF_NAME = 'org.opencontainers.image.ref.name';
const repositoryPattern = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

/**
 * Writes images as OCI image layouts (`oci-layout`, `index.json`, `blobs/sha256/…`), one directory per
 * repository, each version a tag (`org.opencontainers.image.ref.name`). Blobs already present with the
 * right size are skipped; new ones are written to a temp file, checked against their digest, then
 * renamed into place. Runtime layers are fetched once into a shared pool (`<root>/.blobs`) and
 * hard-linked into each layout. `skopeo copy oci:<dir>:<tag> docker://…` reads the result.
 */
export class OciLayoutTarget implements ImageTarget {
  readonly name = 'oci-layout' as const;
  /**
   * Layouts (and the temp directory) this process made or found complete: not made again on every
   * publish. One removed behind its back is made again when a write into it finds it missing
   * (retryingMissingLayout, tempWith).
   */
  private readonly ready = new Set<string>();

  constructor(private readonly options: OciLayoutTargetOptions) {}

  layoutDir(repository: string): string {
    if (!repositoryPattern.test(repository)) {
      throw new MllError('BAD_REQUEST', `"${repository}" cannot name an image layout directory`, { details: { repository } });
    }
    return path.join(this.options.root, repository);
  }

  async check(): Promise<void> {
    try {
      await fs.mkdir(this.options.root, { recursive: true });
      await fs.access(this.options.root, fs.constants.W_OK);
    } catch (err) {
      throw new MllError('STORE_UNAVAILABLE', `The image layout directory ${this.options.root} is not writable`, { cause: err });
    }
  }

  async publish(built: BuiltImage, ref: PublishRef, ctx: StageContext): Promise<PublishedImage> {
    const started = performance.now();
    const dir = this.layoutDir(ref.repository);
    const blobsDir = path.join(dir, 'blobs', 'sha256');
    this.prepare(dir);

    const concurrency = this.options.concurrency ?? 2;
    const writer: BlobWriter = {
      known: async (blob, source, _image, signal) => {
        const file = path.join(blobsDir, hex(blob.digest));
        if (hasSize(file, blob.size)) return 'exists';
        if (blob.source.kind === 'base') await this.linkFromPool(source, dir, file, signal);
        else if (!(await this.linkStored(source.localFile, source.size, dir, file))) await this.writeBlob(new HashingReader(source, signal), dir, file, source.digest);
        return 'uploaded';
      },
      // A layer never seen before: hashed while it is written, then renamed to its digest.
      hashing: (reader) => this.writeBlob(reader, dir, (d) => path.join(blobsDir, hex(d))),
      concurrency: { hashing: concurrency, known: concurrency },
      written: 'written',
    };
    const { image, manifest, tally } = await publishBlobs(this.options, built, writer, ctx);
    const manifestDigest = image.manifestDigest!;
    const manifestFile = path.join(blobsDir, hex(manifestDigest));
    if (!hasSize(manifestFile, manifest.length) && !(await this.linkStored(this.options.store.localPath?.(keys.blob(manifestDigest)), manifest.length, dir, manifestFile))) {
      await this.atomicWrite(dir, manifestFile, manifest);
    }

    await this.withLock(dir, async () => {
      const indexFile = path.join(dir, 'index.json');
      const index = statIfPresent(indexFile) ? JSON.parse(readSmallFile(indexFile).toString('utf8')) as IndexJson : { schemaVersion: 2, manifests: [] } as IndexJson;
      const manifests = index.manifests.filter((m) => m.annotations?.[REF_NAME] !== ref.tag);
      manifests.push({
        mediaType: image.manifestMediaType, digest: manifestDigest, size: manifest.length,
        annotations: { [REF_NAME]: ref.tag },
      });
      manifests.sort((a, b) => (a.annotations?.[REF_NAME] ?? '').localeCompare(b.annotations?.[REF_NAME] ?? '', 'en', { numeric: true }));
      await this.atomicWrite(dir, indexFile, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: mediaTypes.ociIndex, manifests }, null, 2)));
    });
    const written = tally.uploaded.count + tally.mounted.count + tally.hashed.count;
    const writtenBytes = tally.uploaded.bytes + tally.mounted.bytes + tally.hashed.bytes;
    ctx.log(`wrote ${dir}:${ref.tag}@${manifestDigest} in ${seconds(started)} s: ${written} blobs written (${formatBytes(writtenBytes)}), ${tally.exists.count} already present`);
    return { reference: `oci:${dir}:${ref.tag}`, digest: manifestDigest };
  }

  private tmpDir(): string {
    return path.join(this.options.root, '.tmp');
  }

  /**
   * The layout's folders and `oci-layout` file, and the temp directory, once per process. Folders
   * and small files here are made synchronously (src/shared/local-fs.ts).
   */
  private prepare(dir: string): void {
    if (!this.ready.has(this.tmpDir())) {
      makeDir(this.tmpDir());
      this.ready.add(this.tmpDir());
    }
    if (this.ready.has(dir)) return;
    makeDir(path.join(dir, 'blobs', 'sha256'));
    try {
      writeSmallFile(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }), { flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    this.ready.add(dir);
  }

  /**
   * Runs `place` (a rename, link or create in the layout `dir`; null for the shared pool, made just
   * before). Should the layout have been removed since this process made it, it is made again and
   * `place` retried once.
   */
  private async retryingMissingLayout(dir: string | null, place: () => void | Promise<void>): Promise<void> {
    try {
      await place();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || dir === null) throw err;
      this.ready.delete(dir);
      this.prepare(dir);
      await place();
    }
  }

  /**
   * Writes a new temp file with `write` and returns its name; a temp directory removed since it was
   * made is made again when `write` finds it missing. A failed write leaves no temp file behind.
   */
  private async tempWith(write: (temp: string) => void | Promise<void>): Promise<string> {
    const temp = path.join(this.tmpDir(), randomUUID());
    try {
      try {
        await write(temp);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || statIfPresent(this.tmpDir())) throw err;
        makeDir(this.tmpDir());
        await write(temp);
      }
    } catch (err) {
      await removeIfPresent(temp);
      throw err;
    }
    return temp;
  }

  /**
   * Writes a blob to a temp file while `reader` hashes it, checks its digest when it is known,
   * and renames it into place (`file` may depend on the digest, for layers hashed on the way).
   * A small blob is read whole and written at once; a larger one is streamed.
   */
  private async writeBlob(reader: HashingReader, dir: string | null, file: string | ((digest: string) => string), expected?: string): Promise<string> {
    const part = reader.part();
    const temp = reader.size <= smallFileBytes
      ? await readAll(await part.open()).then((bytes) => this.tempWith((t) => writeSmallFile(t, bytes, { flag: 'wx' })))
      : await this.tempWith(async (t) => pipeline(await part.open(), createWriteStream(t, { flags: 'wx' })));
    try {
      part.accept();
      const digest = reader.digest();
      if (expected !== undefined && digest !== expected) {
        throw new MllError('INTERNAL', `Blob ${expected} came out as ${digest} (${reader.size} bytes); it was not written`);
      }
      const target = typeof file === 'string' ? file : file(digest);
      await this.retryingMissingLayout(dir, () => renameFile(temp, target));
      return digest;
    } catch (err) {
      // Renamed into place, the temp file is gone; only a failure leaves it to remove.
      await removeIfPresent(temp);
      throw err;
    }
  }

  /**
   * A blob the store keeps as a local file (the fs store) is hard-linked into the layout: no copy
   * of its bytes and no new inode, which on some disks is most of a small write's cost (bench/fs).
   * The store wrote it under its digest after hashing it and never changes it in place. False
   * when there is no such file of that size, or it cannot be linked here (another device): the
   * caller then writes the bytes.
   */
  private async linkStored(stored: string | undefined, size: number, dir: string, file: string): Promise<boolean> {
    if (stored === undefined || !hasSize(stored, size)) return false;
    try {
      await this.retryingMissingLayout(dir, () => fs.link(stored, file));
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return true;
      if (code === 'EXDEV' || code === 'EPERM' || code === 'EMLINK' || code === 'ENOENT') return false;
      throw err;
    }
  }

  /** Runtime layers: fetched once into the shared pool, then hard-linked (copied across devices). */
  private async linkFromPool(source: BlobSource, dir: string, file: string, signal: AbortSignal): Promise<void> {
    const poolDir = path.join(this.options.root, '.blobs', 'sha256');
    await fs.mkdir(poolDir, { recursive: true });
    const pooled = path.join(poolDir, hex(source.digest));
    if (!hasSize(pooled, source.size)) await this.writeBlob(new HashingReader(source, signal), null, pooled, source.digest);
    try {
      await this.retryingMissingLayout(dir, () => fs.link(pooled, file));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return;
      if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') throw err;
      const temp = path.join(this.tmpDir(), randomUUID());
      await fs.copyFile(pooled, temp);
      await fs.rename(temp, file);
    }
  }

  private async atomicWrite(dir: string, file: string, data: Buffer): Promise<void> {
    const temp = await this.tempWith((t) => (data.length <= smallFileBytes ? writeSmallFile(t, data, { flag: 'wx' }) : fs.writeFile(t, data, { flag: 'wx' })));
    try {
      await this.retryingMissingLayout(dir, () => renameFile(temp, file));
    } catch (err) {
      await removeIfPresent(temp);
      throw err;
    }
  }

  /**
   * A lock around index.json, so concurrent publishes (other processes too) never lose a tag. The
   * lock is a second name of the layout's `oci-layout` file (link fails with EEXIST while another
   * writer holds it): taking and dropping it makes and frees no inode. link() sets the file's
   * ctime, which dates the lock when its holder died. A lock file of an earlier release (a file of
   * its own) excludes the same way.
   */
  private async withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
    const lock = path.join(dir, 'index.json.lock');
    const anchor = path.join(dir, 'oci-layout');
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await this.retryingMissingLayout(dir, () => fs.link(anchor, lock));
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const st = statIfPresent(lock);
        if (st && Date.now() - Math.max(st.ctimeMs, st.mtimeMs) > 60_000) {
          await removeIfPresent(lock); // left by a crashed writer
          continue;
        }
        if (Date.now() > deadline) throw new MllError('TIMEOUT', `The image layout ${dir} stayed locked for 30 s (${lock})`);
        await new Promise((r) => setTimeout(r, 25 + Math.random() * 50));
      }
    }
    try {
      return await fn();
    } finally {
      await removeIfPresent(lock);
    }
  }
}

function hex(digest: string): string {
  return digest.replace(/^sha256:/, '');
}

function hasSize(file: string, size: number): boolean {
  const st = statIfPresent(file);
  return st !== null && st.isFile() && st.size === size;
}


