/**
 * Deterministic tar for image layers. We write the headers ourselves so that the same entries
 * always give the same bytes, whatever the tar library or the platform: ustar headers only, fixed
 * mtime/uid/gid and empty uname/gname, normalised modes, no pax headers. A path that fits no ustar
 * header (over 255 bytes, or no split into a 155-byte prefix and a 100-byte name) gets a GNU
 * long-name entry before it; that is the only extension ever written.
 *
 * A layer is described by its entries alone; its bytes are a list of segments (header bytes,
 * content blobs, zero padding) that can be streamed from any offset, so a layer is never stored:
 * it is regenerated from the content blobs whenever a target needs it.
 */

const BLOCK = 512;

export type TarEntry =
  | { type: 'dir'; path: string }
  | { type: 'file'; path: string; mode: number; size: number; digest: string }
  | { type: 'symlink'; path: string; target: string };

/** One stretch of a layer's bytes. */
export type Segment =
  | { kind: 'bytes'; data: Buffer }
  | { kind: 'blob'; digest: string; size: number }
  | { kind: 'zeros'; size: number };

export function normaliseMode(entry: TarEntry): number {
  if (entry.type === 'dir') return 0o755;
  if (entry.type === 'symlink') return 0o777;
  return entry.mode & 0o111 ? 0o755 : 0o644;
}

/** Byte-wise UTF-8 order: the one order every platform agrees on. */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function writeString(buf: Buffer, offset: number, length: number, value: string | Buffer): void {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  if (bytes.length > length) throw new Error(`tar field overflow (${bytes.length} > ${length})`);
  bytes.copy(buf, offset);
}

function writeOctal(buf: Buffer, offset: number, length: number, value: number): void {
  const digits = length - 1;
  const text = value.toString(8);
  if (text.length <= digits) {
    writeString(buf, offset, length, text.padStart(digits, '0') + '\0');
    return;
  }
  // GNU base-256 for numbers that do not fit (only sizes of 8 GiB and more).
  let v = BigInt(value);
  for (let i = offset + length - 1; i > offset; i--) {
    buf[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  buf[offset] = 0x80;
}

/** Splits a path into ustar prefix + name, or undefined when it does not fit. */
function splitUstar(name: string): { prefix: string; name: string } | undefined {
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes <= 100) return { prefix: '', name };
  if (bytes > 256) return undefined;
  // The split must be at a slash; the prefix holds up to 155 bytes, the name up to 100.
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] !== '/') continue;
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (rest === '') continue;
    if (Buffer.byteLength(prefix, 'utf8') <= 155 && Buffer.byteLength(rest, 'utf8') <= 100) return { prefix, name: rest };
    if (Buffer.byteLength(prefix, 'utf8') <= 155) return undefined; // a longer prefix cannot help
  }
  return undefined;
}

interface HeaderFields {
  name: string | Buffer;
  prefix?: string;
  mode: number;
  size: number;
  typeflag: string;
  linkname?: string | Buffer;
}

function rawHeader(f: HeaderFields): Buffer {
  const h = Buffer.alloc(BLOCK);
  writeString(h, 0, 100, f.name);
  writeOctal(h, 100, 8, f.mode);
  writeOctal(h, 108, 8, 0); // uid
  writeOctal(h, 116, 8, 0); // gid
  writeOctal(h, 124, 12, f.size);
  writeOctal(h, 136, 12, 0); // mtime
  writeString(h, 156, 1, f.typeflag);
  if (f.linkname) writeString(h, 157, 100, f.linkname);
  writeString(h, 257, 6, 'ustar\0');
  writeString(h, 263, 2, '00');
  // uname (265, 32) and gname (297, 32) stay empty.
  writeOctal(h, 329, 8, 0); // devmajor
  writeOctal(h, 337, 8, 0); // devminor
  if (f.prefix) writeString(h, 345, 155, f.prefix);
  h.fill(0x20, 148, 156); // the checksum is computed with its own field as spaces
  let sum = 0;
  for (const byte of h) sum += byte;
  writeString(h, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** A GNU long-name ('L') or long-link ('K') entry carrying `value`, NUL-terminated. */
function gnuLong(typeflag: 'L' | 'K', value: string): Buffer {
  const data = Buffer.concat([Buffer.from(value, 'utf8'), Buffer.alloc(1)]);
  return Buffer.concat([
    rawHeader({ name: '././@LongLink', mode: 0, size: data.length, typeflag }),
    data,
    Buffer.alloc(padding(data.length)),
  ]);
}

/** The header block(s) of one entry (with GNU long-name blocks before it when needed). */
export function entryHeader(entry: TarEntry): Buffer {
  const name = entry.type === 'dir' ? `${entry.path}/` : entry.path;
  const parts: Buffer[] = [];
  let fields: { name: string | Buffer; prefix?: string } | undefined = splitUstar(name);
  if (!fields) {
    parts.push(gnuLong('L', name));
    fields = { name: Buffer.from(name, 'utf8').subarray(0, 100) };
  }
  let linkname: string | Buffer | undefined;
  if (entry.type === 'symlink') {
    linkname = entry.target;
    if (Buffer.byteLength(entry.target, 'utf8') > 100) {
      parts.push(gnuLong('K', entry.target));
      linkname = Buffer.from(entry.target, 'utf8').subarray(0, 100);
    }
  }
  parts.push(rawHeader({
    ...fields,
    mode: normaliseMode(entry),
    size: entry.type === 'file' ? entry.size : 0,
    typeflag: entry.type === 'file' ? '0' : entry.type === 'dir' ? '5' : '2',
    linkname,
  }));
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/** Sorted entries plus every parent directory they need, each once. */
export function withParents(entries: TarEntry[]): TarEntry[] {
  const dirs = new Set<string>();
  const out: TarEntry[] = [];
  for (const entry of entries) {
    const segments = entry.path.split('/');
    for (let i = 1; i < segments.length; i++) dirs.add(segments.slice(0, i).join('/'));
    if (entry.type === 'dir') dirs.add(entry.path);
    else out.push(entry);
  }
  for (const dir of dirs) out.push({ type: 'dir', path: dir });
  return out.sort((a, b) => compareBytes(a.path, b.path));
}

/** The layer's bytes as segments: headers and padding merged into byte runs, contents as blob references. */
export function tarSegments(entries: TarEntry[]): Segment[] {
  const segments: Segment[] = [];
  let pending: Buffer[] = [];
  const flush = () => {
    if (pending.length > 0) segments.push({ kind: 'bytes', data: Buffer.concat(pending) });
    pending = [];
  };
  for (const entry of entries) {
    pending.push(entryHeader(entry));
    if (entry.type === 'file' && entry.size > 0) {
      flush();
      segments.push({ kind: 'blob', digest: entry.digest, size: entry.size });
      const pad = padding(entry.size);
      if (pad > 0) pending.push(Buffer.alloc(pad));
    }
  }
  flush();
  segments.push({ kind: 'zeros', size: 2 * BLOCK });
  return segments;
}

export function segmentsSize(segments: Segment[]): number {
  let total = 0;
  for (const s of segments) total += s.kind === 'bytes' ? s.data.length : s.size;
  return total;
}
