import path from 'node:path/posix';
import { MllError } from '../errors.js';

export interface ArchiveLimits {
  /** Total bytes of all regular files. */
  maxUnpackedBytes: number;
  /** Entries of any kind. */
  maxEntries: number;
  /** Directory nesting depth of any path. */
  maxDepth: number;
}

export type SafeEntry =
  | { type: 'file'; path: string; size: number; mode: number }
  | { type: 'directory'; path: string }
  | { type: 'symlink'; path: string; target: string }
  /** A hard link: the same bytes as the earlier regular file `target`. */
  | { type: 'hardlink'; path: string; target: string; size: number; mode: number };

export interface RawHeader {
  name: string;
  type: string | null;
  size?: number;
  mode?: number;
  linkname?: string | null;
}

const maxPathBytes = 4096;
const maxSegmentBytes = 255;
// eslint-disable-next-line no-control-regex
const controlChars = /[\u0000-\u001f\u007f]/;

function unsafe(message: string, entry: string, rule: string): MllError {
  return new MllError('UNSAFE_ARCHIVE', message, { details: { entry, rule } });
}

/**
 * Normalises an entry name to a relative path and refuses every name that could escape the model
 * root or confuse a file system: absolute paths, `..`, backslashes, control characters, names that
 * are not UTF-8, and over-long names. Returns '' for the root itself (`./`).
 */
export function normaliseEntryPath(name: string): string {
  const shown = JSON.stringify(name);
  if (name.includes('\uFFFD')) throw unsafe(`Entry ${shown}: the name is not valid UTF-8`, name, 'utf8');
  if (controlChars.test(name)) throw unsafe(`Entry ${shown}: the name contains control characters`, name, 'control-characters');
  if (name.includes('\\')) throw unsafe(`Entry ${shown}: backslashes are not allowed in names`, name, 'backslash');
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) {
    throw unsafe(`Entry ${shown} has an absolute path; archive paths must be relative to the model root`, name, 'absolute-path');
  }
  const segments = name.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) {
    throw unsafe(`Entry ${shown} contains "..": archive paths must stay inside the model root`, name, 'path-traversal');
  }
  const normal = segments.join('/');
  if (Buffer.byteLength(normal) > maxPathBytes) {
    throw unsafe(`Entry ${shown.slice(0, 80)}…: the path is longer than ${maxPathBytes} bytes`, name.slice(0, 200), 'path-length');
  }
  if (segments.some((s) => Buffer.byteLength(s) > maxSegmentBytes)) {
    throw unsafe(`Entry ${shown.slice(0, 80)}…: a name component is longer than ${maxSegmentBytes} bytes`, name.slice(0, 200), 'name-length');
  }
  return normal;
}

/**
 * Applies the archive rules entry by entry, with the state they need (paths seen, totals).
 * The same policy runs at intake (while the upload streams in) and again at extraction.
 */
export class EntryPolicy {
  private readonly kinds = new Map<string, 'file' | 'directory' | 'symlink'>();
  private entries = 0;
  private unpackedBytes = 0;
  private files = 0;

  constructor(private readonly limits: ArchiveLimits) {}

  get stats(): { entries: number; files: number; unpackedBytes: number } {
    return { entries: this.entries, files: this.files, unpackedBytes: this.unpackedBytes };
  }

