import { spawn } from 'node:child_process';
import { Duplex } from 'node:stream';
import { createGzip } from 'node:zlib';
import { MllError } from '../../errors.js';
import { mediaTypes } from './media-types.js';

/** How model layers are compressed (MLL_LAYER_COMPRESSION). */
export type Compression = 'none' | 'gzip' | 'zstd';

/** gzip level 1: model weights barely compress, and level 1 is several times faster than the default. */
export const GZIP_LEVEL = 1;
/** zstd's default level; its multi-threaded output does not depend on the number of threads. */
export const ZSTD_LEVEL = 3;

export const layerMediaType: Record<Compression, string> = {
  none: mediaTypes.ociLayer,
  gzip: mediaTypes.ociLayerGzip,
  zstd: mediaTypes.ociLayerZstd,
};

export const layerFileSuffix: Record<Compression, string> = { none: '.tar', gzip: '.tar.gz', zstd: '.tar.zst' };

/**
 * A stream that compresses a layer's tar. gzip is Node's zlib (one thread per layer); zstd is the
 * `zstd` program with a worker per core (`-T0`), whose output is the same bytes whatever the number
 * of threads, so a layer's digest does not depend on the machine that built it.
 */
export function layerCompressor(compression: Exclude<Compression, 'none'>): Duplex {
  if (compression === 'gzip') return createGzip({ level: GZIP_LEVEL });
  const child = spawn('zstd', [`-${ZSTD_LEVEL}`, '-T0', '-q', '-c', '--no-progress'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr: Buffer[] = [];
  child.stderr.on('data', (b: Buffer) => stderr.push(b));
  const duplex = Duplex.from({ writable: child.stdin, readable: child.stdout });
  child.on('error', (err: NodeJS.ErrnoException) => {
    duplex.destroy(new MllError('BUILDER_UNAVAILABLE',
      err.code === 'ENOENT'
        ? 'MLL_LAYER_COMPRESSION=zstd needs the zstd program on the worker (Debian package zstd); install it or choose gzip or none'
        : `zstd could not be started: ${err.message}`, { cause: err }));
  });
  child.on('close', (code, signal) => {
    if (code !== 0 && code !== null) duplex.destroy(new MllError('INTERNAL', `zstd exited with code ${code}: ${Buffer.concat(stderr).toString().trim().slice(0, 500)}`));
    else if (signal && !duplex.destroyed) duplex.destroy(new MllError('INTERNAL', `zstd was stopped by ${signal}`));
  });
  duplex.on('close', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return duplex;
}
