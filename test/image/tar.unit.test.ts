import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import tarStream from 'tar-stream';
import { segmentStream } from '../../src/image/oci/layer-stream.js';
import { entryHeader, segmentsSize, tarSegments, withParents, type TarEntry } from '../../src/image/oci/tar.js';
import { putBlob, tempStore } from './helpers.js';

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

describe('deterministic layer tar', () => {
  let ctx: Awaited<ReturnType<typeof tempStore>>;
  const contents = new Map<string, Buffer>();
  let entries: TarEntry[];
  const longDir = 'd'.repeat(120);
  const veryLong = `${'x'.repeat(90)}/${'y'.repeat(90)}/${'z'.repeat(90)}/${'w'.repeat(60)}.bin`;

  before(async () => {
    ctx = await tempStore('tar');
    const files: [string, Buffer, number][] = [
      ['model/files/a.txt', Buffer.from('hello\n'), 0o600],
      ['model/files/run.sh', Buffer.from('#!/bin/sh\n'), 0o775],
      ['model/files/empty', Buffer.alloc(0), 0o644],
      ['model/files/ünï/cödé.json', Buffer.from('{}'), 0o644],
      [`model/files/${longDir}/file.bin`, Buffer.alloc(700, 7), 0o644],
      [`model/files/${veryLong}`, Buffer.alloc(1024, 1), 0o644],
    ];
    const list: TarEntry[] = [];
    for (const [p, data, mode] of files) {
      const { digest } = await putBlob(ctx.store, data);
      contents.set(p, data);
      list.push({ type: 'file', path: p, mode, size: data.length, digest });
    }
    list.push({ type: 'symlink', path: 'model/files/link', target: 'a.txt' });
    list.push({ type: 'symlink', path: 'model/files/longlink', target: `${'t'.repeat(150)}/target` });
    entries = withParents(list.reverse());
  });
  after(() => ctx.cleanup());

  async function layer(): Promise<Buffer> {
    const segs = tarSegments(entries);
    return collect(segmentStream(ctx.store, segs, { start: 0, end: segmentsSize(segs) }));
  }

  it('is byte-identical across generations and sized exactly as computed', async () => {
    const a = await layer();
    const b = await layer();
    assert.ok(a.equals(b));
    assert.equal(a.length, segmentsSize(tarSegments(entries)));
    assert.equal(a.length % 512, 0);
  });

  it('reads back with tar-stream: sorted, parents first, fixed owner and time, normalised modes', async () => {
    const extract = tarStream.extract();
    const seen: { name: string; type: string; mode: number; uid: number; gid: number; mtime: number; uname?: string; linkname?: string | null; body: Buffer }[] = [];
    Readable.from([await layer()]).pipe(extract);
    for await (const entry of extract) {
      const header = entry.header;
      const chunks: Buffer[] = [];
      for await (const c of entry as AsyncIterable<Buffer>) chunks.push(c);
      seen.push({
        name: header.name, type: header.type ?? '', mode: header.mode ?? -1, uid: header.uid ?? -1, gid: header.gid ?? -1,
        mtime: header.mtime?.getTime() ?? -1, uname: header.uname, linkname: header.linkname, body: Buffer.concat(chunks),
      });
    }
    const names = seen.map((e) => e.name.replace(/\/$/, ''));
    assert.deepEqual(names, [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
    assert.equal(names[0], 'model');
    for (const e of seen) {
      assert.equal(e.uid, 0);
      assert.equal(e.gid, 0);
      assert.equal(e.mtime, 0);
      assert.ok(!e.uname);
      if (e.type === 'directory') assert.equal(e.mode, 0o755);
      if (e.type === 'symlink') assert.equal(e.mode, 0o777);
      if (e.type === 'file') {
        assert.ok(e.mode === 0o644 || e.mode === 0o755, `${e.name} mode ${e.mode.toString(8)}`);
        assert.ok(e.body.equals(contents.get(e.name)!), `content of ${e.name}`);
      }
    }
    assert.equal(seen.find((e) => e.name === 'model/files/run.sh')?.mode, 0o755);
    assert.equal(seen.find((e) => e.name === 'model/files/a.txt')?.mode, 0o644);
    assert.equal(seen.find((e) => e.name === `model/files/${veryLong}`)?.body.length, 1024);
    assert.equal(seen.find((e) => e.name === 'model/files/longlink')?.linkname, `${'t'.repeat(150)}/target`);
    assert.ok(seen.some((e) => e.name === 'model/files/ünï/cödé.json'));
  });

  it('lists the same with GNU tar, and carries no pax headers', async () => {
    const file = path.join(ctx.dir, 'layer.tar');
    const bytes = await layer();
    await fs.writeFile(file, bytes);
    const listing = execFileSync('tar', ['--numeric-owner', '-tvf', file], { encoding: 'utf8' });
    assert.match(listing, /-rwxr-xr-x 0\/0 +10 1970-01-01 00:00 model\/files\/run.sh/);
    assert.ok(listing.includes(veryLong));
    // typeflags of every header: only 0, 2, 5 and the GNU long name/link L and K
    const flags = new Set<string>();
    for (let off = 0; off + 512 <= bytes.length; ) {
      const h = bytes.subarray(off, off + 512);
      if (h.every((b) => b === 0)) break;
      const flag = String.fromCharCode(h[156]!);
      flags.add(flag);
      const size = parseInt(h.subarray(124, 136).toString('latin1').replace(/\0.*$/, ''), 8);
      off += 512 + Math.ceil(size / 512) * 512;
    }
    assert.deepEqual([...flags].sort(), ['0', '2', '5', 'K', 'L']);
  });

  it('streams any byte range of a layer exactly', async () => {
    const whole = await layer();
    const segs = tarSegments(entries);
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 0, max: whole.length }), fc.integer({ min: 0, max: whole.length }),
      async (x, y) => {
        const start = Math.min(x, y);
        const end = Math.max(x, y);
        const part = await collect(segmentStream(ctx.store, segs, { start, end }));
        assert.ok(part.equals(whole.subarray(start, end)));
      },
    ), { numRuns: 60 });
  });

  it('fails a stream whose content blob is missing', async () => {
    const segs = tarSegments([{ type: 'file', path: 'model/x', mode: 0o644, size: 3, digest: `sha256:${'0'.repeat(64)}` }]);
    await assert.rejects(collect(segmentStream(ctx.store, segs, { start: 0, end: segmentsSize(segs) })), { code: 'NOT_FOUND', message: /no longer in the object store; upload the model again/ });
  });

  it('fails a stream whose content blob has another size than its entry says (read whole: longer or shorter; a range: shorter)', async () => {
    const { digest } = await putBlob(ctx.store, Buffer.from('four'));
    const segsOf = (size: number) => tarSegments([{ type: 'file', path: 'model/x', mode: 0o644, size, digest }]);
    for (const size of [3, 5]) {
      const segs = segsOf(size);
      await assert.rejects(collect(segmentStream(ctx.store, segs, { start: 0, end: segmentsSize(segs) })), { code: 'INTERNAL', message: /has the wrong size/ }, `whole, ${size} bytes`);
    }
    const segs = segsOf(5);
    await assert.rejects(collect(segmentStream(ctx.store, segs, { start: 513, end: segmentsSize(segs) })), { code: 'INTERNAL', message: /has the wrong size/ }, 'a range');
  });

  it('encodes sizes of 8 GiB and more in base-256', () => {
    const h = entryHeader({ type: 'file', path: 'big', mode: 0o644, size: 9 * 1024 ** 3, digest: 'sha256:x' });
    assert.equal(h[124], 0x80);
    const size = h.subarray(125, 136).reduce((v, b) => v * 256 + b, 0);
    assert.equal(size, 9 * 1024 ** 3);
  });
});
