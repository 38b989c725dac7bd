import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MllError } from '../../errors.js';
import { DigestingStream } from '../../shared/digest.js';
import { layerCompressor, layerFileSuffix, type Compression } from '../oci/compress.js';
import { entryHeader, withParents, type TarEntry } from '../oci/tar.js';

const BLOCK = 512;

/** A directory on disk as sorted tar entries under `prefix`, with the total bytes of its files. */
export async function directoryEntries(root: string, prefix: string): Promise<{ entries: TarEntry[]; files: number; bytes: number }> {
  const found: TarEntry[] = [];
  let files = 0;
  let bytes = 0;
  async function walk(rel: string): Promise<void> {
    const dirents = await fs.readdir(path.join(root, rel), { withFileTypes: true });
    for (const d of dirents) {
      const childRel = rel ? `${rel}/${d.name}` : d.name;
      const full = path.join(root, childRel);
      const inLayer = `${prefix}/${childRel}`;
      if (d.isDirectory()) {
        found.push({ type: 'dir', path: inLayer });
        await walk(childRel);
      } else if (d.isFile()) {
        const st = await fs.lstat(full);
        found.push({ type: 'file', path: inLayer, mode: st.mode, size: st.size, digest: '' });
        files++;
        bytes += st.size;
      } else if (d.isSymbolicLink()) {
        found.push({ type: 'symlink', path: inLayer, target: await fs.readlink(full) });
      }
    }
  }
  await walk('');
  return { entries: withParents([{ type: 'dir', path: prefix }, ...found]), files, bytes };
}

/** The tar bytes of entries read from `root` (paths in the layer are `prefix/…`, on disk `root/…`). */
function tarStream(root: string, prefix: string, entries: TarEntry[]): Readable {
  async function* generate(): AsyncGenerator<Buffer> {
    for (const entry of entries) {
      yield entryHeader(entry);
      if (entry.type !== 'file' || entry.size === 0) continue;
      let got = 0;
      for await (const chunk of createReadStream(path.join(root, entry.path.slice(prefix.length + 1)), { highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>) {
        got += chunk.length;
        if (got > entry.size) break;
        yield chunk;
      }
      if (got !== entry.size) throw new MllError('INTERNAL', `${entry.path} changed size while its layer was written`);
      const pad = (BLOCK - (entry.size % BLOCK)) % BLOCK;
      if (pad > 0) yield Buffer.alloc(pad);
    }
    yield Buffer.alloc(2 * BLOCK);
  }
  return Readable.from(generate(), { objectMode: false });
}

export interface WrittenLayer {
  file: string;
  /** Of the bytes written (compressed when gzip). */
  digest: string;
  size: number;
  /** Of the uncompressed tar. */
  diffId: string;
  uncompressedSize: number;
}

/**
 * Streams the deterministic tar of a directory (sorted entries, fixed times, owners and modes: the
 * project's tar headers) into a file under `scratchDir`, hashing it on the way; compressed when asked.
 * Memory stays at a chunk or two whatever the size. The caller moves or removes the file.
 */
export async function writeDirectoryLayer(
  root: string, prefix: string, entries: TarEntry[], compression: Compression, scratchDir: string, signal: AbortSignal,
): Promise<WrittenLayer> {
  const file = path.join(scratchDir, `layer-${randomUUID()}${layerFileSuffix[compression]}`);
  const raw = new DigestingStream();
  const stages: NodeJS.ReadWriteStream[] = [raw];
  const packed = new DigestingStream();
  if (compression !== 'none') stages.push(layerCompressor(compression), packed);
  await pipeline([tarStream(root, prefix, entries), ...stages, createWriteStream(file)], { signal });
  const diffId = raw.digest();
  if (compression !== 'none') {
    return { file, digest: packed.digest(), size: packed.bytes, diffId, uncompressedSize: raw.bytes };
  }
  return { file, digest: diffId, size: raw.bytes, diffId, uncompressedSize: raw.bytes };
}
