import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { normaliseEntryPath, type ArchiveLimits } from '../../src/archive/entry-policy.js';
import { readArchive, type ArchiveSummary } from '../../src/archive/read-archive.js';
import { bufferStream, makeTar, type TarSpec } from '../support/tar.js';

const limits: ArchiveLimits = { maxUnpackedBytes: 1024 * 1024, maxEntries: 100, maxDepth: 8 };

async function read(buf: Buffer, l: ArchiveLimits = limits) {
  const seen: { type: string; path: string; bytes?: string }[] = [];
  const gen = readArchive(bufferStream(buf, 1000), l);
  let next = await gen.next();
  while (!next.done) {
    const { entry, body } = next.value;
    let bytes: string | undefined;
    if (body) {
      const parts: Buffer[] = [];
      for await (const c of body as AsyncIterable<Buffer>) parts.push(c);
      bytes = Buffer.concat(parts).toString();
    }
    seen.push({ type: entry.type, path: entry.path, ...(bytes === undefined ? {} : { bytes }) });
    next = await gen.next();
  }
  return { seen, summary: next.value as ArchiveSummary };
}

async function refused(entries: TarSpec[], code: string, message: RegExp, l: ArchiveLimits = limits) {
  await assert.rejects(read(await makeTar(entries), l), (err: Error & { code?: string }) => {
    assert.equal(err.code, code, err.message);
    assert.match(err.message, message);
    return true;
  });
}

