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
