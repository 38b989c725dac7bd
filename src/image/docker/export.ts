import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type Docker from 'dockerode';
import { extract } from 'tar-stream';
import { keys } from '../../domain/keys.js';
import { MllError } from '../../errors.js';
import { canonicalJson } from '../../shared/canonical-json.js';
import { DigestingStream, sha256Digest } from '../../shared/digest.js';
import { exists, getJsonIfPresent, putJson, type ObjectStore } from '../../storage/object-store.js';
import type { ImageConfigJson, ResolvedBase } from '../oci/base.js';
import { manifestBytes } from '../oci/image-config.js';
import { mediaTypes, ociLayerMediaType } from '../oci/media-types.js';
import { putIfAbsent } from '../runtime.js';
import type { OciImage, OciLayer } from '../types.js';
import { dockerError } from './engine.js';

/** Entries up to this size are kept in memory (JSON files, small layers); larger ones go to a scratch file. */
const IN_MEMORY_BYTES = 1024 * 1024;

interface SavedEntry {
  digest: string;
  size: number;
  /** The bytes of a small entry, or the scratch file of a large one; neither for a skipped base layer. */
  bytes?: Buffer;
  file?: string;
}

/** What `docker save` lists for each image (both its legacy and its OCI layout format have it). */
interface SaveManifest {
  Config: string;
  Layers: string[];
}

export interface ExportOptions {
  store: ObjectStore;
  /** Where large entries wait (hashed on the way) before they move into the store. */
  scratchDir: string;
  /** The runtime the image was built FROM: its layers are not stored, the image points at its registry's. */
  base: ResolvedBase | undefined;
  /** The manifest's annotations (the oci builder's, for the same request). */
  annotations: Record<string, string>;
  signal?: AbortSignal;
}

export type ExportedImage = Omit<OciImage, 'labels' | 'warnings' | 'modelOnly' | 'base' | 'assembly'>;

/** Raise when an export record's content or the way an export is made changes: older records are then not reused. */
const EXPORT_FORMAT = 1;

interface ExportRecord {
  format: number;
  imageId: string;
  image: ExportedImage;
}

/**
 * What decides an export's manifest, hashed (hex): the engine's image id (the digest of its config,
 * which holds the labels and the layers' diff ids), the runtime's platform manifest (its layers
 * are pointed at, not stored) and the manifest's annotations.
 */
export function exportId(imageId: string, options: Pick<ExportOptions, 'base' | 'annotations'>): string {
  const base = options.base ? { digest: options.base.base.digest, manifestDigest: options.base.base.manifestDigest } : null;
  return sha256Digest(Buffer.from(canonicalJson({ format: EXPORT_FORMAT, imageId, base, annotations: options.annotations }))).replace(/^sha256:/, '');
}

/**
 * Exports an image from a Docker engine into the store as a complete OCI image (saveImage), or
 * reuses the export of the same image id, runtime and annotations while its blobs are all still
 * stored: an unchanged version rebuilt by the engine's cache is not read out of the engine again.
 */
export async function exportImage(docker: Docker, imageId: string, options: ExportOptions): Promise<{ image: ExportedImage; reused: boolean }> {
  const { store } = options;
  const key = keys.dockerExport(exportId(imageId, options));
  const record = await getJsonIfPresent<ExportRecord>(store, key);
  if (record?.format === EXPORT_FORMAT && record.imageId === imageId && (await stillStored(store, record.image))) return { image: record.image, reused: true };
  const image = await saveImage(docker, imageId, options);
  await putJson(store, key, { format: EXPORT_FORMAT, imageId, image } satisfies ExportRecord);
  return { image, reused: false };
}

/** Whether every blob an exported image needs from the store is there (the runtime's layers live in its registry). */
async function stillStored(store: ObjectStore, image: ExportedImage): Promise<boolean> {
  const digests = [image.manifestDigest, image.configDigest, ...image.layers.filter((l) => l.source.kind !== 'base').map((l) => l.digest)];
  for (const digest of digests) {
    if (!digest || !(await exists(store, keys.blob(digest)))) return false;
  }
  return true;
}

/**
 * Reads an image out of a Docker engine into the store: `docker save` is streamed once, each
 * layer hashed on its way to a store blob (the runtime's layers are skipped: the manifest points
 * at them in the runtime's registry, as for the oci builder), the engine's config kept as it is,
 * and an OCI manifest written. Any target then publishes it like any image.
 */
