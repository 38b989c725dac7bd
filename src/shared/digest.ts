import { createHash } from 'node:crypto';

/** The content digest of some bytes, as OCI and the object store's blob keys write it: `sha256:<hex>`. */
export function sha256Digest(data: Buffer | Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}
