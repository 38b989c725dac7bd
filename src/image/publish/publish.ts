import { setMaxListeners } from 'node:events';
import { MllError } from '../../errors.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { mapLimit } from '../../shared/map-limit.js';
import { completeImage, refreshImage } from '../oci/assemble.js';
import { recordLayerDigest } from '../oci/layers.js';
import type { Registries } from '../registry/registries.js';
import type { OciImage, OciLayer, StageContext } from '../types.js';
import { formatBytes, settleAll } from '../util.js';
import { HashingReader } from './hashing-reader.js';
import { ImageBlobs, type KnownBlob } from './image-blobs.js';
import type { BlobSource } from './sources.js';

export type WriteOutcome = 'exists' | 'mounted' | 'uploaded';

/** How a target stores blobs; publishBlobs decides what to write, in which order, and hashes what is new. */
export interface BlobWriter {
  /** A blob whose digest is known: 'exists' when the target has it, else written (or mounted) from `source`. */
  known(blob: KnownBlob, source: BlobSource, image: OciImage, signal: AbortSignal): Promise<WriteOutcome>;
  /** A layer never hashed: written from `reader`, which hashes it on the way; returns the digest it hashed. */
  hashing(reader: HashingReader, signal: AbortSignal): Promise<string>;
  /** New layers written at once, and known blobs checked or written at once (mostly a HEAD or a stat each). */
  concurrency: { hashing: number; known: number };
  /** How the log says a blob was written (`uploaded` by default). */
  written?: string;
}

export type Tally = Record<WriteOutcome | 'hashed', { count: number; bytes: number }>;

export interface PublishedBlobs<T extends OciImage> {
  /** The image with every digest known (its config and manifest in the store). */
  image: T;
  manifest: Buffer;
  tally: Tally;
}

/**
 * Everything but the manifest, for any target and any image: the image's known blobs (HEAD or
 * stat skips what is there, base layers are mounted or copied, the rest streamed from where they
 * live) and its new layers, hashed while they are written (HashingReader; each digest is kept in
 * its layer record, so no later build or publish reads those bytes again); then the image is
 * completed and its config written. The target commits the manifest (by tag) itself, last.
 */
export async function publishBlobs<T extends OciImage>(
  deps: { store: ObjectStore; registries: Registries }, built: T, writer: BlobWriter, outer: StageContext,
): Promise<PublishedBlobs<T>> {
  // Many requests run at once on one signal: give them a local one (one listener on the caller's).
  const local = new AbortController();
  setMaxListeners(256, local.signal);
  const forward = () => local.abort(outer.signal.reason);
  if (outer.signal.aborted) forward();
  outer.signal.addEventListener('abort', forward, { once: true });
  try {
    return await publishWith(deps, built, writer, { ...outer, signal: local.signal });
  } finally {
    outer.signal.removeEventListener('abort', forward);
  }
}

async function publishWith<T extends OciImage>(
  deps: { store: ObjectStore; registries: Registries }, built: T, writer: BlobWriter, ctx: StageContext,
): Promise<PublishedBlobs<T>> {
  const { store } = deps;
  if (!Array.isArray(built.layers)) {
    // Before build was separate from publish, a docker-built image stayed in its engine.
    throw new MllError('UNREADABLE_RECORD', 'This version\'s image was built by an older ML Lambda that kept it inside the Docker engine; upload the model again to build it anew');
  }
  const image = await refreshImage(store, built);
  const blobs = new ImageBlobs(store, deps.registries);
  const written = writer.written ?? 'uploaded';
  const tally: Tally = {
    exists: { count: 0, bytes: 0 }, mounted: { count: 0, bytes: 0 }, uploaded: { count: 0, bytes: 0 }, hashed: { count: 0, bytes: 0 },
  };
  const hashed = new Map<string, string>();
  const known = async (blob: KnownBlob, from: T) => {
    const t0 = performance.now();
    const outcome = await writer.known(blob, blobs.source(from, blob), from, ctx.signal);
    tally[outcome].count++;
    tally[outcome].bytes += blob.size;
    if (outcome !== 'exists') ctx.log(`${outcome === 'uploaded' ? written : outcome} ${blob.digest} (${formatBytes(blob.size)}) in ${seconds(t0)} s`);
  };
  const hashNew = async (layer: OciLayer) => {
    const t0 = performance.now();
    const source = blobs.unhashed(image, layer);
    const digest = await writer.hashing(new HashingReader(source, ctx.signal), ctx.signal);
    await recordLayerDigest(store, source.key, digest);
    hashed.set(source.key, digest);
    tally.hashed.count++;
    tally.hashed.bytes += source.size;
    ctx.log(`hashed and ${written} ${digest} (${formatBytes(source.size)}) in ${seconds(t0)} s`);
  };
  await settleAll([
    mapLimit(image.layers.filter((l) => l.digest === null), writer.concurrency.hashing, hashNew),
    mapLimit(blobs.knownBlobs(image), writer.concurrency.known, (blob) => known(blob, image)),
  ]);
  let complete = image;
  if (complete.manifestDigest === null) {
    complete = await completeImage(store, image, hashed);
    await known({ digest: complete.configDigest!, size: complete.configSize!, source: { kind: 'blob' } }, complete);
  }
  if (complete.manifestDigest === null) throw new MllError('INTERNAL', 'The image is still not complete after its layers were hashed');
  return { image: complete, manifest: await blobs.manifest(complete), tally };
}

export function seconds(since: number): string {
  return ((performance.now() - since) / 1000).toFixed(2);
}
