import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import picomatch from 'picomatch';
import type { TreeEntry } from '../domain/tree.js';
import { MllError } from '../errors.js';

/**
 * serving.yaml's `payload`: which files of the upload go into the image, and where.
 *
 * Hydrosphere's clients expanded each entry as a (non-recursive, Python) glob relative to the
 * model folder and copied every match to the root of the archive by its BASE NAME: `src/` stays
 * `src/`, `model/src/` becomes `src/`, `src/*` puts each file of src/ at the root,
 * `requirements.txt/` is the file requirements.txt. ML Lambda places files the same way, so
 * code written for those images finds its files where it did. Two entries that land at the same
 * name are an error (the clients silently overwrote one); so is an entry, or a glob, that leaves
 * the folder, and an entry that matches nothing (the clients skipped it silently).
 */

/** One entry as written, checked without the file system. */
export interface PayloadEntrySpec {
  /** Where it is in serving.yaml (`payload[2]`). */
  path: string;
  /** As written. */
  raw: string;
  /** Normalised: relative, `/`-separated, no `./`, no trailing `/` (a glob pattern when `glob`). */
  entry: string;
  glob: boolean;
  /** Written with a trailing `/` (which changes nothing: `requirements.txt/` is the file). */
  dir: boolean;
}

/** A file or folder of the upload and where it goes in the image. Folders end with `/`. */
export interface PayloadPlacement {
  /** The payload entry it comes from (`payload[2]`). */
  entry: string;
  source: string;
  target: string;
}

export const MAX_PAYLOAD_MATCHES = 10_000;

