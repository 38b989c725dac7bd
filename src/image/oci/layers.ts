import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TreeManifest } from '../../domain/tree.js';
import { keys } from '../../domain/keys.js';
import { MllError } from '../../errors.js';
import { DigestingStream } from '../../shared/digest.js';
import { exists, getJson, getJsonIfPresent, type ObjectStore } from '../../storage/object-store.js';
import { layerCompressor, layerFileSuffix, layerMediaType, type Compression } from './compress.js';
import { segmentStream } from './layer-stream.js';
import { mediaTypes } from './media-types.js';
import { compareBytes, segmentsSize, tarSegments, withParents, type TarEntry } from './tar.js';

/** Bumped whenever the tar writer or the layer split changes what bytes a layer has. */
export const LAYER_FORMAT = 'mll-layer/1';
/**
 * Files this large or larger get a layer of their own, so a new version that changes one big file
 * of thirty uploads only that file. Below it, files share one layer: per-layer costs (a HEAD on
 * push, a descriptor, an extraction step on pull) outweigh the reuse of a few small files.
 */
export const LARGE_FILE_BYTES = 4 * 1024 * 1024;
/** Model layers in one image, all counted (shared files layer and contract included). */
export const MAX_MODEL_LAYERS = 64;
export { GZIP_LEVEL, type Compression } from './compress.js';

export const MODEL_ROOT = 'model';
export const FILES_ROOT = 'model/files';
export const CONTRACT_PATH = 'model/contract.protobin';

export interface LayerPlan {
  role: 'files' | 'file' | 'contract';
  /** For logs: what the layer holds. */
  description: string;
  /** Sorted, parents included. */
  entries: TarEntry[];
}

/**
 * What is known about one layer; stored as JSON under the layer's record key. `digest` is null while
 * the layer has never been hashed: an uncompressed layer is hashed by its first publish, in the same
 * pass that uploads it, so a new payload is read once after extraction, not twice.
 */
export interface LayerRecord {
  format: string;
  compression: Compression;
  entries: TarEntry[];
  mediaType: string;
  digest: string | null;
  diffId: string | null;
  size: number;
  uncompressedSize: number;
}

export type KnownLayerRecord = LayerRecord & { digest: string; diffId: string };

export function isKnown(record: LayerRecord): record is KnownLayerRecord {
  return record.digest !== null && record.diffId !== null;
}

/**
 * Splits a tree into the model's layers: one shared layer (the small files, symlinks and the
 * directories), one layer per large file (the largest ones when there are more than the cap allows),
 * and the contract last.
 */
export function planModelLayers(tree: TreeManifest, contract: { digest: string; size: number }): LayerPlan[] {
  const files = tree.entries.filter((e) => e.type === 'file');
  const ownLayerCap = MAX_MODEL_LAYERS - 2;
  const own = new Set(
    files
      .filter((f) => f.size >= LARGE_FILE_BYTES)
      .sort((a, b) => b.size - a.size || compareBytes(a.path, b.path))
      .slice(0, ownLayerCap)
      .map((f) => f.path),
  );
  const shared: TarEntry[] = [{ type: 'dir', path: FILES_ROOT }];
  const single: LayerPlan[] = [];
  for (const entry of tree.entries) {
    const p = `${FILES_ROOT}/${entry.path}`;
    if (entry.type === 'symlink') shared.push({ type: 'symlink', path: p, target: entry.target });
    else if (own.has(entry.path)) {
      single.push({
        role: 'file',
        description: entry.path,
        entries: withParents([{ type: 'file', path: p, mode: entry.mode, size: entry.size, digest: entry.digest }]),
      });
    } else shared.push({ type: 'file', path: p, mode: entry.mode, size: entry.size, digest: entry.digest });
  }
  single.sort((a, b) => compareBytes(a.description, b.description));
  const sharedCount = shared.length - 1;
  return [
    { role: 'files', description: `${sharedCount} small file${sharedCount === 1 ? '' : 's'}`, entries: withParents(shared) },
    ...single,
    {
      role: 'contract',
      description: 'contract.protobin',
      entries: withParents([{ type: 'file', path: CONTRACT_PATH, mode: 0o644, size: contract.size, digest: contract.digest }]),
    },
  ];
}

/** The store key of a layer's record: a hash of everything that decides the layer's bytes. */
export function layerRecordKey(entries: TarEntry[], compression: Compression): string {
  const id = createHash('sha256').update(JSON.stringify({ format: LAYER_FORMAT, compression, entries })).digest('hex');
  return keys.layerRecord(id);
}

/**
 * Uncompressed layers up to this size are hashed by the build even when `eager` is off: reading a
 * small layer twice costs less than what leaving it pending makes the publish do (read the layer
 * record again, rewrite it with the digest, complete the image), so a tiny model's image is
 * complete when built.
 */
