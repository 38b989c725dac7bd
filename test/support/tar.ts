import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';

export type TarSpec =
  | { name: string; body: string | Buffer; mode?: number }
  | { name: string; type: 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo'; linkname?: string; mode?: number };

/** Builds a tar (optionally gzipped) from entry specs, without any checks: tests need hostile archives. */
export async function makeTar(entries: TarSpec[], options: { gzip?: boolean } = {}): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    p.on('end', resolve);
    p.on('error', reject);
  });
  for (const e of entries) {
    if ('body' in e) {
      p.entry({ name: e.name, mode: e.mode ?? 0o644, mtime: new Date(0) }, Buffer.from(e.body));
    } else {
      p.entry({ name: e.name, type: e.type, linkname: e.linkname, mode: e.mode ?? 0o755, mtime: new Date(0) });
    }
  }
  p.finalize();
  await done;
  const tar = Buffer.concat(chunks);
  return options.gzip ? gzipSync(tar) : tar;
}

export function bufferStream(buf: Buffer, chunkSize = 64 * 1024): Readable {
  return Readable.from((function* () {
    for (let i = 0; i < buf.length; i += chunkSize) yield buf.subarray(i, i + chunkSize);
  })());
}

/**
 * One ustar header written by hand: for names no tar library will write (raw bytes that are not
 * UTF-8) and for streaming huge entries without building them.
 */
export function ustarHeader(name: Buffer | string, size: number, type = '0'): Buffer {
  const h = Buffer.alloc(512);
  const raw = typeof name === 'string' ? Buffer.from(name) : name;
  raw.copy(h, 0, 0, Math.min(100, raw.length));
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(size.toString(8).padStart(11, '0') + '\0', 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write(type, 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return h;
}
