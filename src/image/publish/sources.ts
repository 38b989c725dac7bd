import type { Readable } from 'node:stream';

/** Where the bytes of a blob come from when a target writes it: any byte range [start, end) on demand. */
export interface BlobSource {
  digest: string;
  size: number;
  open(start: number, end: number, signal?: AbortSignal): Promise<Readable> | Readable;
  /** The local file with these bytes, when the store keeps them as one (a target on the same disk may link it). */
  localFile?: string;
}

/** Bytes to publish whose digest is not known yet: any byte range [start, end) on demand. */
export interface UnhashedSource {
  size: number;
  open(start: number, end: number, signal?: AbortSignal): Promise<Readable> | Readable;
}
