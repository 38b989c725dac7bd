import { createCipheriv, createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';

/**
 * A tiny wheel builder for tests and benchmarks: a wheel is a zip with the package files and a
 * `<name>-<version>.dist-info/` holding METADATA, WHEEL and RECORD. Entries are stored (no
 * compression), so a large random payload is written as it is generated.
 */
export interface WheelSpec {
  name: string;
  version: string;
  /** Package files, path → content (a number is that many pseudo-random bytes, seeded by the path). */
  files?: Record<string, string | Buffer | number>;
  /** python-abi-platform, e.g. `py3-none-any` (the default) or `cp39-cp39-manylinux_2_17_x86_64`. */
  tag?: string;
  /** Requires-Dist lines. */
  requires?: string[];
}

export function distName(name: string): string {
  return name.replace(/[-_.]+/g, '_');
}

export function wheelFileName(spec: WheelSpec): string {
  return `${distName(spec.name)}-${spec.version}-${spec.tag ?? 'py3-none-any'}.whl`;
}

/** Deterministic pseudo-random bytes (an AES-CTR keystream keyed by the seed), so the same spec gives the same wheel. */
function* pseudoRandom(seed: string, size: number, chunk = 1024 * 1024): Generator<Buffer> {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  for (let left = size; left > 0; left -= chunk) yield cipher.update(Buffer.alloc(Math.min(left, chunk)));
}

const csvField = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

interface ZipEntry {
  name: string;
  crc: number;
  size: number;
  offset: number;
}

/** Writes the wheel into `dir` and returns its file name and sha256. */
export async function writeWheel(dir: string, spec: WheelSpec): Promise<{ file: string; path: string; sha256: string; size: number; metadata: Buffer }> {
  await fs.mkdir(dir, { recursive: true });
  const file = wheelFileName(spec);
  const full = path.join(dir, file);
  const out = createWriteStream(full);
  const hash = createHash('sha256');
  let offset = 0;
  const write = (buf: Buffer) => new Promise<void>((resolve, reject) => {
    hash.update(buf);
    offset += buf.length;
    out.write(buf, (err) => (err ? reject(err) : resolve()));
  });
  const entries: ZipEntry[] = [];
  const records: string[] = [];

  const addEntry = async (name: string, chunks: () => Iterable<Buffer>, size: number) => {
    // First pass for the CRC and the RECORD hash (zip wants the CRC before the data when not streaming).
    let crc = 0;
    const h = createHash('sha256');
    for (const c of chunks()) {
      crc = crc32(c, crc);
      h.update(c);
    }
    const nameBytes = Buffer.from(name, 'utf8');
    const header = Buffer.alloc(30);
    header.writeUInt32LE(0x04034b50, 0);
    header.writeUInt16LE(20, 4);
    header.writeUInt16LE(0x0800, 6); // UTF-8 names
    header.writeUInt16LE(0, 8); // stored
    header.writeUInt32LE(0, 10); // time/date
    header.writeUInt32LE(crc >>> 0, 14);
    header.writeUInt32LE(size, 18);
    header.writeUInt32LE(size, 22);
    header.writeUInt16LE(nameBytes.length, 26);
    header.writeUInt16LE(0, 28);
    entries.push({ name, crc: crc >>> 0, size, offset });
    await write(header);
    await write(nameBytes);
    for (const c of chunks()) await write(c);
    if (!name.endsWith('/RECORD')) records.push(`${csvField(name)},sha256=${h.digest('base64url')},${size}`);
  };

  const distInfo = `${distName(spec.name)}-${spec.version}.dist-info`;
  for (const [p, content] of Object.entries(spec.files ?? {})) {
    if (typeof content === 'number') await addEntry(p, () => pseudoRandom(`${spec.name}/${p}`, content), content);
    else {
      const buf = Buffer.from(content);
      await addEntry(p, () => [buf], buf.length);
    }
  }
  const metadata = Buffer.from([
    'Metadata-Version: 2.1', `Name: ${spec.name}`, `Version: ${spec.version}`,
    ...(spec.requires ?? []).map((r) => `Requires-Dist: ${r}`), '', '',
  ].join('\n'));
  const tag = spec.tag ?? 'py3-none-any';
  const wheel = Buffer.from(`Wheel-Version: 1.0\nGenerator: mll-test\nRoot-Is-Purelib: ${tag.endsWith('-none-any')}\nTag: ${tag}\n\n`);
  await addEntry(`${distInfo}/METADATA`, () => [metadata], metadata.length);
  await addEntry(`${distInfo}/WHEEL`, () => [wheel], wheel.length);
  const record = Buffer.from([...records, `${distInfo}/RECORD,,`, ''].join('\n'));
  await addEntry(`${distInfo}/RECORD`, () => [record], record.length);

  const centralStart = offset;
  for (const e of entries) {
    const nameBytes = Buffer.from(e.name, 'utf8');
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(0x0314, 4); // made by: unix, 2.0
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(0x0800, 8);
    c.writeUInt16LE(0, 10);
    c.writeUInt32LE(0, 12);
    c.writeUInt32LE(e.crc, 16);
    c.writeUInt32LE(e.size, 20);
    c.writeUInt32LE(e.size, 24);
    c.writeUInt16LE(nameBytes.length, 28);
    c.writeUInt32LE((0o100644 << 16) >>> 0, 38); // external attributes: a regular file, 644
    c.writeUInt32LE(e.offset, 42);
    await write(c);
    await write(nameBytes);
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(offset - centralStart, 12);
  end.writeUInt32LE(centralStart, 16);
  await write(end);
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return { file, path: full, sha256: hash.digest('hex'), size: offset, metadata };
}

/** A source distribution stand-in (the index only needs its name to list it). */
export async function writeSdist(dir: string, name: string, version: string): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  const file = `${distName(name)}-${version}.tar.gz`;
  await fs.writeFile(path.join(dir, file), Buffer.from('not really a tarball'));
  return file;
}
