import type { Readable } from 'node:stream';
import { keys } from '../domain/keys.js';
import { MllError } from '../errors.js';
import { getBuffer, getJson, isNotFound, type ObjectStore } from '../storage/object-store.js';
import { segmentStream } from './oci/layer-stream.js';
import type { LayerRecord } from './oci/layers.js';
import { tarSegments, type Segment } from './oci/tar.js';
import type { BlobSource } from './registry/client.js';
import type { Registries } from './registry/registries.js';
import type { Descriptor, OciBuiltImage, OciLayer } from './types.js';

/**
 * Opens the bytes of any blob of a built image, wherever they live: model layers are regenerated
 * from their recipe and the content blobs, compressed layers, config and manifest are store blobs,
 * base layers are read from the runtime's registry.
 */
export class ImageBlobs {
  private readonly segments = new Map<string, Promise<Segment[]>>();

  constructor(private readonly store: ObjectStore, private readonly registries: Registries) {}

  async manifest(image: OciBuiltImage): Promise<Buffer> {
    return this.small(image.manifestDigest, 'manifest');
  }

  async config(image: OciBuiltImage): Promise<Buffer> {
    return this.small(image.configDigest, 'config');
  }

  private async small(digest: string, what: string): Promise<Buffer> {
    try {
      return await getBuffer(this.store, keys.blob(digest));
    } catch (err) {
      if (isNotFound(err)) throw this.missing(what, digest, err);
      throw err;
    }
  }

  private missing(what: string, digest: string, cause: unknown): MllError {
    return new MllError('INTERNAL', `The image ${what} ${digest} is no longer in the object store; build the version again`, {
      cause, details: { digest },
    });
  }

  /** Every blob the manifest names, config first, each once. */
  blobsOf(image: OciBuiltImage): (Descriptor & { source: OciLayer['source'] })[] {
    const seen = new Set<string>();
    const out: (Descriptor & { source: OciLayer['source'] })[] = [];
    const config = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: image.configDigest, size: image.configSize, source: { kind: 'blob' as const } };
    for (const blob of [config, ...image.layers]) {
      if (seen.has(blob.digest)) continue;
      seen.add(blob.digest);
      out.push(blob);
    }
    return out;
  }

  source(image: OciBuiltImage, blob: Descriptor & { source: OciLayer['source'] }): BlobSource {
    const { digest, size } = blob;
    const src = blob.source;
    if (src.kind === 'recipe') {
      return {
        digest, size,
        open: async (start, end, signal) => segmentStream(this.store, await this.recipeSegments(src.key, digest), { start, end }, signal),
      };
    }
    if (src.kind === 'base') {
      const base = image.base;
      if (!base) throw new MllError('INTERNAL', `Layer ${digest} is marked as a base layer of an image without a base`);
      return {
        digest, size,
        open: (start, end, signal) =>
          this.registries.client(base.registry).getBlob(base.repository, digest, start === 0 && end === size ? undefined : { start, end }, signal),
      };
    }
    return {
      digest, size,
      open: async (start, end, signal): Promise<Readable> => {
        try {
          return await this.store.get(keys.blob(digest), start === 0 && end === size ? { signal } : { range: { start, end: end - 1 }, signal });
        } catch (err) {
          if (isNotFound(err)) throw this.missing('blob', digest, err);
          throw err;
        }
      },
    };
  }

  private recipeSegments(key: string, digest: string): Promise<Segment[]> {
    let cached = this.segments.get(key);
    if (!cached) {
      cached = getJson<LayerRecord>(this.store, key).then(
        (record) => {
          if (record.digest !== digest) throw new MllError('INTERNAL', `The layer record ${key} describes ${record.digest}, not ${digest}`);
          return tarSegments(record.entries);
        },
        (err: unknown) => {
          throw isNotFound(err) ? this.missing('layer record', digest, err) : err;
        },
      );
      cached.catch(() => this.segments.delete(key));
      this.segments.set(key, cached);
    }
    return cached;
  }
}
