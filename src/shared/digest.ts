import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/** The content digest of some bytes, as OCI and the object store's blob keys write it: `sha256:<hex>`. */
export function sha256Digest(data: Buffer | Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Passes bytes through unchanged, hashing and counting them: `digest()` once they have all gone by. */
export class DigestingStream extends Transform {
  bytes = 0;
  private readonly hash = createHash('sha256');

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }

  /** `sha256:<hex>` of every byte that went through. */
  digest(): string {
    return `sha256:${this.hash.digest('hex')}`;
  }
}