describe('readArchive', () => {
  it('reads files, directories and inner links of a tar and of a tar.gz, normalising ./ prefixes', async () => {
    const entries: TarSpec[] = [
      { name: './', type: 'directory' },
      { name: './src/', type: 'directory' },
      { name: './src/func_main.py', body: 'def predict(x):\n  return x\n', mode: 0o755 },
      { name: './serving.yaml', body: 'kind: Model\n' },
      { name: './latest', type: 'symlink', linkname: 'src/func_main.py' },
      { name: './copy.py', type: 'link', linkname: './src/func_main.py' },
    ];
    for (const gzip of [false, true]) {
      const { seen, summary } = await read(await makeTar(entries, { gzip }));
      assert.deepEqual(seen.map((s) => `${s.type}:${s.path}`), [
        'directory:src', 'file:src/func_main.py', 'file:serving.yaml', 'symlink:latest', 'hardlink:copy.py',
      ]);
      assert.equal(seen[1]!.bytes, 'def predict(x):\n  return x\n');
      assert.equal(summary.format, gzip ? 'tar+gzip' : 'tar');
      assert.equal(summary.files, 3);
    }
  });

  it('refuses path traversal, absolute paths and escaping links with the entry named', async () => {
    await refused([{ name: '../x', body: 'x' }], 'UNSAFE_ARCHIVE', /"\.\.\/x" contains "\.\."/);
    await refused([{ name: 'a/../../x', body: 'x' }], 'UNSAFE_ARCHIVE', /contains "\.\."/);
    await refused([{ name: '/etc/passwd', body: 'x' }], 'UNSAFE_ARCHIVE', /absolute path/);
    await refused([{ name: 'evil', type: 'symlink', linkname: '../../etc/passwd' }], 'UNSAFE_ARCHIVE', /symlink .* outside the model root/);
    await refused([{ name: 'evil', type: 'symlink', linkname: '/etc/passwd' }], 'UNSAFE_ARCHIVE', /outside the model root/);
    await refused([{ name: 'a/b', type: 'symlink', linkname: '../..' }], 'UNSAFE_ARCHIVE', /outside the model root/);
    await refused([{ name: 'h', type: 'link', linkname: '../../etc/shadow' }], 'UNSAFE_ARCHIVE', /hard link .* outside the model root/);
    await refused([{ name: 'h', type: 'link', linkname: 'missing' }], 'UNSAFE_ARCHIVE', /not an earlier regular file/);
  });

  it('refuses device files, duplicates and entries under a symlink', async () => {
    await refused([{ name: 'dev', type: 'character-device' }], 'UNSAFE_ARCHIVE', /character-device/);
    await refused([{ name: 'dev', type: 'block-device' }], 'UNSAFE_ARCHIVE', /block-device/);
    await refused([{ name: 'p', type: 'fifo' }], 'UNSAFE_ARCHIVE', /fifo/);
    await refused([{ name: 'a', body: '1' }, { name: './a', body: '2' }], 'UNSAFE_ARCHIVE', /"a" appears twice/);
    await refused([{ name: 'l', type: 'symlink', linkname: 'd' }, { name: 'l/x', body: 'x' }], 'UNSAFE_ARCHIVE', /under the symlink "l"/);
  });

  it('enforces entry count, unpacked size and depth limits', async () => {
    const many = Array.from({ length: 6 }, (_, i) => ({ name: `f${i}`, body: 'x' }));
    await refused(many, 'ARCHIVE_TOO_LARGE', /more than 5 entries/, { ...limits, maxEntries: 5 });
    await refused([{ name: 'big', body: Buffer.alloc(2000) }], 'ARCHIVE_TOO_LARGE', /more than 1000 bytes/, { ...limits, maxUnpackedBytes: 1000 });
    await refused([{ name: 'a/b/c/d/e', body: 'x' }], 'UNSAFE_ARCHIVE', /nested 5 levels/, { ...limits, maxDepth: 4 });
  });

  it('stops a gzip bomb at the expansion limit', async () => {
    const tar = await makeTar([{ name: 'zeros', body: Buffer.alloc(4 * 1024 * 1024) }]);
    const bomb = gzipSync(tar, { level: 9 });
    assert.ok(bomb.length < 64 * 1024);
    await assert.rejects(read(bomb, { ...limits, maxUnpackedBytes: 100_000 }), /ARCHIVE_TOO_LARGE|more than 100000 bytes/);
  });

  it('explains payloads that are not tar archives', async () => {
    await assert.rejects(read(Buffer.from('just some text, definitely not a tar archive '.repeat(20))), /not a tar archive/);
    await assert.rejects(read(gzipSync(Buffer.from('plain text in gzip '.repeat(50)))), /does not hold a tar archive|truncated/);
    await assert.rejects(read(Buffer.from([0x50, 0x4b, 0x03, 0x04, 1, 2, 3, 4])), /zip archive/);
    await assert.rejects(read(Buffer.alloc(0)), (e: Error & { code?: string }) => e.code === 'EMPTY_PAYLOAD');
    const tar = await makeTar([{ name: 'weights.bin', body: Buffer.alloc(5000, 1) }]);
    await assert.rejects(read(tar.subarray(0, 2048)), /truncated/);
    const gz = gzipSync(tar);
    await assert.rejects(read(gz.subarray(0, gz.length - 10)), /corrupt or truncated|truncated/);
    await assert.rejects(read(await makeTar([{ name: 'only-dir/', type: 'directory' }])), /only directories and links/);
  });
});

describe('normaliseEntryPath', () => {
  it('keeps safe relative names and strips ./', () => {
    assert.equal(normaliseEntryPath('./a/b.txt'), 'a/b.txt');
    assert.equal(normaliseEntryPath('a//b/'), 'a/b');
    assert.equal(normaliseEntryPath('./'), '');
    assert.equal(normaliseEntryPath('données/modèle.onnx'), 'données/modèle.onnx');
  });
  it('refuses control characters, backslashes, non-UTF-8 and over-long names', () => {
    assert.throws(() => normaliseEntryPath('a\u0001b'), /control characters/);
    assert.throws(() => normaliseEntryPath('a\\..\\b'), /backslashes/);
    assert.throws(() => normaliseEntryPath('bad\uFFFDname'), /not valid UTF-8/);
    assert.throws(() => normaliseEntryPath('x'.repeat(300)), /longer than 255 bytes/);
    assert.throws(() => normaliseEntryPath('C:/windows'), /absolute path/);
  });
});
