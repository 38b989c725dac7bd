import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeBigOnnx, writeBigSavedModel } from './big-models.js';

/**
 * Contract inference on very large models (issue 4's benchmark):
 *   node --import tsx bench/contract/run.ts [--runs N]
 * Writes two 1 GiB ONNX models (16 initializers of 64 MiB; 4096 of 256 KiB and as many nodes) and a SavedModel with 1 GiB of variables
 * and a saved_model.pb carrying 64 MiB of graph content, to a temporary folder (sparse files),
 * inspects each in a fresh child process and prints time, peak RSS and bytes read against the
 * model's size. Targets: < 0.25 s, < 100 MB peak RSS, well under 1% of the bytes read.
 */

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const here = path.dirname(fileURLToPath(import.meta.url));
const runsArg = process.argv.indexOf('--runs');
const runs = runsArg > 0 ? Math.max(1, Number(process.argv[runsArg + 1]) || 1) : 5;

interface Sample { ms: number; bytesRead: number; vmHwmKiB: number; baselineKiB: number; modelType: string; signatures: number }

function inspectInChild(target: string): Sample {
  const out = execFileSync(process.execPath, ['--import', 'tsx', path.join(here, 'child.ts'), target], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!) as Sample;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'mll-bench-contract-'));
try {
  const onnxFile = path.join(tmp, 'big.onnx');
  const onnxSize = await writeBigOnnx(onnxFile, 16, 64 * MiB);
  const manyFile = path.join(tmp, 'many.onnx');
  const manySize = await writeBigOnnx(manyFile, 4096, 256 * 1024);
  const smDir = path.join(tmp, 'saved_model');
  const smSize = await writeBigSavedModel(smDir, GiB, 64 * MiB);

  const rows: string[] = [];
  for (const [label, target, size] of [
    ['ONNX, 16 x 64 MiB initializers', onnxFile, onnxSize],
    ['ONNX, 4096 x 256 KiB initializers', manyFile, manySize],
    ['SavedModel, 1 GiB variables + 64 MiB graph', smDir, smSize],
  ] as const) {
    const samples = Array.from({ length: runs }, () => inspectInChild(target));
    const ms = median(samples.map((s) => s.ms));
    const rss = Math.max(...samples.map((s) => s.vmHwmKiB)) / 1024;
    const base = median(samples.map((s) => s.baselineKiB)) / 1024;
    const read = Math.max(...samples.map((s) => s.bytesRead));
    rows.push(
      `| ${label} | ${(size / GiB).toFixed(2)} GiB | ${samples[0]!.modelType} | ${ms.toFixed(1)} ms | ${rss.toFixed(1)} MB (${base.toFixed(1)} MB before the call) | ${(read / 1024).toFixed(1)} KiB (${((100 * read) / size).toFixed(4)} %) |`,
    );
  }
  console.log(`Contract inference, median of ${runs} runs (peak RSS and bytes read: worst run), node ${process.version}`);
  console.log('');
  console.log('| model | size | model-type | inference time | peak RSS (VmHWM) | bytes read |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const r of rows) console.log(r);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
