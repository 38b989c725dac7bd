import { MllError, isMllError } from '../../errors.js';
import { sha256Digest } from '../../shared/digest.js';
import { isIndex, manifestAccept } from '../oci/media-types.js';
import { parsePlatform } from '../util.js';
import { repositoryScope } from './challenges.js';
import type { RegistryClient, RegistryFailureDetails } from './client.js';

export interface Manifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

interface IndexJson {
  manifests?: { digest: string; platform?: { os?: string; architecture?: string; variant?: string } }[];
}

/** A manifest (or index) by tag or digest, checked against the digest it was asked by; undefined when absent. */
export function getManifest(client: RegistryClient, repository: string, reference: string, accept: string, signal?: AbortSignal): Promise<Manifest | undefined> {
  return client.retry.run(async () => {
    const res = await client.request({
      method: 'GET', path: `/v2/${repository}/manifests/${reference}`, scopes: [repositoryScope(repository, 'pull')],
      headers: { accept }, signal,
    });
    if (res.status === 404) {
      await res.drain();
      return undefined;
    }
    if (res.status !== 200) throw await client.failure(res, `Reading manifest ${repository}:${reference}`);
    const bytes = await res.buffer(MAX_MANIFEST_BYTES + 1);
    if (bytes.length > MAX_MANIFEST_BYTES) throw new MllError('REGISTRY_REJECTED', `The manifest ${repository}:${reference} is larger than 4 MiB`);
    const digest = sha256Digest(bytes);
    if (reference.startsWith('sha256:') && reference !== digest) {
      throw new MllError('REGISTRY_REJECTED', `The registry ${client.registry} returned a manifest for ${repository}@${reference} whose digest is ${digest}`);
    }
    const declared = (() => { try { return (JSON.parse(bytes.toString('utf8')) as { mediaType?: string }).mediaType; } catch { return undefined; } })();
    const mediaType = declared ?? res.header('content-type')?.split(';')[0]?.trim() ?? '';
    return { bytes, mediaType, digest };
  }, { signal });
}

/**
 * The image manifest for one platform: `top` is what the reference names (an index or a
 * manifest), `manifest` the platform's manifest (the same when `top` is not an index). Undefined
 * when the reference or the platform's manifest is missing; REGISTRY_REJECTED when the index has
 * no such platform.
 */
export async function getPlatformManifest(
  client: RegistryClient, repository: string, reference: string, platform: string,
  options: { signal?: AbortSignal; /** How messages name the image. */ label?: string } = {},
): Promise<{ top: Manifest; manifest: Manifest | undefined } | undefined> {
  const { signal, label = `image ${client.registry}/${repository}:${reference}` } = options;
  const top = await getManifest(client, repository, reference, manifestAccept, signal);
  if (!top || !isIndex(top.mediaType)) return top && { top, manifest: top };
  const want = parsePlatform(platform);
  const index = JSON.parse(top.bytes.toString('utf8')) as IndexJson;
  const entry = (index.manifests ?? []).find((m) =>
    m.platform?.os === want.os && m.platform?.architecture === want.architecture &&
    (!want.variant || !m.platform?.variant || m.platform.variant === want.variant));
  if (!entry) {
    throw new MllError('REGISTRY_REJECTED', `The ${label} has no ${platform} variant`, { details: { repository, reference, platform } });
  }
  return { top, manifest: await getManifest(client, repository, entry.digest, manifestAccept, signal) };
}

/** PUTs a manifest by tag (or digest) and returns its digest, checked against the registry's. */
export function putManifest(client: RegistryClient, repository: string, reference: string, bytes: Buffer, mediaType: string, signal?: AbortSignal): Promise<string> {
  const digest = sha256Digest(bytes);
  return client.retry.run(async () => {
    const res = await client.request({
      method: 'PUT', path: `/v2/${repository}/manifests/${reference}`, scopes: [repositoryScope(repository, 'pull,push')],
      headers: { 'content-type': mediaType, 'content-length': String(bytes.length) }, body: () => bytes, signal,
    });
    if (res.status !== 201 && res.status !== 200) throw await client.failure(res, `Writing manifest ${repository}:${reference}`);
    await res.drain();
    const got = res.header('docker-content-digest');
    if (got && got !== digest) throw new MllError('REGISTRY_REJECTED', `The registry ${client.registry} stored manifest ${digest} as ${got}`);
    return digest;
  }, { signal });
}

/** Codes a registry answers a manifest PUT with when it does not see one of the blobs the manifest names. */
const MISSING_BLOB_CODES = new Set(['MANIFEST_BLOB_UNKNOWN', 'BLOB_UNKNOWN', 'DIGEST_INVALID']);

/**
 * True when a manifest PUT was refused only because the registry did not find a blob the manifest
 * names. That happens to blobs that were uploaded: distribution before v3.1 rewrites a repository's
 * blob link in place (truncate, then write), so a manifest PUT that reads it while another push
 * commits the same blob finds it empty (DIGEST_INVALID + MANIFEST_BLOB_UNKNOWN); a garbage
 * collection, or storage that lists new objects late, loses a blob between its upload and the manifest.
 */
export function refusedForMissingBlob(err: unknown): boolean {
  if (!isMllError(err) || err.code !== 'REGISTRY_REJECTED') return false;
  const codes = (err.details as Partial<RegistryFailureDetails> | undefined)?.codes ?? [];
  return codes.includes('MANIFEST_BLOB_UNKNOWN') && codes.every((c) => MISSING_BLOB_CODES.has(c));
}
