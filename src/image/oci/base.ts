import { keys } from '../../domain/keys.js';
import { MllError, isMllError } from '../../errors.js';
import { getBuffer, isNotFound, type ObjectStore } from '../../storage/object-store.js';
import { sha256Digest } from '../../shared/digest.js';
import { getPlatformManifest } from '../registry/manifests.js';
import { parseReference } from '../registry/reference.js';
import type { Registries } from '../registry/registries.js';
import type { BaseImage, Descriptor } from '../types.js';
import { mediaTypes } from './media-types.js';
import { cachedConfig, rememberConfig } from './config-cache.js';

/** The parts of an image config we read and extend (docker and OCI configs share them). */
export interface ImageConfigJson {
  architecture?: string;
  os?: string;
  variant?: string;
  config?: Record<string, unknown> & { Labels?: Record<string, string> | null };
  rootfs?: { type: string; diff_ids: string[] };
  history?: Record<string, unknown>[];
  [key: string]: unknown;
}

export interface ResolvedBase {
  base: BaseImage;
  layers: Descriptor[];
  config: ImageConfigJson;
  /** The config is a store blob under this digest. */
  configDigest: string;
}

interface ManifestJson {
  schemaVersion?: number;
  mediaType?: string;
  config?: Descriptor;
  layers?: (Descriptor & { urls?: string[] })[];
}

/** Thrown when the runtime image does not exist or its registry cannot be reached at all. */
export class RuntimeUnreachable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RuntimeUnreachable';
  }
}

const unreachableCodes = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * Resolves a runtime image by tag to a digest (once per build), picks the platform's manifest from
 * an index, and reads its config (cached in the store by digest, so later builds read it locally).
 */
export async function resolveBase(
  reference: string, registries: Registries, store: ObjectStore, platform: string, signal?: AbortSignal,
): Promise<ResolvedBase> {
  const ref = parseReference(reference);
  const client = registries.client(ref.registry);
  let found;
  try {
    found = await getPlatformManifest(client, ref.repository, ref.digest ?? ref.tag!, platform, { signal, label: `runtime image ${reference}` });
  } catch (err) {
    const code = isMllError(err) ? (err.details as { code?: string } | undefined)?.code : undefined;
    if (isMllError(err) && err.code === 'REGISTRY_UNAVAILABLE' && code && unreachableCodes.has(code)) {
      throw new RuntimeUnreachable(`The registry ${ref.registry} of runtime image ${reference} cannot be reached (${code})`, { cause: err });
    }
    throw err;
  }
  if (!found) throw new RuntimeUnreachable(`The runtime image ${reference} does not exist in its registry`);
  const { top, manifest } = found;
  if (!manifest) throw new RuntimeUnreachable(`The ${platform} manifest of runtime image ${reference} is missing from its registry`);
  if (manifest.mediaType !== mediaTypes.ociManifest && manifest.mediaType !== mediaTypes.dockerManifest) {
    throw new MllError('REGISTRY_REJECTED',
      `The runtime image ${reference} has a manifest of type "${manifest.mediaType}"; ML Lambda builds on OCI or Docker schema 2 images (push it again with a current tool)`,
      { details: { reference, mediaType: manifest.mediaType } });
  }
  const parsed = JSON.parse(manifest.bytes.toString('utf8')) as ManifestJson;
  if (!parsed.config) throw new MllError('REGISTRY_REJECTED', `The manifest of runtime image ${reference} has no config`);
  const configBytes = await readConfig(client, ref.repository, parsed.config, store, signal);
  const config = JSON.parse(configBytes.toString('utf8')) as ImageConfigJson;
  return {
    base: {
      reference,
      digest: top.digest,
      manifestDigest: manifest.digest,
      registry: ref.registry,
      repository: ref.repository,
    },
    layers: (parsed.layers ?? []).map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    config,
    configDigest: parsed.config.digest,
  };
}

async function readConfig(
  client: ReturnType<Registries['client']>, repository: string, desc: Descriptor, store: ObjectStore, signal?: AbortSignal,
): Promise<Buffer> {
  const key = keys.blob(desc.digest);
  const cached = cachedConfig(store, desc.digest);
  if (cached) return cached;
  try {
    const stored = await getBuffer(store, key);
    rememberConfig(store, desc.digest, stored);
    return stored;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  const body = await client.getBlob(repository, desc.digest, undefined, signal);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > 16 * 1024 * 1024) {
      body.destroy();
      throw new MllError('REGISTRY_REJECTED', `The config of the runtime image in ${repository} is larger than 16 MiB`);
    }
    chunks.push(chunk);
  }
  const bytes = Buffer.concat(chunks);
  if (sha256Digest(bytes) !== desc.digest) {
    throw new MllError('REGISTRY_UNAVAILABLE', `The registry ${client.registry} returned a config for ${repository} that does not match its digest`);
  }
  await store.put(key, bytes, { size: bytes.length });
  rememberConfig(store, desc.digest, bytes);
  return bytes;
}
