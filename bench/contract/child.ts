import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { inspectModel } from '../../src/contract/index.js';

/**
 * One measured inspection, in its own process so that peak RSS (VmHWM) belongs to it alone.
 * Prints one JSON line: wall time of inspectModel, bytes the process read during it (rchar of
 * /proc/self/io: every read(2), whatever the file), VmHWM (peak RSS of the whole process, Node
 * and tsx included), the RSS just before the call, and the contract's signature count.
 */

function rchar(): number {
  const m = /^rchar:\s+(\d+)/m.exec(readFileSync('/proc/self/io', 'utf8'));
  return m ? Number(m[1]) : NaN;
}

function statusKiB(key: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : NaN;
}

const target = process.argv[2];
if (!target) throw new Error('usage: child.ts <model dir or file>');
const baselineKiB = statusKiB('VmRSS');
const before = rchar();
const t0 = performance.now();
const inspection = await inspectModel(target);
const ms = performance.now() - t0;
const read = rchar() - before;
process.stdout.write(
  `${JSON.stringify({ ms, bytesRead: read, vmHwmKiB: statusKiB('VmHWM'), baselineKiB, modelType: inspection.modelType, signatures: inspection.contract.signatures.length })}\n`,
);