export const HASH_AT_BUILD_BYTES = 256 * 1024;

export interface PrepareOptions {
  compression: Compression;
  /** Hash uncompressed layers now instead of leaving it to the first publish (layers up to HASH_AT_BUILD_BYTES always are). */
  eager?: boolean;
  /** Scratch directory for compressed layers on their way into the store. */
  scratchDir?: string;
  signal?: AbortSignal;
}

async function readRecord(store: ObjectStore, key: string, compression: Compression): Promise<LayerRecord | undefined> {
  const record = await getJsonIfPresent<LayerRecord>(store, key);
  if (!record || record.format !== LAYER_FORMAT || record.compression !== compression) return undefined;
  // A compressed layer is only good while its bytes are still stored.
  if (compression !== 'none' && record.digest && !(await exists(store, keys.blob(record.digest)))) return undefined;
  return record;
}

async function writeRecord(store: ObjectStore, key: string, record: LayerRecord): Promise<void> {
  // No content type: it would add a sidecar write to the fs store for nothing.
  const json = Buffer.from(JSON.stringify(record));
  await store.put(key, json, { size: json.length });
}

export interface PreparedLayer {
  key: string;
  record: LayerRecord;
  /** known: read from the store; hashed: computed now; pending: the first publish hashes it. */
  state: 'known' | 'hashed' | 'pending';
}

/**
 * A layer's record: from the store when this exact layer was seen before (no content byte is read);
 * otherwise an uncompressed layer larger than HASH_AT_BUILD_BYTES is left pending (its size is known
 * from the entries alone, its digest comes from the first publish, which hashes while it uploads),
 * a smaller one is hashed now, and a compressed layer is
 * streamed once through its compressor into the store now, because another zlib or zstd could
 * compress the same tar to other bytes.
 */
export async function prepareLayer(store: ObjectStore, entries: TarEntry[], options: PrepareOptions): Promise<PreparedLayer> {
  const key = layerRecordKey(entries, options.compression);
  const existing = await readRecord(store, key, options.compression);
  if (existing && isKnown(existing)) return { key, record: existing, state: 'known' };
  const segments = tarSegments(entries);
  const size = segmentsSize(segments);
  if (options.compression === 'none' && !options.eager && size > HASH_AT_BUILD_BYTES) {
    const record: LayerRecord = {
      format: LAYER_FORMAT, compression: 'none', entries, mediaType: mediaTypes.ociLayer, digest: null, diffId: null, size, uncompressedSize: size,
    };
    if (!existing) await writeRecord(store, key, record);
    return { key, record, state: 'pending' };
  }
  const source = () => segmentStream(store, segments, { start: 0, end: size }, options.signal);
  const raw = new DigestingStream();
  let record: LayerRecord;
  if (options.compression === 'none') {
    await pipeline(source(), raw, new Writable({ write: (_chunk, _encoding, done) => done() }), { signal: options.signal });
    const digest = raw.digest();
    record = { format: LAYER_FORMAT, compression: 'none', entries, mediaType: mediaTypes.ociLayer, digest, diffId: digest, size, uncompressedSize: size };
  } else {
    const dir = options.scratchDir ?? os.tmpdir();
    await fs.mkdir(dir, { recursive: true });
    const temp = path.join(dir, `layer-${randomUUID()}${layerFileSuffix[options.compression]}`);
    const packed = new DigestingStream();
    try {
      await pipeline(source(), raw, layerCompressor(options.compression), packed, createWriteStream(temp), { signal: options.signal });
      const digest = packed.digest();
      await store.putFile(keys.blob(digest), temp, { size: packed.bytes, move: true, signal: options.signal });
      record = {
        format: LAYER_FORMAT, compression: options.compression, entries, mediaType: layerMediaType[options.compression],
        digest, diffId: raw.digest(), size: packed.bytes, uncompressedSize: size,
      };
    } finally {
      await fs.rm(temp, { force: true });
    }
  }
  await writeRecord(store, key, record);
  return { key, record, state: 'hashed' };
}

/** Keeps the digest a publish computed for a pending layer, so no later build or push reads it again. */
export async function recordLayerDigest(store: ObjectStore, key: string, digest: string): Promise<KnownLayerRecord> {
  const record = await getJson<LayerRecord>(store, key);
  if (record.digest !== null && record.digest !== digest) {
    throw new MllError('INTERNAL', `Layer ${key} hashed to ${digest}, but its record says ${record.digest}`);
  }
  const known: KnownLayerRecord = { ...record, digest, diffId: record.compression === 'none' ? digest : record.diffId! };
  if (record.digest === null) await writeRecord(store, key, known);
  return known;
}
