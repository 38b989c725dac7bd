import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MllError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { ImageBlobs, type KnownBlob } from '../blobs.js';
import { completeImage, refreshImage } from '../oci/assemble.js';
import { recordLayerDigest } from '../oci/layers.js';
import { mediaTypes } from '../oci/media-types.js';
import type { BlobSource } from '../registry/client.js';
import type { Registries } from '../registry/registries.js';
import type { BuiltImage, ImageTarget, OciBuiltImage, OciLayer, PublishedImage, PublishRef, StageContext } from '../types.js';
import { mapLimit } from '../../shared/map-limit.js';
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
    if (built.kind !== 'oci') {
      throw new MllError('INTERNAL', 'The oci-layout target writes images of the oci builder; the docker builder pushes to a registry (MLL_TARGET=registry)');
    }
    const started = performance.now();
    const dir = this.layoutDir(ref.repository);
    const blobsDir = path.join(dir, 'blobs', 'sha256');
    await fs.mkdir(blobsDir, { recursive: true });
    await fs.mkdir(this.tmpDir(), { recursive: true });
    await writeIfMissing(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));

    const image = await refreshImage(this.options.store, built);
    const blobs = new ImageBlobs(this.options.store, this.options.registries);
    let written = 0;
    let writtenBytes = 0;
    let present = 0;
    const hashed = new Map<string, string>();
    const writeKnown = async (blob: KnownBlob, from: OciBuiltImage) => {
      const file = path.join(blobsDir, hex(blob.digest));
      if (await hasSize(file, blob.size)) {
        present++;
        return;
      }
      const source = blobs.source(from, blob);
      if (blob.source.kind === 'base') await this.linkFromPool(source, file, ctx.signal);
      else await this.writeBlob(source, file, ctx.signal);
      written++;
      writtenBytes += blob.size;
    };
    type Work = { kind: 'new'; layer: OciLayer } | { kind: 'known'; blob: KnownBlob };
    const work: Work[] = [
      ...image.layers.filter((l) => l.digest === null).map((layer): Work => ({ kind: 'new', layer })),
      ...blobs.knownBlobs(image).map((blob): Work => ({ kind: 'known', blob })),
    ];
    await mapLimit(work, this.options.concurrency ?? 2, async (w) => {
      if (w.kind === 'known') return writeKnown(w.blob, image);
      // A layer never seen before: hashed while it is written, then renamed to its digest.
      const source = blobs.unhashed(image, w.layer);
      const digest = await this.writeBlob({ digest: null, size: source.size, open: source.open }, (d) => path.join(blobsDir, hex(d)), ctx.signal);
      await recordLayerDigest(this.options.store, source.key, digest);
      hashed.set(source.key, digest);
      written++;
      writtenBytes += source.size;
    });
    let complete = image;
    if (complete.manifestDigest === null) {
      complete = await completeImage(this.options.store, image, hashed);
      await writeKnown({ digest: complete.configDigest!, size: complete.configSize!, source: { kind: 'blob' } }, complete);
    }
    const manifestDigest = complete.manifestDigest!;
    const manifest = await blobs.manifest(complete);
    const manifestFile = path.join(blobsDir, hex(manifestDigest));
    if (!(await hasSize(manifestFile, manifest.length))) await this.atomicWrite(manifestFile, manifest);

    await this.withLock(dir, async () => {
      const indexFile = path.join(dir, 'index.json');
      const index = await fs.readFile(indexFile, 'utf8').then((t) => JSON.parse(t) as IndexJson, (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return { schemaVersion: 2, manifests: [] } as IndexJson;
        throw err;
      });
      const manifests = index.manifests.filter((m) => m.annotations?.[REF_NAME] !== ref.tag);
      manifests.push({
        mediaType: complete.manifestMediaType, digest: manifestDigest, size: manifest.length,
        annotations: { [REF_NAME]: ref.tag },
      });
      manifests.sort((a, b) => (a.annotations?.[REF_NAME] ?? '').localeCompare(b.annotations?.[REF_NAME] ?? '', 'en', { numeric: true }));
      await this.atomicWrite(indexFile, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: mediaTypes.ociIndex, manifests }, null, 2)));
    });
    ctx.log(`wrote ${dir}:${ref.tag}@${manifestDigest} in ${((performance.now() - started) / 1000).toFixed(2)} s: ${written} blobs written (${formatBytes(writtenBytes)}), ${present} already present`);
    return { reference: `oci:${dir}:${ref.tag}`, digest: manifestDigest };
  }

  private tmpDir(): string {
    return path.join(this.options.root, '.tmp');
  }

  /**
   * Streams a blob to a temp file while hashing it, checks size (and the digest, when known), and
   * renames it into place (`file` may depend on the digest, for blobs hashed on the way).
   */
  private async writeBlob(
    source: { digest: string | null; size: number; open: BlobSource['open'] }, file: string | ((digest: string) => string), signal: AbortSignal,
  ): Promise<string> {
    const temp = path.join(this.tmpDir(), randomUUID());
    const hash = createHash('sha256');
    let size = 0;
    try {
      await pipeline(
        await source.open(0, source.size, signal),
        new Transform({ transform(chunk: Buffer, _e, done) { hash.update(chunk); size += chunk.length; done(null, chunk); } }),
        createWriteStream(temp, { flags: 'wx' }),
        { signal },
      );
      const digest = `sha256:${hash.digest('hex')}`;
      if ((source.digest !== null && digest !== source.digest) || size !== source.size) {
        throw new MllError('INTERNAL', `Blob ${source.digest ?? '(new layer)'} came out as ${digest} (${size} bytes); it was not written`);
      }
      await fs.rename(temp, typeof file === 'string' ? file : file(digest));
      return digest;
    } finally {
      await fs.rm(temp, { force: true });
    }
  }

  /** Runtime layers: fetched once into the shared pool, then hard-linked (copied across devices). */
  private async linkFromPool(source: BlobSource, file: string, signal: AbortSignal): Promise<void> {
    const poolDir = path.join(this.options.root, '.blobs', 'sha256');
    await fs.mkdir(poolDir, { recursive: true });
    const pooled = path.join(poolDir, hex(source.digest));
    if (!(await hasSize(pooled, source.size))) await this.writeBlob(source, pooled, signal);
    try {
      await fs.link(pooled, file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return;
      if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') throw err;
      const temp = path.join(this.tmpDir(), randomUUID());
      await fs.copyFile(pooled, temp);
      await fs.rename(temp, file);
    }
  }

  private async atomicWrite(file: string, data: Buffer): Promise<void> {
    const temp = path.join(this.tmpDir(), randomUUID());
    await fs.writeFile(temp, data, { flag: 'wx' });
    await fs.rename(temp, file);
  }

  /** A lock file around index.json, so concurrent publishes (other processes too) never lose a tag. */
  private async withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
    const lock = path.join(dir, 'index.json.lock');
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await (await fs.open(lock, 'wx')).close();
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const st = await fs.stat(lock).catch(() => undefined);
        if (st && Date.now() - st.mtimeMs > 60_000) {
          await fs.rm(lock, { force: true }); // left by a crashed writer
          continue;
        }
        if (Date.now() > deadline) throw new MllError('TIMEOUT', `The image layout ${dir} stayed locked for 30 s (${lock})`);
        await new Promise((r) => setTimeout(r, 25 + Math.random() * 50));
      }
    }
    try {
      return await fn();
    } finally {
      await fs.rm(lock, { force: true });
    }
  }
}

function hex(digest: string): string {
  return digest.replace(/^sha256:/, '');
}

async function hasSize(file: string, size: number): Promise<boolean> {
  const st = await fs.stat(file).catch(() => undefined);
  return st !== undefined && st.isFile() && st.size === size;
}

async function writeIfMissing(file: string, text: string): Promise<void> {
  await fs.writeFile(file, text, { flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
}
