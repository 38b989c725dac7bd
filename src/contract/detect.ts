import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { MllError } from '../errors.js';

/**
 * Finding the model in an upload: the files and folders whose format has metadata the contract
 * module can read (candidates), and the recognisable formats without such metadata. The walk is
 * bounded in depth and entries; hidden entries (".x") are ignored.
 */

export type Framework = 'tensorflow' | 'onnx' | 'keras' | 'spark';

export interface Candidate {
  framework: Framework;
  /** Absolute path: the SavedModel or Spark folder, or the .onnx/.h5 file. */
  path: string;
  /** Relative to the upload root, '/'-separated ('' for the root itself). */
  rel: string;
  /** The file that identifies it, relative ('model/saved_model.pb'). */
  marker: string;
}

export interface Unreadable {
  /** e.g. 'scikit-learn', 'pytorch', 'mxnet'. */
  framework: string;
  rel: string;
  why: string;
}

export interface Detection {
  candidates: Candidate[];
  unreadable: Unreadable[];
  /** Regular, non-hidden files seen. */
  files: number;
  /** Top-level non-hidden entries (folders end with '/'), sorted. */
  topLevel: string[];
}

const MAX_DEPTH = 8;
const MAX_ENTRIES = 100_000;
const SKIPPED_DIRS = new Set(['__MACOSX', '__pycache__', 'node_modules']);

const fileRules: { test: (name: string) => boolean; framework: string; why: string }[] = [
  { test: (n) => n === 'saved_model.pbtxt', framework: 'tensorflow', why: 'a text-format SavedModel (saved_model.pbtxt) is not read; export saved_model.pb' },
  { test: (n) => /\.(pkl|pickle|joblib)$/i.test(n), framework: 'scikit-learn', why: 'a Python pickle has no readable metadata' },
  { test: (n) => /\.(pt|pth)$/i.test(n), framework: 'pytorch', why: 'a PyTorch checkpoint has no readable signature' },
  { test: (n) => /-symbol\.json$/i.test(n) || /\.params$/i.test(n), framework: 'mxnet', why: 'MXNet files have no readable signature' },
  { test: (n) => /\.pb$/i.test(n) && n !== 'saved_model.pb', framework: 'tensorflow', why: 'a frozen TensorFlow graph has no signatures' },
  { test: (n) => /\.keras$/i.test(n), framework: 'keras', why: 'Keras 3 .keras archives are not read; save as .h5' },
  { test: (n) => /\.tflite$/i.test(n), framework: 'tflite', why: 'TensorFlow Lite files are not read' },
  { test: (n) => /\.(mlmodel|pmml|bst|xgb|ubj)$/i.test(n), framework: 'other', why: 'this format has no readable metadata here' },
];

function isHidden(name: string): boolean {
  return name.startsWith('.');
}

function join(rel: string, name: string): string {
  return rel === '' ? name : `${rel}/${name}`;
}

async function isFile(p: string): Promise<boolean> {
  const st = await stat(p).catch(() => null);
  return st?.isFile() ?? false;
}

/** Classifies one file by name; null when it is neither a candidate nor recognisable. */
export function classifyFile(name: string): { framework: Framework } | Omit<Unreadable, 'rel'> | null {
  if (/\.onnx$/i.test(name)) return { framework: 'onnx' };
  if (/\.(h5|hdf5)$/i.test(name)) return { framework: 'keras' };
  if (name === 'saved_model.pb') return { framework: 'tensorflow' };
  const rule = fileRules.find((r) => r.test(name));
  return rule ? { framework: rule.framework, why: rule.why } : null;
}

export async function detect(root: string): Promise<Detection> {
  const candidates: Candidate[] = [];
  const unreadable: Unreadable[] = [];
  let files = 0;
  let entries = 0;
  let topLevel: string[] = [];

  const walk = async (dir: string, rel: string, depth: number): Promise<void> => {
    let list: Dirent[];
    try {
      list = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    entries += list.length;
    if (entries > MAX_ENTRIES) {
      throw new MllError('INVALID_MODEL', `the upload has more than ${MAX_ENTRIES} files and folders; the model cannot be found in it`);
    }
    const kinds = await Promise.all(
      list.map(async (e) => {
        if (e.isDirectory()) return 'dir' as const;
        if (e.isFile()) return 'file' as const;
        if (e.isSymbolicLink()) {
          // Links to files are followed; links to folders are not (a link to a parent would loop).
          const st = await stat(path.join(dir, e.name)).catch(() => null);
          return st?.isFile() ? ('file' as const) : null;
        }
        return null;
      }),
    );
    const visible = list.map((e, i) => ({ name: e.name, kind: kinds[i] })).filter((e) => !isHidden(e.name) && e.kind !== null);
    if (depth === 0) topLevel = visible.map((e) => (e.kind === 'dir' ? `${e.name}/` : e.name));
    files += visible.filter((e) => e.kind === 'file').length;

    if (visible.some((e) => e.kind === 'file' && e.name === 'saved_model.pb')) {
      candidates.push({ framework: 'tensorflow', path: dir, rel, marker: join(rel, 'saved_model.pb') });
      return;
    }
    if (visible.some((e) => e.kind === 'dir' && e.name === 'metadata') && (await isFile(path.join(dir, 'metadata', 'part-00000')))) {
      candidates.push({ framework: 'spark', path: dir, rel, marker: join(rel, 'metadata/part-00000') });
      files += 1;
      return;
    }
    for (const e of visible) {
      const childRel = join(rel, e.name);
      if (e.kind === 'file') {
        const c = classifyFile(e.name);
        if (c === null) continue;
        if ('why' in c) unreadable.push({ ...c, rel: childRel });
        else candidates.push({ framework: c.framework, path: path.join(dir, e.name), rel: childRel, marker: childRel });
      } else if (depth < MAX_DEPTH && !SKIPPED_DIRS.has(e.name)) {
        await walk(path.join(dir, e.name), childRel, depth + 1);
      }
    }
  };

  await walk(root, '', 0);
  return { candidates, unreadable, files, topLevel };
}
