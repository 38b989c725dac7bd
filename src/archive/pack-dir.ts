import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { pack } from 'tar-stream';

export interface PackedEntry {
  /** Relative, `/`-separated. */
  path: string;
  type: 'file' | 'directory' | 'symlink';
  size: number;
}

/**
 * Whether a path is one to pack, or a folder on the way to one: `include` holds relative paths,
 * folders ending with '/'; null packs everything.
 */
function wanted(relPath: string, isDir: boolean, include: readonly string[] | null): boolean {
  if (include === null) return true;
  return include.some((i) => i === relPath || i === `${relPath}/` || relPath.startsWith(i.endsWith('/') ? i : `${i}/`) || (isDir && i.startsWith(`${relPath}/`)));
}

/** Every entry under `root` (or only `include`d ones), depth first in sorted order, without following symlinks. */
export async function listTree(root: string, include: readonly string[] | null = null): Promise<PackedEntry[]> {
  const out: PackedEntry[] = [];
  const walk = async (dir: string, rel: string) => {
    const names = (await fs.readdir(dir)).sort();
    for (const name of names) {
      const abs = path.join(dir, name);
      const relPath = rel ? `${rel}/${name}` : name;
      const st0 = await fs.lstat(abs);
      if (!wanted(relPath, st0.isDirectory(), include)) continue;
      const st = st0;
      if (st.isSymbolicLink()) out.push({ path: relPath, type: 'symlink', size: 0 });
      else if (st.isDirectory()) {
        out.push({ path: relPath, type: 'directory', size: 0 });
        await walk(abs, relPath);
      } else if (st.isFile()) out.push({ path: relPath, type: 'file', size: st.size });
    }
  };
  await walk(root, '');
  return out;
}

/**
 * Streams a directory (or a single file) as a tar, optionally gzipped, with entries at the root
 * (as `tar -C dir .` would). Files are read one at a time, so memory stays flat. `onBytes`
 * reports file bytes as they are read (for progress bars). `include` packs only those relative
 * paths (folders end with '/') and the folders that lead to them.
 */
export function packDirectory(root: string, options: { gzip?: boolean; onBytes?: (n: number) => void; include?: readonly string[] | null } = {}): Readable {
  const tar = pack();
  const out = new PassThrough();
  const produce = async () => {
    const st = await fs.stat(root);
    const base = st.isDirectory() ? root : path.dirname(root);
    const entries = st.isDirectory() ? await listTree(root, options.include ?? null) : [{ path: path.basename(root), type: 'file' as const, size: st.size }];
    for (const entry of entries) {
      const abs = path.join(base, ...entry.path.split('/'));
      if (entry.type === 'directory') {
        tar.entry({ name: `${entry.path}/`, type: 'directory', mode: 0o755, mtime: new Date(0) });
      } else if (entry.type === 'symlink') {
        tar.entry({ name: entry.path, type: 'symlink', linkname: await fs.readlink(abs), mode: 0o777, mtime: new Date(0) });
      } else {
        const mode = (await fs.stat(abs)).mode & 0o111 ? 0o755 : 0o644;
        const sink = tar.entry({ name: entry.path, size: entry.size, mode, mtime: new Date(0) });
        const source = createReadStream(abs);
        if (options.onBytes) source.on('data', (chunk) => options.onBytes!((chunk as Buffer).length));
        await pipeline(source, sink);
      }
    }
    tar.finalize();
  };
  produce().catch((err: unknown) => tar.destroy(err as Error));
  const stages: NodeJS.ReadWriteStream[] = options.gzip ? [createGzip({ level: 1 })] : [];
  pipeline([tar as unknown as NodeJS.ReadableStream, ...stages, out]).catch((err: unknown) => out.destroy(err as Error));
  return out;
}