async function saveImage(docker: Docker, imageId: string, options: ExportOptions): Promise<ExportedImage> {
  const { store } = options;
  const baseDiffIds = options.base?.config.rootfs?.diff_ids ?? [];
  const scratch = path.join(options.scratchDir, `docker-export-${randomUUID()}`);
  await fs.mkdir(scratch, { recursive: true });
  try {
    let archive: Readable;
    try {
      archive = await docker.getImage(imageId).get() as Readable;
    } catch (err) {
      throw dockerError(err, `Exporting image ${imageId}`);
    }
    const { entries, links } = await readSave(archive, scratch, new Set(baseDiffIds.map(hex)), options.signal);
    const lookup = (name: string): SavedEntry => {
      let at = name;
      for (let hops = 0; links.has(at) && hops < 8; hops++) at = links.get(at)!;
      const entry = entries.get(at);
      if (!entry) throw new MllError('INTERNAL', `The image export of ${imageId} lacks ${name}`);
      return entry;
    };
    const list = JSON.parse(bytesOf(await read(lookup('manifest.json'))).toString('utf8')) as SaveManifest[];
    const saved = list[0];
    if (!saved) throw new MllError('INTERNAL', `The image export of ${imageId} lists no image`);
    const configBytes = bytesOf(await read(lookup(saved.Config)));
    const config = JSON.parse(configBytes.toString('utf8')) as ImageConfigJson;
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== saved.Layers.length) throw new MllError('INTERNAL', `The image ${imageId} lists ${saved.Layers.length} layers and ${diffIds.length} diff ids`);

    // The runtime's layers come first, unchanged: those stay in the runtime's registry.
    const fromBase = options.base && baseDiffIds.every((d, i) => diffIds[i] === d) ? baseDiffIds.length : 0;
    const layers: OciLayer[] = [];
    for (let i = 0; i < diffIds.length; i++) {
      const diffId = diffIds[i]!;
      if (i < fromBase) {
        const l = options.base!.layers[i]!;
        layers.push({ mediaType: ociLayerMediaType(l.mediaType), digest: l.digest, size: l.size, diffId, source: { kind: 'base' } });
        continue;
      }
      const entry = lookup(saved.Layers[i]!);
      if (entry.digest !== diffId) throw new MllError('INTERNAL', `Layer ${i} of image ${imageId} hashes to ${entry.digest}, not its diff id ${diffId}`);
      await storeLayer(store, entry, options.signal);
      layers.push({ mediaType: mediaTypes.ociLayer, digest: diffId, size: entry.size, diffId, source: { kind: 'blob' } });
    }
    const configDigest = sha256Digest(configBytes);
    await putIfAbsent(store, keys.blob(configDigest), configBytes);
    const manifest = manifestBytes(
      { mediaType: mediaTypes.ociConfig, digest: configDigest, size: configBytes.length },
      layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest!, size: l.size })),
      options.annotations,
    );
    const manifestDigest = sha256Digest(manifest);
    await putIfAbsent(store, keys.blob(manifestDigest), manifest);
    return {
      manifestDigest, manifestMediaType: mediaTypes.ociManifest, manifestSize: manifest.length,
      configDigest, configSize: configBytes.length, layers,
      platform: [config.os ?? 'linux', config.architecture ?? 'amd64', config.variant].filter(Boolean).join('/'),
    };
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

/**
 * Reads a `docker save` stream once: every regular file hashed, small ones kept in memory, large
 * ones in scratch files; links remembered (the legacy format links repeated layers); layers named
 * by a runtime diff id (the OCI layout format names blobs by digest) skipped unread.
 */
async function readSave(archive: Readable, scratch: string, skip: Set<string>, signal?: AbortSignal): Promise<{ entries: Map<string, SavedEntry>; links: Map<string, string> }> {
  const entries = new Map<string, SavedEntry>();
  const links = new Map<string, string>();
  const tar = extract();
  const abort = () => archive.destroy(signal?.reason as Error);
  signal?.addEventListener('abort', abort, { once: true });
  archive.once('error', (err) => tar.destroy(err));
  archive.pipe(tar);
  try {
    for await (const entry of tar) {
      const name = path.posix.normalize(entry.header.name).replace(/^\.\//, '').replace(/\/$/, '');
      if (entry.header.type === 'symlink' || entry.header.type === 'link') {
        const target = entry.header.linkname ?? '';
        links.set(name, entry.header.type === 'link' ? path.posix.normalize(target) : path.posix.join(path.posix.dirname(name), target));
        entry.resume();
        continue;
      }
      if (entry.header.type !== 'file') {
        entry.resume();
        continue;
      }
      const size = entry.header.size ?? 0;
      const named = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(name)?.[1];
      if (named && skip.has(named)) {
        entries.set(name, { digest: `sha256:${named}`, size });
        entry.resume();
        continue;
      }
      const hashing = new DigestingStream();
      if (size <= IN_MEMORY_BYTES) {
        const chunks: Buffer[] = [];
        const sink = new PassThrough();
        sink.on('data', (c: Buffer) => chunks.push(c));
        await pipeline(entry, hashing, sink);
        entries.set(name, { digest: hashing.digest(), size, bytes: Buffer.concat(chunks) });
      } else {
        const file = path.join(scratch, randomUUID());
        await pipeline(entry, hashing, createWriteStream(file));
        entries.set(name, { digest: hashing.digest(), size, file });
      }
    }
  } finally {
    signal?.removeEventListener('abort', abort);
  }
  signal?.throwIfAborted();
  return { entries, links };
}

async function read(entry: SavedEntry): Promise<SavedEntry> {
  if (entry.bytes || !entry.file) return entry;
  return { ...entry, bytes: await fs.readFile(entry.file) };
}

function bytesOf(entry: SavedEntry): Buffer {
  if (!entry.bytes) throw new MllError('INTERNAL', 'An image export entry was skipped but is needed');
  return entry.bytes;
}

async function storeLayer(store: ObjectStore, entry: SavedEntry, signal?: AbortSignal): Promise<void> {
  const key = keys.blob(entry.digest);
  if (await exists(store, key)) return;
  if (entry.bytes) await store.put(key, entry.bytes, { size: entry.size });
  else if (entry.file) await store.putFile(key, entry.file, { size: entry.size, move: true, signal });
  else throw new MllError('INTERNAL', `Layer ${entry.digest} of the image export was skipped but is needed`);
}

function hex(digest: string): string {
  return digest.replace(/^sha256:/, '');
}
