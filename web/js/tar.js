/**
 * A small tar writer (POSIX ustar, with a PAX header for names or sizes ustar cannot hold).
 * The archive is a Blob made of headers and the File objects themselves, so files are never
 * read into memory here. Entries are sorted, with mtime 0 and fixed modes and owners, so the same
 * folder always packs to the same bytes (like `mll push` does).
 */

const BLOCK = 512;
const encoder = new TextEncoder();
const MAX_OCTAL_SIZE = 0o77777777777; // 11 octal digits

function writeString(header, offset, length, text) {
  const bytes = encoder.encode(text);
  header.set(bytes.subarray(0, length), offset);
}

function writeOctal(header, offset, length, value) {
  // length - 1 digits, then NUL.
  writeString(header, offset, length - 1, value.toString(8).padStart(length - 1, '0'));
}

function byteLength(text) {
  return encoder.encode(text).length;
}

/** Splits a path into ustar prefix (≤155 bytes) and name (≤100 bytes) at a slash, or null. */
export function splitUstarPath(path) {
  if (byteLength(path) <= 100) return { prefix: '', name: path };
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (byteLength(prefix) <= 155 && byteLength(name) <= 100 && name !== '') return { prefix, name };
  }
  return null;
}

function header({ name, prefix = '', size, mode, type, mtime = 0 }) {
  const block = new Uint8Array(BLOCK);
  writeString(block, 0, 100, name);
  writeOctal(block, 100, 8, mode);
  writeOctal(block, 108, 8, 0); // uid
  writeOctal(block, 116, 8, 0); // gid
  writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, mtime);
  block.fill(0x20, 148, 156); // checksum is computed with its own field as spaces
  writeString(block, 156, 1, type);
  writeString(block, 257, 6, 'ustar\0');
  writeString(block, 263, 2, '00');
  writeString(block, 265, 32, 'root');
  writeString(block, 297, 32, 'root');
  writeString(block, 345, 155, prefix);
  let sum = 0;
  for (const b of block) sum += b;
  writeString(block, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return block;
}

/** A PAX record: "<len> key=value\n", where len counts the whole record including itself. */
function paxRecord(key, value) {
  const body = ` ${key}=${value}\n`;
  let len = byteLength(body) + 1;
  while (String(len).length + byteLength(body) !== len) len = String(len).length + byteLength(body);
  return `${len}${body}`;
}

function padding(size) {
  const rest = size % BLOCK;
  return rest === 0 ? null : new Uint8Array(BLOCK - rest);
}

/**
 * entries: [{ path: 'src/main.py', file: Blob }] for files and [{ path: 'src', directory: true }]
 * for directories (parents of files are added when missing). Paths are relative and use '/'.
 * Returns a Blob of the tar archive.
 */
export function tarBlob(entries) {
  const byPath = new Map();
  for (const e of entries) {
    const path = normalise(e.path);
    if (!path) continue;
    byPath.set(path, e.directory ? { path, directory: true } : { path, file: e.file });
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!byPath.has(dir)) byPath.set(dir, { path: dir, directory: true });
    }
  }
  const sorted = [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const parts = [];
  for (const e of sorted) {
    const name = e.directory ? `${e.path}/` : e.path;
    const size = e.directory ? 0 : e.file.size;
    const split = splitUstarPath(name);
    const pax = [];
    if (!split) pax.push(paxRecord('path', name));
    if (size > MAX_OCTAL_SIZE) pax.push(paxRecord('size', String(size)));
    if (pax.length) {
      const data = encoder.encode(pax.join(''));
      parts.push(header({ name: 'PaxHeader', size: data.length, mode: 0o644, type: 'x' }), data, padding(data.length));
    }
    const fields = split ?? { prefix: '', name: name.slice(0, 100) };
    parts.push(header({ ...fields, size: size > MAX_OCTAL_SIZE ? 0 : size, mode: e.directory ? 0o755 : 0o644, type: e.directory ? '5' : '0' }));
    if (!e.directory) parts.push(e.file, padding(size));
  }
  parts.push(new Uint8Array(BLOCK * 2));
  return new Blob(parts.filter(Boolean), { type: 'application/x-tar' });
}

/** Relative, '/'-separated, without '.', empty or '..' segments (those would be refused anyway). */
export function normalise(path) {
  return String(path)
    .replace(/\\/g, '/')
    .split('/')
    .filter((s) => s !== '' && s !== '.' && s !== '..')
    .join('/');
}

/** gzip in the browser (CompressionStream); null where it does not exist. */
export async function gzipBlob(blob) {
  if (typeof CompressionStream === 'undefined') return null;
  const stream = blob.stream().pipeThrough(new CompressionStream('gzip'));
  return new Response(stream).blob().then((b) => new Blob([b], { type: 'application/gzip' }));
}