const globChars = /[*?[]/;

/** Checks one entry as written; a string saying what is wrong when it is not usable. */
export function parsePayloadEntry(raw: string): { entry: string; glob: boolean; dir: boolean } | string {
  if (raw.trim() === '' || raw.includes('\0')) return 'a relative path inside the upload';
  if (raw.includes('\\')) return 'a path with "/" separators (no "\\")';
  if (raw.startsWith('/') || /^[A-Za-z]:/.test(raw) || raw.startsWith('~')) return 'a relative path inside the upload (not absolute, no "~")';
  const norm = path.posix.normalize(raw).replace(/\/+$/, '');
  if (norm === '..' || norm.startsWith('../')) return 'a path that stays inside the upload (no ".." leaving it)';
  if (norm === '') return 'a file or folder of the upload (for everything, write "./*")';
  // `.` is the whole folder: every top-level entry where it is, as "./*" says it.
  if (norm === '.') return { entry: '*', glob: true, dir: true };
  return { entry: norm, glob: globChars.test(norm), dir: raw.endsWith('/') };
}

const matcherOptions = { dot: false, nobrace: true, noextglob: true, noglobstar: true, nonegate: true, noquantifiers: true } as const;

async function isDirectory(p: string): Promise<boolean | null> {
  const st = await stat(p).catch(() => null);
  return st === null ? null : st.isDirectory();
}

/** Python's glob.glob, relative to `root`: matches sorted, hidden names only for a pattern segment that starts with ".". */
async function expandGlob(root: string, pattern: string, budget: { left: number }): Promise<string[]> {
  let current = [''];
  for (const segment of pattern.split('/')) {
    const next: string[] = [];
    if (!globChars.test(segment)) {
      for (const base of current) {
        const candidate = base === '' ? segment : `${base}/${segment}`;
        if ((await isDirectory(path.join(root, candidate))) !== null) next.push(candidate);
      }
    } else {
      const matches = picomatch(segment, matcherOptions);
      for (const base of current) {
        const names = await readdir(path.join(root, base)).catch(() => [] as string[]);
        for (const name of names.sort()) {
          if (!matches(name)) continue;
          if (--budget.left < 0) return next;
          next.push(base === '' ? name : `${base}/${name}`);
        }
      }
    }
    current = next;
    if (current.length === 0) break;
  }
  return current;
}

export interface ResolvedPayload {
  placements: PayloadPlacement[];
  /** Entries that match nothing in the upload. */
  missing: PayloadEntrySpec[];
  /** Collisions and limits: [entry path, expected, found]. */
  problems: { path: string; expected: string; found: string }[];
}

/** Expands and places every entry against the upload's folder. */
export async function resolvePayload(root: string, specs: PayloadEntrySpec[]): Promise<ResolvedPayload> {
  const placements: PayloadPlacement[] = [];
  const missing: PayloadEntrySpec[] = [];
  const problems: ResolvedPayload['problems'] = [];
  const byTarget = new Map<string, PayloadPlacement>();
  const budget = { left: MAX_PAYLOAD_MATCHES };
  for (const spec of specs) {
    const matches = spec.glob ? await expandGlob(root, spec.entry, budget) : [spec.entry];
    if (budget.left < 0) {
      problems.push({ path: spec.path, expected: `at most ${MAX_PAYLOAD_MATCHES} files and folders matched by the payload`, found: 'more' });
      break;
    }
    let found = 0;
    for (const match of matches) {
      const dir = await isDirectory(path.join(root, match));
      if (dir === null) continue;
      found += 1;
      const base = path.posix.basename(match);
      const placement: PayloadPlacement = { entry: spec.path, source: dir ? `${match}/` : match, target: dir ? `${base}/` : base };
      const other = byTarget.get(base);
      if (other === undefined) {
        byTarget.set(base, placement);
        placements.push(placement);
      } else if (other.source !== placement.source) {
        problems.push({
          path: spec.path,
          expected: 'entries that land at different names (each entry is copied to the root of the image by its base name, as Hydrosphere\'s clients did)',
          found: `${other.entry} (${other.source}) and ${spec.path} (${placement.source}) both land at ${placement.target}`,
        });
      }
    }
    if (found === 0) missing.push(spec);
  }
  return { placements, missing, problems };
}

/** Where a path of the image comes from in the upload (null: not in the image). */
export function sourceOfTarget(placements: PayloadPlacement[] | null, target: string): string | null {
  if (placements === null) return target;
  for (const p of placements) {
    if (p.target === target) return p.source;
    if (p.target.endsWith('/') && target.startsWith(p.target)) return p.source + target.slice(p.target.length);
  }
  return null;
}

export interface PlacedEntry {
  /** The entry as it goes into the image (its path is where it lands). */
  entry: TreeEntry;
  /** Its path in the upload. */
  source: string;
}

function placementError(message: string, details: unknown): MllError {
  return new MllError('INVALID_SERVING_YAML', message, { details });
}

/**
 * The upload's files (extracted tree entries) placed as the payload says: each entry under a
 * placement's source lands under its target; without a payload, every entry stays where it is.
 * A link moved with its folder must point inside that folder (its relative target is kept).
 */
export function placePayload(entries: TreeEntry[], placements: PayloadPlacement[] | null): PlacedEntry[] {
  if (placements === null) return entries.map((entry) => ({ entry, source: entry.path }));
  const placed = new Map<string, PlacedEntry>();
  for (const p of placements) {
    const isDir = p.source.endsWith('/');
    const moved = p.source !== p.target;
    for (const e of entries) {
      if (isDir ? !e.path.startsWith(p.source) : e.path !== p.source) continue;
      const target = isDir ? p.target + e.path.slice(p.source.length) : p.target;
      if (moved && e.type === 'symlink') {
        const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(e.path), e.target));
        if (!isDir || !resolved.startsWith(p.source)) {
          throw placementError(
            `serving.yaml ${p.entry} places ${p.source} at ${p.target} (by its base name, as Hydrosphere's clients did), but the link ${e.path} points outside it (${e.target}); replace the link by the file, or list the folder that holds both`,
            { entry: p.entry, link: e.path, target: e.target },
          );
        }
      }
      const existing = placed.get(target);
      if (existing && existing.source !== e.path) {
        throw placementError(`serving.yaml places both ${existing.source} and ${e.path} at ${target}; rename one of them or change payload`, { target, sources: [existing.source, e.path] });
      }
      placed.set(target, { entry: { ...e, path: target }, source: e.path });
    }
  }
  return [...placed.values()].sort((a, b) => (a.entry.path < b.entry.path ? -1 : a.entry.path > b.entry.path ? 1 : 0));
}
