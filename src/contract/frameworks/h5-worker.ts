/**
 * The worker thread that reads string attributes of an HDF5 file's root group with h5wasm.
 * It runs in a worker so that a hostile file can neither hang nor crash the caller (the parent
 * enforces a deadline) and the HDF5 library's diagnostics never reach the caller's stdout.
 * h5wasm/node reads through the file system: only the superblock and the root object header are
 * read, never the weights.
 *
 * The source is plain JavaScript run with `eval: true`, so it needs no loader and is the same
 * under tsx (src/) and after tsc (dist/). workerData: { file, names, h5wasmUrl }.
 */

export type H5WorkerReply =
  | { ok: true; attributes: Record<string, string | null>; present: string[] }
  | { ok: false; reason: string };

export const h5WorkerSource = String.raw`
const { parentPort, workerData } = require('node:worker_threads');
const diagnostics = [];
const capture = (...args) => { if (diagnostics.length < 200) diagnostics.push(args.map(String).join(' ')); };
// h5wasm binds console.log/console.error when its module is created: silence them first.
console.log = capture;
console.error = capture;
console.warn = capture;
// With NODERAWFS the HDF5 library writes its error stack straight to fd 2 through fs.writeSync.
const fs = require('node:fs');
const writeSync = fs.writeSync;
fs.writeSync = function (fd, buffer, offset, length, ...rest) {
  if (fd === 1 || fd === 2) {
    if (typeof buffer === 'string') {
      capture(buffer);
      return Buffer.byteLength(buffer);
    }
    const start = typeof offset === 'number' ? offset : 0;
    const n = typeof length === 'number' ? length : buffer.byteLength - start;
    capture(Buffer.from(buffer.buffer, buffer.byteOffset + start, n).toString('utf8'));
    return n;
  }
  return writeSync.call(fs, fd, buffer, offset, length, ...rest);
};

function asText(v) {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return new TextDecoder('utf-8').decode(v);
  if (Array.isArray(v) && v.length === 1) return asText(v[0]);
  return null;
}

/** The root cause HDF5 printed: the deepest "minor:" line of its first error stack. */
function rootCause() {
  const first = diagnostics.join('\n').split('HDF5-DIAG')[1] || '';
  const minors = first.split('\n').filter((l) => l.includes('minor:'));
  const last = minors[minors.length - 1];
  return last ? last.replace(/.*minor:\s*/, '').trim().toLowerCase() : null;
}

async function main() {
  const { file, names, h5wasmUrl } = workerData;
  const h5wasm = await import(h5wasmUrl);
  await h5wasm.ready;
  let f;
  try {
    f = new h5wasm.File(file, 'r');
    const present = Object.keys(f.attrs);
    const attributes = {};
    for (const name of names) attributes[name] = present.includes(name) ? asText(f.attrs[name].value) : null;
    return { ok: true, attributes, present };
  } catch (err) {
    return { ok: false, reason: rootCause() || (err && err.message ? err.message : String(err)) };
  } finally {
    try { if (f) f.close(); } catch { /* already failed */ }
  }
}

main().then(
  (reply) => parentPort.postMessage(reply),
  (err) => parentPort.postMessage({ ok: false, reason: rootCause() || (err && err.message ? err.message : String(err)) }),
);
`;
