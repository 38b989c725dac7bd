import type { Readable } from 'node:stream';

/** Every byte of a stream the caller knows to be small (it sets no limit), as one Buffer; `signal` stops it between chunks. */
export async function readAll(stream: Readable, signal?: AbortSignal): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    signal?.throwIfAborted();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
