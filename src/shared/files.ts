import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * Small file-system steps written for the fewest system calls (and thread-pool round trips) in the
 * usual case, for the fs object store and the oci-layout target, which make them for every object.
 */

const isErrno = (err: unknown, code: string) => (err as NodeJS.ErrnoException | undefined)?.code === code;

/**
 * `rename` or `link` a complete file to `target`, making the target's directory only when the call
 * says it is missing (it exists for almost every write, so one call instead of mkdir + call). A
 * concurrent delete that prunes the (then empty) directory between the mkdir and the call is
 * survived by trying again (up to 5 times).
 */
export async function intoPlace(place: (from: string, to: string) => Promise<void>, from: string, target: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await place(from, target);
      return;
    } catch (err) {
      if (!isErrno(err, 'ENOENT') || attempt >= 5) throw err;
    }
    await fs.mkdir(path.dirname(target), { recursive: true });
  }
}

/** Opens a new file for writing (O_EXCL), making its directory when missing. */
export async function openNew(file: string): Promise<fs.FileHandle> {
  try {
    return await fs.open(file, 'wx');
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
  await fs.mkdir(path.dirname(file), { recursive: true });
  return fs.open(file, 'wx');
}

/** Writes every byte through `handle` (one write call for a small body). */
export async function writeAll(handle: fs.FileHandle, bytes: Buffer): Promise<void> {
  for (let at = 0; at < bytes.length;) at += (await handle.write(bytes, at, bytes.length - at)).bytesWritten;
}

/** One unlink (fs.rm would lstat first); a missing file is not an error. */
export async function removeIfPresent(file: string): Promise<void> {
  try {
    await fs.unlink(file);
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
}
