import { keys } from '../../domain/keys.js';
import { MllError } from '../../errors.js';
import { getBuffer, getJsonIfPresent, type ObjectStore } from '../../storage/object-store.js';
import { sha256Digest } from '../../shared/digest.js';
import { putIfAbsent } from '../runtime.js';
import type { OciImage } from '../types.js';
import type { ImageConfigJson } from './base.js';
import { imageConfigBytes, manifestBytes } from './image-config.js';
import type { LayerRecord } from './layers.js';
import { mediaTypes } from './media-types.js';
import { cachedConfig, rememberConfig } from './config-cache.js';

/** True when every layer digest, and so the config and manifest, is known. */
export function isComplete(image: OciImage): boolean {
  return image.manifestDigest !== null && image.layers.every((l) => l.digest !== null);
}

/**
 * Picks up digests that publishes computed since the image was built (a retried or repeated publish
 * of the same built image then skips what the first one hashed and uploaded), and completes the
 * image when nothing is left to hash.
 */
export async function refreshImage<T extends OciImage>(store: ObjectStore, image: T): Promise<T> {
  if (isComplete(image)) return image;
  const hashed = new Map<string, string>();
  for (const layer of image.layers) {
    if (layer.digest !== null || layer.source.kind !== 'recipe') continue;
    const record = await getJsonIfPresent<LayerRecord>(store, layer.source.key);
    if (record?.digest) hashed.set(layer.source.key, record.digest);
  }
  if (hashed.size === 0) return image;
  const layers = image.layers.map((l) => {
    const digest = l.digest === null && l.source.kind === 'recipe' ? hashed.get(l.source.key) : undefined;
    return digest ? { ...l, digest, diffId: digest } : l;
  });
  const refreshed = { ...image, layers };
  return layers.every((l) => l.digest !== null) ? completeImage(store, refreshed) : refreshed;
}

/**
 * Fills in the digests of layers hashed since the build (keyed by layer record key), then writes the
 * config and manifest into the store and returns the complete image. The same inputs always give the
 * same bytes, whether the builder or a publish completes the image.
 */
export async function completeImage<T extends OciImage>(store: ObjectStore, image: T, hashed: ReadonlyMap<string, string> = new Map()): Promise<T> {
  const layers = image.layers.map((l) => {
    if (l.digest !== null) return l;
    const digest = l.source.kind === 'recipe' ? hashed.get(l.source.key) : undefined;
    if (!digest) throw new MllError('INTERNAL', 'A layer of the image was never hashed; publish it to complete the image');
    return { ...l, digest, diffId: digest };
  });
  const assembly = image.assembly;
  if (!assembly) throw new MllError('INTERNAL', 'An incomplete image without its assembly; build it again');
  const baseConfig = assembly.baseConfigDigest
    ? JSON.parse((await readBaseConfig(store, assembly.baseConfigDigest)).toString('utf8')) as ImageConfigJson
    : null;
  const modelLayers = layers.filter((l) => l.source.kind !== 'base');
  if (modelLayers.length !== assembly.history.length) throw new MllError('INTERNAL', 'The image assembly does not match its layers');
  const config = imageConfigBytes(baseConfig, image.platform, image.labels,
    modelLayers.map((l, i) => ({ diffId: l.diffId!, createdBy: assembly.history[i]! })));
  const configDigest = sha256Digest(config);
  const manifest = manifestBytes(
    { mediaType: mediaTypes.ociConfig, digest: configDigest, size: config.length },
    layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest!, size: l.size })),
    assembly.annotations,
  );
  const manifestDigest = sha256Digest(manifest);
  // Both are content-addressed and computed here: written side by side (each store round trip
  // counts when an unchanged payload's new version does little else).
  await Promise.all([putIfAbsent(store, keys.blob(configDigest), config), putIfAbsent(store, keys.blob(manifestDigest), manifest)]);
  return { ...image, layers, configDigest, configSize: config.length, manifestDigest, manifestSize: manifest.length };
}

async function readBaseConfig(store: ObjectStore, digest: string): Promise<Buffer> {
  const cached = cachedConfig(store, digest);
  if (cached) return cached;
  const bytes = await getBuffer(store, keys.blob(digest));
  rememberConfig(store, digest, bytes);
  return bytes;
}
