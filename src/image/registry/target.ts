import { setMaxListeners } from 'node:events';
import type Docker from 'dockerode';
import { MllError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { ImageBlobs, type KnownBlob } from '../blobs.js';
import { completeImage, refreshImage } from '../oci/assemble.js';
import { recordLayerDigest } from '../oci/layers.js';
import { pushWithDocker } from '../docker/push.js';
import type { BuiltImage, ImageTarget, OciBuiltImage, OciLayer, PublishedImage, PublishRef, StageContext } from '../types.js';
import { mapLimit } from '../../shared/map-limit.js';
import { formatBytes, settleAll } from '../util.js';
import type { Credentials, UploadOutcome } from './client.js';
import { parseRegistryTarget } from './reference.js';
import type { Registries } from './registries.js';

export interface RegistryTargetOptions {
  store: ObjectStore;
  logger: Logger;
  registries: Registries;
  /** host[:port][/namespace], as MLL_REGISTRY. */
  registry: string;
  /** host[:port] clients pull from, when it differs from the registry's (MLL_REGISTRY_PUBLIC): used in references only. */
  publicRegistry?: string;
  credentials?: Credentials;
  /** Blobs larger than this go up in PATCH chunks of this size (resumable); 0 = one monolithic PUT each. */
  chunkSize?: number;
  /** New layers uploaded at once (6 by default; blobs that are mostly present are checked 16 at a time). */
  concurrency?: number;
  /** The engine that pushes images built by the docker builder. */
  docker?: () => Docker;
}

/**
 * Pushes images through the OCI distribution API: every blob first (HEAD skips what the registry has,
 * base layers are mounted across repositories, the rest streamed from where they live), then the
 * manifest by tag, the commit point. Images the docker builder made are pushed by their engine.
 */
export class RegistryTarget implements ImageTarget {
  readonly name = 'registry' as const;
  readonly host: string;
  readonly namespace: string;
  /** The host in the image references clients get. */
  readonly publicHost: string;

  constructor(private readonly options: RegistryTargetOptions) {
    const { registry, namespace } = parseRegistryTarget(options.registry);
    this.host = registry;
    this.namespace = namespace;
    this.publicHost = options.publicRegistry ?? registry;
  }

  repositoryOf(model: string): string {
    return this.namespace ? `${this.namespace}/${model}` : model;
  }

  async check(): Promise<void> {
    await this.options.registries.client(this.host).check();
  }

  async publish(image: BuiltImage, ref: PublishRef, ctx: StageContext): Promise<PublishedImage> {
    const repository = this.repositoryOf(ref.repository);
    const reference = `${this.publicHost}/${repository}:${ref.tag}`;
    if (image.kind === 'docker') {
      if (!this.options.docker) throw new MllError('BUILDER_UNAVAILABLE', 'This image was built by a Docker engine, and no engine is configured (DOCKER_HOST) to push it');
      const digest = await pushWithDocker(this.options.docker(), image, { registry: this.host, repository, tag: ref.tag, credentials: this.options.credentials }, ctx);
      return { reference, digest };
    }
    return { reference, digest: await this.pushOci(image, repository, ref.tag, ctx) };
  }

  private async pushOci(built: OciBuiltImage, repository: string, tag: string, outer: StageContext): Promise<string> {
    // Many requests run at once on one signal: give them a local one (one listener on the caller's).
    const local = new AbortController();
    setMaxListeners(256, local.signal);
    const forward = () => local.abort(outer.signal.reason);
    if (outer.signal.aborted) forward();
    outer.signal.addEventListener('abort', forward, { once: true });
    try {
      return await this.pushOciWith(built, repository, tag, { ...outer, signal: local.signal });
    } finally {
      outer.signal.removeEventListener('abort', forward);
    }
  }

  private async pushOciWith(built: OciBuiltImage, repository: string, tag: string, ctx: StageContext): Promise<string> {
    const { store } = this.options;
    const image = await refreshImage(store, built);
    const client = this.options.registries.client(this.host);
    const blobs = new ImageBlobs(store, this.options.registries);
    const started = performance.now();
    const tally: Record<UploadOutcome | 'hashed', { count: number; bytes: number }> = {
      exists: { count: 0, bytes: 0 }, mounted: { count: 0, bytes: 0 }, uploaded: { count: 0, bytes: 0 }, hashed: { count: 0, bytes: 0 },
    };
    const hashed = new Map<string, string>();
    const upload = async (blob: KnownBlob, from: OciBuiltImage) => {
      const mountFrom = blob.source.kind === 'base' && from.base?.registry === this.host && from.base.repository !== repository
        ? from.base.repository : undefined;
      const t0 = performance.now();
      const outcome = await client.uploadBlob(repository, blobs.source(from, blob), { mountFrom, chunkSize: this.options.chunkSize, signal: ctx.signal });
      tally[outcome].count++;
      tally[outcome].bytes += blob.size;
      if (outcome !== 'exists') ctx.log(`${outcome} ${blob.digest} (${formatBytes(blob.size)}) in ${seconds(t0)} s`);
    };
    const hashNew = async (layer: OciLayer) => {
      // A layer never seen before: hashed while it uploads, and its digest kept for every later build.
      const t0 = performance.now();
      const source = blobs.unhashed(image, layer);
      const digest = await client.uploadHashing(repository, source, { chunkSize: this.options.chunkSize, signal: ctx.signal });
      await recordLayerDigest(store, source.key, digest);
      hashed.set(source.key, digest);
      tally.hashed.count++;
      tally.hashed.bytes += source.size;
      ctx.log(`hashed and uploaded ${digest} (${formatBytes(source.size)}) in ${seconds(t0)} s`);
    };
    // Known blobs are mostly a HEAD each (present) or a mount: many at once; new layers stream: a few at once.
    const concurrency = this.options.concurrency ?? 6;
    await settleAll([
      mapLimit(image.layers.filter((l) => l.digest === null), concurrency, hashNew),
      mapLimit(blobs.knownBlobs(image), Math.max(concurrency, 16), (blob) => upload(blob, image)),
    ]);
    let complete = image;
    if (complete.manifestDigest === null) {
      complete = await completeImage(store, image, hashed);
      await upload({ digest: complete.configDigest!, size: complete.configSize!, source: { kind: 'blob' } }, complete);
    }
    const manifest = await blobs.manifest(complete);
    const digest = await client.putManifest(repository, tag, manifest, complete.manifestMediaType, ctx.signal);
    if (digest !== complete.manifestDigest) {
      throw new MllError('INTERNAL', `The manifest in the store hashes to ${digest}, not ${complete.manifestDigest}`);
    }
    const up = tally.uploaded.count + tally.hashed.count;
    ctx.log(
      `pushed ${this.host}/${repository}:${tag}@${digest} in ${seconds(started)} s: ` +
      `${up} uploaded (${formatBytes(tally.uploaded.bytes + tally.hashed.bytes)}), ${tally.mounted.count} mounted, ${tally.exists.count} already present`,
    );
    return digest;
  }
}

function seconds(since: number): string {
  return ((performance.now() - since) / 1000).toFixed(2);
}
