import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TreeEntry, TreeFile } from '../domain/tree.js';
import type { ArchiveLimits } from './entry-policy.js';
import { readArchive, type ArchiveSummary } from './read-archive.js';
import { makeDir, smallFileBytes, writeSmallFile } from '../shared/local-fs.js';
import { readAll } from '../shared/read-all.js';

export interface ExtractedTree {
  /** Sorted by path; paths relative to `root`. */
  entries: TreeEntry[];
  /** The directory that holds the model files (inside the extraction dir). */
  root: string;
  /** Set when the archive wrapped everything in one top-level folder, which was taken as the root. */
  strippedPrefix: string | null;
  summary: ArchiveSummary;
}

function hashingTap(onDigest: (hex: string) => void): Transform {
  const hash = createHash('sha256');
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      done(null, chunk);
    },
    flush(done) {
      onDigest(hash.digest('hex'));
      done();
    },
  });
}

/**
 * Unpacks an archive stream into `dir` (which must be empty or absent), hashing every file as it
 * is written. Every entry passes the archive policy first; nothing is ever written outside `dir`:
 * paths are relative and checked, files are opened with O_EXCL, and symlinks are created only
 * after every file is in place (no entry may lie under one).
 */
export async function extractToDir(
  input: Readable,
  dir: string,
  limits: ArchiveLimits,
  signal?: AbortSignal,
  options: { stripSingleTopFolder?: boolean } = {},
): Promise<ExtractedTree> {
  // Scratch space is a local disk: folders and small files are made synchronously (src/shared/local-fs.ts).
  makeDir(dir);
  // Directories this call made (or found): each is made once, not once per file in it.
  const made = new Set<string>([dir]);
  const mkdirOnce = (at: string) => {
    if (made.has(at)) return;
    makeDir(at);
    made.add(at);
  };
  const entries: TreeEntry[] = [];
  const files = new Map<string, TreeFile>();
  const gen = readArchive(input, limits, signal);
  let next = await gen.next();
  while (!next.done) {
    const { entry, body } = next.value;
    const target = path.join(dir, ...entry.path.split('/'));
    if (entry.type === 'directory') {
      mkdirOnce(target);
    } else if (entry.type === 'file') {
      mkdirOnce(path.dirname(target));
      let digest = '';
      // A model upload is mostly small files: per file, a write stream costs more than the bytes.
      if (entry.size <= smallFileBytes) {
        const bytes = await readAll(body!);
        digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
        writeSmallFile(target, bytes, { flag: 'wx', mode: entry.mode });
      } else {
        await pipeline(body!, hashingTap((hex) => (digest = `sha256:${hex}`)), createWriteStream(target, { flags: 'wx', mode: entry.mode }));
      }
      const file: TreeFile = { type: 'file', path: entry.path, mode: entry.mode, size: entry.size, digest };
      files.set(entry.path, file);
      entries.push(file);
    } else if (entry.type === 'hardlink') {
      const source = files.get(entry.target)!;
      mkdirOnce(path.dirname(target));
      await fs.copyFile(path.join(dir, ...entry.target.split('/')), target, fs.constants.COPYFILE_EXCL);
      const file: TreeFile = { type: 'file', path: entry.path, mode: source.mode, size: source.size, digest: source.digest };
      files.set(entry.path, file);
      entries.push(file);
    } else {
      entries.push({ type: 'symlink', path: entry.path, target: entry.target });
    }
    next = await gen.next();
  }
  for (const link of entries) {
    if (link.type !== 'symlink') continue;
    const at = path.join(dir, ...link.path.split('/'));
    mkdirOnce(path.dirname(at));
    await fs.symlink(link.target, at);
  }
  if (options.stripSingleTopFolder === false) return { entries: sortEntries(entries), root: dir, strippedPrefix: null, summary: next.value };
  return stripSingleTopFolder(dir, entries, next.value);
}

/**
 * `tar czf m.tgz mymodel/` wraps everything in `mymodel/`; `tar czf m.tgz -C mymodel .` does not.
 * Both mean the same model, so a lone top-level folder with nothing beside it becomes the root.
 */
function stripSingleTopFolder(dir: string, entries: TreeEntry[], summary: ArchiveSummary): ExtractedTree {
  const tops = new Set(entries.map((e) => e.path.split('/')[0]!));
  const onlyTop = tops.size === 1 ? [...tops][0]! : undefined;
  const wrapped =
    onlyTop !== undefined &&
    entries.every((e) => e.path.startsWith(`${onlyTop}/`)) &&
    entries.every((e) => e.type !== 'symlink' || linkResolvesUnder(e.path, e.target, `${onlyTop}/`));
  if (!wrapped) {
    return { entries: sortEntries(entries), root: dir, strippedPrefix: null, summary };
  }
  const prefix = `${onlyTop}/`;
  const inner = entries.map((e) => ({ ...e, path: e.path.slice(prefix.length) }));
  return { entries: sortEntries(inner), root: path.join(dir, onlyTop), strippedPrefix: prefix, summary };
}

function linkResolvesUnder(linkPath: string, target: string, prefix: string): boolean {
  return path.posix.normalize(path.posix.join(path.posix.dirname(linkPath), target)).startsWith(prefix);
}

function sortEntries(entries: TreeEntry[]): TreeEntry[] {
  return [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
