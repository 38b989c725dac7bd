import type { Readable } from 'node:stream';
import { keys } from '../../domain/keys.js';
import { MllError } from '../../errors.js';
import { getBuffer, getJson, isNotFound, type ObjectStore } from '../../storage/object-store.js';
import { segmentStream } from '../oci/layer-stream.js';
import type { LayerRecord } from '../oci/layers.js';
import { tarSegments, type Segment } from '../oci/tar.js';
import type { BlobSource, UnhashedSource } from './sources.js';
import type { Registries } from '../registry/registries.js';
import type { LayerSource, OciImage, OciLayer } from '../types.js';

export interface KnownBlob {
  digest: string;
  size: number;
  source: LayerSource;
}

function known(digest: string | null): string {
  if (digest === null) throw new MllError('INTERNAL', 'The image is not complete yet: publish hashes its new layers first');
  return digest;
}

/**
 * Opens the bytes of any blob of a built image, wherever they live: model layers are regenerated
 * from their recipe and the content blobs, compressed layers, config and manifest are store blobs,
 * base layers are read from the runtime's registry.
 */
export class ImageBlobs {
  private readonly segments = new Map<string, Promise<Segment[]>>();

  constructor(private readonly store: ObjectStore, private readonly registries: Registries) {}

  async manifest(image: OciImage): Promise<Buffer> {
    return this.small(known(image.manifestDigest), 'manifest');
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

  /** The config (when known) and every layer with a known digest, each once. */
  knownBlobs(image: OciImage): KnownBlob[] {
    const seen = new Set<string>();
    const out: KnownBlob[] = [];
    const config = image.configDigest === null ? [] : [{ digest: image.configDigest, size: image.configSize!, source: { kind: 'blob' as const } }];
    for (const blob of [...config, ...image.layers]) {
      if (blob.digest === null || seen.has(blob.digest)) continue;
      seen.add(blob.digest);
      out.push({ digest: blob.digest, size: blob.size, source: blob.source });
    }
    return out;
  }

  /** Bytes of a blob whose digest is known. */
  source(image: OciImage, blob: KnownBlob): BlobSource {
    const source: BlobSource = { digest: blob.digest, size: blob.size, open: this.opener(image, blob.digest, blob.size, blob.source) };
    if (blob.source.kind === 'blob' && this.store.localPath) source.localFile = this.store.localPath(keys.blob(blob.digest));
    return source;
  }

  /** Bytes of a model layer never hashed yet (a recipe layer with a null digest). */
  unhashed(image: OciImage, layer: OciLayer): UnhashedSource & { key: string } {
    if (layer.source.kind !== 'recipe') throw new MllError('INTERNAL', 'Only recipe layers can be hashed while published');
    return { key: layer.source.key, size: layer.size, open: this.opener(image, null, layer.size, layer.source) };
  }

  private opener(image: OciImage, digest: string | null, size: number, src: LayerSource): BlobSource['open'] {
    if (src.kind === 'recipe') {
      return async (start, end, signal) => segmentStream(this.store, await this.recipeSegments(src.key, digest), { start, end }, signal);
    }
    if (digest === null) throw new MllError('INTERNAL', 'A stored blob without a digest');
    if (src.kind === 'base') {
      const base = image.base;
      if (!base) throw new MllError('INTERNAL', `Layer ${digest} is marked as a base layer of an image without a base`);
      return (start, end, signal) =>
        this.registries.client(base.registry).getBlob(base.repository, digest, start === 0 && end === size ? undefined : { start, end }, signal);
    }
    return async (start, end, signal): Promise<Readable> => {
      try {
        return await this.store.get(keys.blob(digest), start === 0 && end === size ? { signal } : { range: { start, end: end - 1 }, signal });
      } catch (err) {
        if (isNotFound(err)) throw this.missing('blob', digest, err);
        throw err;
      }
    };
  }

  private recipeSegments(key: string, digest: string | null): Promise<Segment[]> {
    let cached = this.segments.get(key);
    if (!cached) {
      cached = getJson<LayerRecord>(this.store, key).then(
        (record) => {
          if (digest !== null && record.digest !== null && record.digest !== digest) throw new MllError('INTERNAL', `The layer record ${key} describes ${record.digest}, not ${digest}`);
          return tarSegments(record.entries);
        },
        (err: unknown) => {
          throw isNotFound(err) ? this.missing('layer record', key, err) : err;
        },
      );
      cached.catch(() => this.segments.delete(key));
      this.segments.set(key, cached);
    }
    return cached;
  }
}
