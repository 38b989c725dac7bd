import type { Logger } from '../../log.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { MllError } from '../../errors.js';
import { failpoint, type Failpoints } from '../../failpoints.js';
import { publishBlobs, seconds, type BlobWriter } from '../publish/publish.js';
import type { BuiltImage, ImageTarget, PublishedImage, PublishRef, StageContext } from '../types.js';
import { formatBytes } from '../util.js';
import { refusedForMissingBlob } from './manifests.js';
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
  /** Blobs larger than this go up in PATCH chunks of this size (resumable); 0 = one monolithic PUT each. */
  chunkSize?: number;
  /** New layers uploaded at once (6 by default; blobs that are mostly present are checked 16 at a time). */
  concurrency?: number;
  /** Testing only (MLL_FAILPOINTS): registry-blob-mid pauses inside a blob upload. */
  failpoints?: Failpoints;
}

/** New layers a publish uploads at once, unless the target is told otherwise (bench/image's raw floor uses it too). */
export const LAYER_UPLOADS_IN_FLIGHT = 6;

/** Manifest PUTs a publish makes when the registry says it lacks a blob: each after every blob is checked (and sent) again. */
const MANIFEST_ROUNDS = 3;

/**
 * Pushes images through the OCI distribution API: every blob first (HEAD skips what the registry has,
 * base layers are mounted across repositories, the rest streamed from where they live), then the
 * manifest by tag, the commit point. Images of either builder, the same way.
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

  async publish(built: BuiltImage, ref: PublishRef, ctx: StageContext): Promise<PublishedImage> {
    const repository = this.repositoryOf(ref.repository);
    const client = this.options.registries.client(this.host);
    const started = performance.now();
    const concurrency = this.options.concurrency ?? LAYER_UPLOADS_IN_FLIGHT;
    const chunkSize = this.options.chunkSize;
    const { failpoints } = this.options;
    const afterFirstChunk = failpoints?.has('registry-blob-mid') ? () => failpoint(failpoints, 'registry-blob-mid', ctx.signal) : undefined;
    const writer: BlobWriter = {
      known: (blob, source, image, signal) => {
        // Base layers of a runtime in the same registry are mounted across repositories.
        const mountFrom = blob.source.kind === 'base' && image.base?.registry === this.host && image.base.repository !== repository
          ? image.base.repository : undefined;
        return client.uploadBlob(repository, source, { mountFrom, chunkSize, signal, afterFirstChunk });
      },
      hashing: (reader, signal) => client.uploadHashing(repository, reader, { chunkSize, signal, afterFirstChunk }),
      // Known blobs are mostly a HEAD each (present) or a mount: many at once; new layers stream: a few at once.
      concurrency: { hashing: concurrency, known: Math.max(concurrency, 16) },
    };
    const { image, manifest, tally } = await publishBlobs(this.options, built, writer, ctx);
    let digest: string;
    for (let round = 1; ; round++) {
      try {
        digest = await client.putManifest(repository, ref.tag, manifest, image.manifestMediaType, ctx.signal);
        break;
      } catch (err) {
        if (round >= MANIFEST_ROUNDS || !refusedForMissingBlob(err)) throw err;
        ctx.log(`the registry did not find a blob the manifest names (${(err as Error).message}); checking every blob again`);
        const again = await publishBlobs(this.options, image, writer, ctx);
        for (const outcome of ['mounted', 'uploaded', 'hashed'] as const) {
          tally[outcome].count += again.tally[outcome].count;
          tally[outcome].bytes += again.tally[outcome].bytes;
        }
      }
    }
    if (digest !== image.manifestDigest) {
      throw new MllError('INTERNAL', `The manifest in the store hashes to ${digest}, not ${image.manifestDigest}`);
    }
    const up = tally.uploaded.count + tally.hashed.count;
    ctx.log(
      `pushed ${this.host}/${repository}:${ref.tag}@${digest} in ${seconds(started)} s: ` +
      `${up} uploaded (${formatBytes(tally.uploaded.bytes + tally.hashed.bytes)}), ${tally.mounted.count} mounted, ${tally.exists.count} already present`,
    );
    return { reference: `${this.publicHost}/${repository}:${ref.tag}`, digest };
  }
}
