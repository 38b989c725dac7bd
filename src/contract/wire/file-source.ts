import { readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { ByteSource } from './prune.js';

const MIN_CHUNK = 512;
const MAX_CHUNK = 256 * 1024;

/**
 * Positional, buffered reads over a file handle. A read after a jump (a skipped field) fetches a
 * small chunk; reads that continue where the last one ended grow the chunk, so a scan of small
 * consecutive fields costs few system calls and a skip over gigabytes costs nothing.
 * `bytesRead` counts what really came off the disk.
 */
export class FileSource implements ByteSource {
  bytesRead = 0;
  /** One reusable buffer; `buf` is the valid part of it. */
  private readonly store = new Uint8Array(MAX_CHUNK);
  private buf = new Uint8Array(0);
  private bufStart = 0;
  private nextChunk = MIN_CHUNK;

  private constructor(
    private readonly fh: FileHandle,
    readonly size: number,
  ) {}

  static async open(file: string): Promise<FileSource> {
    const fh = await open(file, 'r');
    try {
      const st = await fh.stat();
      return new FileSource(fh, st.size);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.fh.close();
  }

  covers(pos: number, n: number): boolean {
    return pos >= this.bufStart && pos + n <= this.bufStart + this.buf.length;
  }

  /** Makes bytes [pos, pos + n) available to `byteAt`/`view` (n is clipped to the file end). */
  ensure(pos: number, n: number): void {
    const want = Math.min(n, this.size - pos);
    if (want <= 0) return;
    if (pos >= this.bufStart && pos + want <= this.bufStart + this.buf.length) return;
    const sequential = pos === this.bufStart + this.buf.length || (pos >= this.bufStart && pos < this.bufStart + this.buf.length);
    this.nextChunk = sequential ? Math.min(this.nextChunk * 4, MAX_CHUNK) : MIN_CHUNK;
    const len = Math.min(Math.max(want, this.nextChunk), this.size - pos);
    const target = len <= this.store.length ? this.store.subarray(0, len) : new Uint8Array(len);
    const got = this.readInto(target, pos);
    this.bytesRead += got;
    this.buf = target.subarray(0, got);
    this.bufStart = pos;
  }

  /** Only after `ensure` covered `pos`. */
  byteAt(pos: number): number {
    const i = pos - this.bufStart;
    if (i < 0 || i >= this.buf.length) throw new RangeError(`byte ${pos} is not buffered`);
    return this.buf[i]!;
  }

  /** A copy of bytes [pos, pos + len); reads them if needed. */
  read(pos: number, len: number): Uint8Array {
    if (pos + len > this.size) throw new RangeError(`read past the end of the file (${pos + len} > ${this.size})`);
    if (len <= MAX_CHUNK) {
      this.ensure(pos, len);
      const i = pos - this.bufStart;
      return this.buf.slice(i, i + len);
    }
    const out = new Uint8Array(len);
    const got = this.readInto(out, pos);
    this.bytesRead += got;
    if (got < len) throw new RangeError('the file ended early');
    return out;
  }

  /**
   * Synchronous positional reads: each is small (a chunk of at most MAX_CHUNK bytes, metadata
   * only), and a model with thousands of initializers needs thousands of them; through the
   * thread pool each would cost a round trip of tens of microseconds.
   */
  private readInto(target: Uint8Array, pos: number): number {
    let got = 0;
    while (got < target.length) {
      const n = readSync(this.fh.fd, target, got, target.length - got, pos + got);
      if (n === 0) break;
      got += n;
    }
    return got;
  }
}

/** Opens `file`, lets `read` inspect it, and reports how many of its bytes that took; always closes it. */
export async function measuredRead<T>(file: string, read: (src: FileSource) => Promise<T>): Promise<{ value: T; bytesRead: number; size: number }> {
  const src = await FileSource.open(file);
  try {
    const value = await read(src);
    return { value, bytesRead: src.bytesRead, size: src.size };
  } finally {
    await src.close();
  }
}
