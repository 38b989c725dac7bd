import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { median } from '../lib/proc.js';

/**
 * What one small object write costs the kernel on a file system (issue 13):
 *   node --import tsx bench/fs/run.ts [--dir <folder on the disk to measure>] [--files 20000] [--rounds 3]
 * The fs store writes every object as the embedded defaults do (src/storage/fs-store.ts): a new
 * temp file (600 bytes, open with O_EXCL, write, close), renamed to its key; a version makes about
 * twenty such files, and replaces some (version.json at each stage), which frees the old inode.
 * Measured twice per round, on `--dir` (default: the system's temp folder, where the benchmarks'
 * MLL_DATA_DIR lives) and on /dev/shm (tmpfs, the baseline: no disk, no inode allocator), the same
 * files in the same order: "new" writes `--files` distinct objects, "replacing" writes over 3 keys
 * per folder again and again. Prints user and kernel CPU per file and the ratio of the two.
 * On ext4 without a journal, every new inode skips those of its block group freed in the last one
 * to six minutes (fs/ext4/ialloc.c, recently_deleted()), so the figure depends on what was deleted lately,
 * by this run (it deletes its files) or by anything else on the disk.
 */

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] ?? dflt : dflt;
};
const files = Math.max(100, Number(arg('files', '20000')));
const rounds = Math.max(1, Number(arg('rounds', '3')));
const measured = arg('dir', os.tmpdir());
const baseline = fs.existsSync('/dev/shm') ? '/dev/shm' : undefined;

interface Sample { userUs: number; systemUs: number }

function writeObjects(parent: string, pattern: 'new' | 'replacing'): Sample {
  const root = fs.mkdtempSync(path.join(parent, 'mll-bench-fs-'));
  try {
    const tmp = path.join(root, 'tmp');
    const folders = Array.from({ length: 500 }, (_, i) => path.join(root, 'objects', `model-${i}`));
    for (const dir of [tmp, ...folders]) fs.mkdirSync(dir, { recursive: true });
    const body = Buffer.alloc(600, 'x');
    const started = process.cpuUsage();
    for (let i = 0; i < files; i++) {
      const temp = path.join(tmp, `${process.pid}-${i}`);
      const fd = fs.openSync(temp, 'wx');
      fs.writeSync(fd, body);
      fs.closeSync(fd);
      const key = pattern === 'new' ? `object-${i}` : `object-${i % 3}`;
      fs.renameSync(temp, path.join(folders[i % folders.length]!, key));
    }
    const used = process.cpuUsage(started);
    return { userUs: used.user / files, systemUs: used.system / files };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

const rows: string[][] = [];
for (const pattern of ['new', 'replacing'] as const) {
  const disk: Sample[] = [];
  const shm: Sample[] = [];
  for (let r = 0; r < rounds; r++) {
    disk.push(writeObjects(measured, pattern));
    if (baseline) shm.push(writeObjects(baseline, pattern));
  }
  const fmt = (xs: Sample[], f: (s: Sample) => number) => xs.map((s) => f(s).toFixed(0)).join(', ');
  const ratio = baseline ? `${(median(disk.map((s) => s.systemUs)) / median(shm.map((s) => s.systemUs))).toFixed(1)}×` : 'no tmpfs here';
  rows.push([pattern, fmt(disk, (s) => s.systemUs), baseline ? fmt(shm, (s) => s.systemUs) : '—', ratio, fmt(disk, (s) => s.userUs)]);
}

console.log(`\nSmall object writes (open O_EXCL + write 600 B + close + rename), ${files} per sample, ${rounds} samples, node ${process.version}, ${new Date().toISOString().slice(0, 16)}Z`);
console.log(`measured: ${measured}; baseline: ${baseline ?? '(none)'}\n`);
console.log('| pattern | kernel µs per file, measured | kernel µs per file, tmpfs | ratio (medians) | user µs per file, measured |');
console.log('| --- | --- | --- | ---: | --- |');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