  /** Checks one header; returns the safe entry, or undefined for entries that carry nothing (the root). */
  admit(header: RawHeader): SafeEntry | undefined {
    const rel = normaliseEntryPath(header.name);
    if (rel === '') {
      if (header.type === 'directory') return undefined;
      throw unsafe(`Entry ${JSON.stringify(header.name)} names the model root but is not a directory`, header.name, 'root');
    }
    if (++this.entries > this.limits.maxEntries) {
      throw new MllError('ARCHIVE_TOO_LARGE', `The archive has more than ${this.limits.maxEntries} entries (MLL_MAX_FILES)`, {
        details: { limit: this.limits.maxEntries, rule: 'max-entries' },
      });
    }
    const depth = rel.split('/').length;
    if (depth > this.limits.maxDepth) {
      throw unsafe(`Entry "${rel.slice(0, 120)}" is nested ${depth} levels deep; the limit is ${this.limits.maxDepth} (MLL_MAX_PATH_DEPTH)`, rel.slice(0, 200), 'max-depth');
    }
    this.checkParents(rel);
    const previous = this.kinds.get(rel);
    switch (header.type) {
      case 'directory':
        if (previous && previous !== 'directory') throw unsafe(`Entry "${rel}/" is a directory but an earlier entry made it a ${previous}`, rel, 'duplicate');
        this.kinds.set(rel, 'directory');
        return { type: 'directory', path: rel };
      case 'file':
      case 'contiguous-file': {
        this.refuseDuplicate(rel, previous);
        const size = header.size ?? 0;
        this.count(size);
        this.kinds.set(rel, 'file');
        return { type: 'file', path: rel, size, mode: normaliseMode(header.mode) };
      }
      case 'symlink': {
        this.refuseDuplicate(rel, previous);
        const target = header.linkname ?? '';
        this.checkLinkTarget(rel, target, 'symlink');
        this.kinds.set(rel, 'symlink');
        return { type: 'symlink', path: rel, target };
      }
      case 'link': {
        this.refuseDuplicate(rel, previous);
        const raw = header.linkname ?? '';
        let target: string;
        try {
          target = normaliseEntryPath(raw);
        } catch {
          throw unsafe(`Entry "${rel}" is a hard link to ${JSON.stringify(raw)}, which is outside the model root`, rel, 'link-escape');
        }
        if (this.kinds.get(target) !== 'file') {
          throw unsafe(`Entry "${rel}" is a hard link to "${target}", which is not an earlier regular file of the archive`, rel, 'link-target');
        }
        this.count(header.size ?? 0);
        this.kinds.set(rel, 'file');
        return { type: 'hardlink', path: rel, target, size: header.size ?? 0, mode: normaliseMode(header.mode) };
      }
      case 'character-device':
      case 'block-device':
      case 'fifo':
        throw unsafe(`Entry "${rel}" is a ${header.type}; only regular files, directories and links inside the root are allowed`, rel, 'device');
      default:
        throw unsafe(`Entry "${rel}" has an unsupported type (${String(header.type)})`, rel, 'entry-type');
    }
  }

  private count(size: number): void {
    this.files += 1;
    this.unpackedBytes += size;
    if (this.unpackedBytes > this.limits.maxUnpackedBytes) {
      throw new MllError(
        'ARCHIVE_TOO_LARGE',
        `The archive unpacks to more than ${this.limits.maxUnpackedBytes} bytes (MLL_MAX_UNPACKED_BYTES)`,
        { details: { limit: this.limits.maxUnpackedBytes, rule: 'max-unpacked-bytes' } },
      );
    }
  }

  private refuseDuplicate(rel: string, previous: string | undefined): void {
    if (previous) throw unsafe(`Entry "${rel}" appears twice in the archive`, rel, 'duplicate');
  }

  /** No entry may live under a symlink (writing through it could leave the root) or under a file. */
  private checkParents(rel: string): void {
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      const kind = this.kinds.get(parent);
      if (kind === 'symlink') throw unsafe(`Entry "${rel}" lies under the symlink "${parent}"`, rel, 'under-symlink');
      if (kind === 'file') throw unsafe(`Entry "${rel}" lies under "${parent}", which is a file`, rel, 'under-file');
    }
  }

  private checkLinkTarget(rel: string, target: string, kind: string): void {
    if (target === '' || target.startsWith('/') || target.includes('\0')) {
      throw unsafe(`Entry "${rel}" is a ${kind} to ${JSON.stringify(target)}, which is outside the model root`, rel, 'link-escape');
    }
    const resolved = path.normalize(path.join(path.dirname(rel), target));
    if (resolved === '..' || resolved.startsWith('../') || resolved === '.') {
      throw unsafe(`Entry "${rel}" is a ${kind} to ${JSON.stringify(target)}, which is outside the model root`, rel, 'link-escape');
    }
  }
}

/** Only the executable bit survives: 0o755 or 0o644. */
export function normaliseMode(mode: number | undefined): number {
  return (mode ?? 0o644) & 0o111 ? 0o755 : 0o644;
}
