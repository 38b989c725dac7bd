import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';

/**
 * The multipart/form-data body of a batch upload, streamed: for each model a `metadata` JSON
 * part, then its `payload` part. Up to `readAhead` payloads are opened and packed early, each
 * buffered up to `bufferCap` bytes, so the connection never waits on the next folder; a payload
 * larger than the cap is streamed the rest of the way when its turn comes. Memory stays under
 * readAhead × bufferCap, whatever the payload sizes.
 */

export interface BatchPart {
  /** JSON text of the metadata part (`{"model": …, …}`). */
  metadata: string;
  filename: string;
  contentType: string;
  open(): AsyncIterable<Uint8Array>;
}

export interface MultipartOptions {
  readAhead: number;
  bufferCap: number;
  /** Payload bytes handed to the connection. */
  onBytes?(n: number): void;
  /** Item `index` was handed to the connection whole. */
  onItemSent?(index: number, bytes: number): void;
  /**
   * Packing item `index` failed before any of it was sent: return true to leave it out and go
   * on, false to fail the whole body.
   */
  onItemError?(index: number, err: unknown): boolean;
}

interface Ahead {
  chunks: Uint8Array[];
  iterator: AsyncIterator<Uint8Array> | null;
  done: boolean;
  error: unknown;
  ready: Promise<void>;
}

function readAhead(part: BatchPart, cap: number): Ahead {
  const ahead: Ahead = { chunks: [], iterator: null, done: false, error: undefined, ready: Promise.resolve() };
  ahead.ready = (async () => {
    try {
      ahead.iterator = part.open()[Symbol.asyncIterator]();
      let size = 0;
      while (size < cap) {
        const next = await ahead.iterator.next();
        if (next.done) {
          ahead.done = true;
          return;
        }
        ahead.chunks.push(next.value);
        size += next.value.length;
      }
    } catch (err) {
      ahead.error = err;
    }
  })();
  return ahead;
}

export const newBoundary = () => `mll-${randomUUID()}`;

const quoted = (s: string) => s.replace(/["\r\n\\]/g, '_');
const asBuffer = (c: Uint8Array) => (Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.length));

export function batchBody(items: BatchPart[], boundary: string, options: MultipartOptions): Readable {
  async function* generate(): AsyncGenerator<Buffer> {
    const started = new Map<number, Ahead>();
    let next = 0;
    const fill = (from: number) => {
      next = Math.max(next, from);
      while (next < items.length && next < from + options.readAhead) {
        started.set(next, readAhead(items[next]!, options.bufferCap));
        next++;
      }
    };
    for (let i = 0; i < items.length; i++) {
      fill(i);
      const item = items[i]!;
      const a = started.get(i)!;
      started.delete(i);
      await a.ready;
      if (a.error !== undefined) {
        if (options.onItemError?.(i, a.error)) continue;
        throw a.error;
      }
      yield Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="metadata"\r\nContent-Type: application/json\r\n\r\n${item.metadata}\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="payload"; filename="${quoted(item.filename)}"\r\nContent-Type: ${item.contentType}\r\n\r\n`,
      );
      let bytes = 0;
      for (const c of a.chunks) {
        bytes += c.length;
        options.onBytes?.(c.length);
        yield asBuffer(c);
      }
      a.chunks = [];
      if (!a.done && a.iterator) {
        for (let n = await a.iterator.next(); !n.done; n = await a.iterator.next()) {
          bytes += n.value.length;
          options.onBytes?.(n.value.length);
          yield asBuffer(n.value);
        }
      }
      yield Buffer.from('\r\n');
      options.onItemSent?.(i, bytes);
    }
    yield Buffer.from(`--${boundary}--\r\n`);
  }
  return Readable.from(generate(), { objectMode: false });
}
