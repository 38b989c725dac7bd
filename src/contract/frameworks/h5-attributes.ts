import { open } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { MllError } from '../../errors.js';
import { h5WorkerSource, type H5WorkerReply } from './h5-worker.js';

const HDF5_SIGNATURE = Uint8Array.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);
const DEADLINE_MS = 20_000;

/** HDF5 puts its superblock at byte 0, 512, 1024, 2048, ... (a user block may come first). */
export async function hasHdf5Signature(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const buf = new Uint8Array(8);
    for (let at = 0; at + 8 <= size; at = at === 0 ? 512 : at * 2) {
      const { bytesRead } = await fh.read(buf, 0, 8, at);
      if (bytesRead === 8 && buf.every((b, i) => b === HDF5_SIGNATURE[i])) return true;
    }
    return false;
  } finally {
    await fh.close();
  }
}

/**
 * The string attributes `names` of the root group of an HDF5 file (null when absent), read in a
 * worker thread with a deadline. Unreadable files give INVALID_MODEL naming `label`.
 */
export async function readH5RootAttributes(file: string, names: string[], label: string): Promise<{ attributes: Record<string, string | null>; present: string[] }> {
  if (!(await hasHdf5Signature(file))) {
    throw new MllError('INVALID_MODEL', `${label} is not an HDF5 file (no HDF5 signature): it is truncated, damaged or another kind of file`, {
      details: { file: label },
    });
  }
  const reply = await new Promise<H5WorkerReply>((resolve, reject) => {
    const worker = new Worker(h5WorkerSource, {
      eval: true,
      workerData: { file, names, h5wasmUrl: import.meta.resolve('h5wasm/node') },
      resourceLimits: { maxOldGenerationSizeMb: 256 },
      stdout: true,
      stderr: true,
    });
    // Drain the worker's own streams: nothing of HDF5 reaches the caller's output.
    worker.stdout.resume();
    worker.stderr.resume();
    let settled = false;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
      void worker.terminate();
    };
    const timer = setTimeout(() => {
      finish(() => reject(new MllError('INVALID_MODEL', `${label}: reading its HDF5 attributes took longer than ${DEADLINE_MS / 1000} s; the file is damaged or hostile`, {
        details: { file: label },
      })));
    }, DEADLINE_MS);
    worker.once('message', (m: H5WorkerReply) => finish(() => resolve(m)));
    worker.once('error', (err) => finish(() => resolve({ ok: false, reason: err.message })));
    worker.once('exit', (code) => finish(() => resolve({ ok: false, reason: `the HDF5 reader stopped with exit code ${code}` })));
  });
  if (!reply.ok) {
    throw new MllError('INVALID_MODEL', `${label} is not a readable HDF5 file (${reply.reason}): it is truncated or damaged`, { details: { file: label } });
  }
  return { attributes: reply.attributes, present: reply.present };
}
