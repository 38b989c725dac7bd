import type Docker from 'dockerode';
import { MllError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { ImageBlobs } from '../blobs.js';
import { pushWithDocker } from '../docker/push.js';
import type { BuiltImage, ImageTarget, OciBuiltImage, PublishedImage, PublishRef, StageContext } from '../types.js';
import { formatBytes, mapLimit } from '../util.js';
import type { Credentials, UploadOutcome } from './client.js';
import { parseRegistryTarget } from './reference.js';
import type { Registries } from './registries.js';

export interface RegistryTargetOptions {
  store: ObjectStore;
  logger: Logger;
  registries: Registries;
  /** host[:port][/namespace], as MLL_REGISTRY. */
  registry: string;
  credentials?: Credentials;
  /** Blobs larger than this go up in PATCH chunks of this size (resumable); 0 = one monolithic PUT each. */
  chunkSize?: number;
  /** Blobs uploaded at once. */
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

  constructor(private readonly options: RegistryTargetOptions) {
    const { registry, namespace } = parseRegistryTarget(options.registry);
    this.host = registry;
    this.namespace = namespace;
  }

  repositoryOf(model: string): string {
    return this.namespace ? `${this.namespace}/${model}` : model;
  }

  async check(): Promise<void> {
    await this.options.registries.client(this.host).check();
  }

  async publish(image: BuiltImage, ref: PublishRef, ctx: StageContext): Promise<PublishedImage> {
    const repository = this.repositoryOf(ref.repository);
    const reference = `${this.host}/${repository}:${ref.tag}`;
    if (image.kind === 'docker') {
      if (!this.options.docker) throw new MllError('BUILDER_UNAVAILABLE', 'This image was built by a Docker engine, and no engine is configured (DOCKER_HOST) to push it');
      const digest = await pushWithDocker(this.options.docker(), image, { registry: this.host, repository, tag: ref.tag, credentials: this.options.credentials }, ctx);
      return { reference, digest };
    }
    return { reference, digest: await this.pushOci(image, repository, ref.tag, ctx) };
  }

  private async pushOci(image: OciBuiltImage, repository: string, tag: string, ctx: StageContext): Promise<string> {
    const client = this.options.registries.client(this.host);
    const blobs = new ImageBlobs(this.options.store, this.options.registries);
    const started = performance.now();
    const tally: Record<UploadOutcome, { count: number; bytes: number }> = {
      exists: { count: 0, bytes: 0 }, mounted: { count: 0, bytes: 0 }, uploaded: { count: 0, bytes: 0 },
    };
    await mapLimit(blobs.blobsOf(image), this.options.concurrency ?? 4, async (blob) => {
      const mountFrom = blob.source.kind === 'base' && image.base?.registry === this.host && image.base.repository !== repository
        ? image.base.repository : undefined;
      const t0 = performance.now();
      const outcome = await client.uploadBlob(repository, blobs.source(image, blob), {
        mountFrom, chunkSize: this.options.chunkSize, signal: ctx.signal,
      });
      tally[outcome].count++;
      tally[outcome].bytes += blob.size;
      if (outcome !== 'exists') {
        ctx.log(`${outcome} ${blob.digest} (${formatBytes(blob.size)}) in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
      }
    });
    const manifest = await blobs.manifest(image);
    const digest = await client.putManifest(repository, tag, manifest, image.manifestMediaType, ctx.signal);
    if (digest !== image.manifestDigest) {
      throw new MllError('INTERNAL', `The manifest in the store hashes to ${digest}, not ${image.manifestDigest}`);
    }
    ctx.log(
      `pushed ${this.host}/${repository}:${tag}@${digest} in ${((performance.now() - started) / 1000).toFixed(2)} s: ` +
      `${tally.uploaded.count} uploaded (${formatBytes(tally.uploaded.bytes)}), ${tally.mounted.count} mounted, ${tally.exists.count} already present`,
    );
    return digest;
  }
}
