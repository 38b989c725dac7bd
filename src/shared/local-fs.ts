import fs, { type Stats } from 'node:fs';
import fsPromises from 'node:fs/promises';
import path from 'node:path';

/**
 * Small files and metadata on local disks, done synchronously.
 *
 * A promise-based fs call hands the system call to libuv's thread pool and back: on the 2-core VMs
 * this runs on, that hand-off costs 30–180 µs of CPU per call (futex wake-ups, an eventfd, a
 * context switch), where the call itself takes 2–40 µs (measured: stat 59 µs async vs 2 µs sync;
 * writing a new 2 KiB file 183 µs vs 38 µs; reading one 55 µs vs 9 µs). A tiny model version makes
 * a few hundred such calls. So the hot paths that touch small files under the service's own data
 * directory (scratch extraction, the oci-layout target, the fs object store) use these instead, and
 * block the event loop for those few microseconds; bodies larger than `smallFileBytes` stay
 * streamed. Removals are another matter: on these disks (ext4 with online discard) an unlink or
 * rmdir waits 100 µs or more for the device while using about 25 µs of CPU, and the event loop
 * would wait with it, so trees are removed asynchronously and `removeFile` is for the odd file.
 * The data directory must be a local disk (as it must be for its rename and link guarantees anyway).
 */
export const smallFileBytes = 256 * 1024;

/** The file's stat, or null when nothing is there (no exception is built for the usual miss). */
export function statIfPresent(file: string): Stats | null {
  return fs.statSync(file, { throwIfNoEntry: false }) ?? null;
}

export function makeDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
}

/** Writes a whole small file; `wx` refuses to replace one that is there. */
export function writeSmallFile(file: string, bytes: Buffer | string, options: { flag?: 'w' | 'wx'; mode?: number } = {}): void {
  fs.writeFileSync(file, bytes, { flag: options.flag ?? 'w', ...(options.mode === undefined ? {} : { mode: options.mode }) });
}

export function readSmallFile(file: string): Buffer {
  return fs.readFileSync(file);
}

export function renameFile(from: string, to: string): void {
  fs.renameSync(from, to);
}

/** Removes a file; a file that is not there is not an error. Blocks for the disk (see above). */
export function removeFile(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

const isErrno = (err: unknown, code: string) => (err as NodeJS.ErrnoException | undefined)?.code === code;

/**
 * Renames or hard-links a complete file to `target`, making the target's folder only when the call
 * says it is missing (it exists for almost every write: one call instead of mkdir + call). A
 * concurrent delete that prunes the (then empty) folder between the mkdir and the call is survived
 * by trying again (up to 5 times).
 */
export function placeFile(how: 'rename' | 'link', from: string, target: string): void {
  for (let attempt = 0; ; attempt++) {
    try {
      if (how === 'rename') fs.renameSync(from, target);
      else fs.linkSync(from, target);
      return;
    } catch (err) {
      if (!isErrno(err, 'ENOENT') || attempt >= 5) throw err;
    }
    fs.mkdirSync(path.dirname(target), { recursive: true });
  }
}

/** placeFile through the thread pool, for an event loop that must not wait on the disk (see FsStoreOptions.blockingWrites). */
export async function placeFileAsync(how: 'rename' | 'link', from: string, target: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await (how === 'rename' ? fsPromises.rename(from, target) : fsPromises.link(from, target));
      return;
    } catch (err) {
      if (!isErrno(err, 'ENOENT') || attempt >= 5) throw err;
    }
    await fsPromises.mkdir(path.dirname(target), { recursive: true });
  }
}

/**
 * Writes a new small file whole (`wx`, its folder made when missing) and returns its fstat; `mode`
 * may give it another mode before it is closed. A failed write leaves no file behind.
 */
export function writeNewSmallFile(file: string, bytes: Buffer, mode?: (st: Stats) => number | undefined): Stats {
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx');
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fd = fs.openSync(file, 'wx');
  }
  try {
    for (let at = 0; at < bytes.length;) at += fs.writeSync(fd, bytes, at, bytes.length - at);
    const st = fs.fstatSync(fd);
    const wanted = mode?.(st);
    if (wanted !== undefined && wanted !== (st.mode & 0o7777)) fs.fchmodSync(fd, wanted);
    fs.closeSync(fd);
    return st;
  } catch (err) {
    try {
      fs.closeSync(fd);
    } catch {
      // the close itself failed: nothing is open any more
    }
    removeFile(file);
    throw err;
  }
}

/** Reads `size` bytes from the start of an open small file (fewer if it is shorter). */
export function readOpenFile(fd: number, size: number): Buffer {
  const body = Buffer.allocUnsafe(size);
  let got = 0;
  while (got < size) {
    const n = fs.readSync(fd, body, got, size - got, got);
    if (n === 0) break;
    got += n;
  }
  return got === size ? body : body.subarray(0, got);
}

/** Removes a file without blocking the event loop (see above); a file that is not there is not an error. */
export async function removeIfPresent(file: string): Promise<void> {
  try {
    await fsPromises.unlink(file);
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
}
