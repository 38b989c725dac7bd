import type { Descriptor } from '../types.js';
import { parsePlatform } from '../util.js';
import type { ImageConfigJson } from './base.js';
import { mediaTypes } from './media-types.js';

/** Every timestamp in an image we build: fixed, so the same inputs give the same digest. */
export const FIXED_CREATED = '1970-01-01T00:00:00Z';

export const labelKeys = {
  model: 'ai.mll.model.name',
  version: 'ai.mll.model.version',
  modelType: 'ai.mll.model.type',
  framework: 'ai.mll.model.framework',
  contractDigest: 'ai.mll.contract.digest',
  modelOnly: 'ai.mll.model-only',
} as const;

export interface ImageMeta {
  model: string;
  version: number;
  modelType: string;
  framework: string;
  contractDigest: string;
  description?: string | null;
  userLabels?: Record<string, string>;
  base: { reference: string; digest: string } | null;
}

/** OCI annotations of the manifest (also set as labels, since `docker inspect` shows labels). */
export function imageAnnotations(meta: ImageMeta): Record<string, string> {
  const out: Record<string, string> = {
    'org.opencontainers.image.title': meta.model,
    'org.opencontainers.image.version': String(meta.version),
  };
  if (meta.description) out['org.opencontainers.image.description'] = meta.description;
  if (meta.base) {
    out['org.opencontainers.image.base.name'] = meta.base.reference;
    out['org.opencontainers.image.base.digest'] = meta.base.digest;
  }
  return out;
}

/** The labels of a model image: the user's, then ours (which win), in a stable order. */
export function imageLabels(meta: ImageMeta): Record<string, string> {
  const labels: Record<string, string> = { ...(meta.userLabels ?? {}) };
  Object.assign(labels, {
    [labelKeys.model]: meta.model,
    [labelKeys.version]: String(meta.version),
    [labelKeys.modelType]: meta.modelType,
    [labelKeys.framework]: meta.framework,
    [labelKeys.contractDigest]: meta.contractDigest,
    ...(meta.base ? {} : { [labelKeys.modelOnly]: 'true' }),
  }, imageAnnotations(meta));
  return sortKeys(labels);
}

export function sortKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * The image config: the base's (its runtime settings, layers and history kept) plus our labels,
 * diff ids and history; or, for a model-only image, just those. Serialised once, without spaces.
 */
export function imageConfigBytes(
  base: ImageConfigJson | null,
  platform: string,
  labels: Record<string, string>,
  layers: { diffId: string; createdBy: string }[],
): Buffer {
  const p = parsePlatform(platform);
  const baseRuntime = base?.config ?? {};
  const mergedLabels = sortKeys({ ...(baseRuntime.Labels ?? {}), ...labels });
  const config: Record<string, unknown> = {
    created: FIXED_CREATED,
    architecture: base?.architecture ?? p.architecture,
    os: base?.os ?? p.os,
  };
  const variant = base ? base.variant : p.variant;
  if (variant) config.variant = variant;
  if (base?.['os.version']) config['os.version'] = base['os.version'];
  config.config = { ...baseRuntime, Labels: mergedLabels };
  config.rootfs = { type: 'layers', diff_ids: [...(base?.rootfs?.diff_ids ?? []), ...layers.map((l) => l.diffId)] };
  config.history = [
    ...(base?.history ?? []),
    ...layers.map((l) => ({ created: FIXED_CREATED, created_by: l.createdBy, comment: 'ml-lambda oci builder' })),
  ];
  return Buffer.from(JSON.stringify(config));
}

export function manifestBytes(config: Descriptor, layers: Descriptor[], annotations: Record<string, string>): Buffer {
  return Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: mediaTypes.ociManifest,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    annotations: sortKeys(annotations),
  }));
}
