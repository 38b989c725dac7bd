import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { extractToDir } from '../../src/archive/extract-to-dir.js';
import { bufferStream, makeTar } from '../support/tar.js';

const limits = { maxUnpackedBytes: 16 * 1024 * 1024, maxEntries: 100, maxDepth: 8 };
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('extractToDir', () => {
  const dirs: string[] = [];
  after(async () => {
    await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
  });

  it('writes small files whole and large ones streamed: same bytes, digests and modes either way', async () => {
    const small = Buffer.from('def predict(x):\n    return x\n');
    const large = randomBytes(300 * 1024 + 17);
    const tar = await makeTar([
      { name: 'src/func_main.py', body: small, mode: 0o644 },
      { name: 'src/deep/weights.bin', body: large, mode: 0o755 },
      { name: 'serving.yaml', body: 'kind: Model\n' },
      { name: 'src/copy.py', type: 'link', linkname: 'src/func_main.py' },
    ]);
    const dir = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'mll-etd-')), 'out');
    dirs.push(path.dirname(dir));
    const tree = await extractToDir(bufferStream(tar, 4096), dir, limits);

    assert.deepEqual(tree.entries.map((e) => e.path), ['serving.yaml', 'src/copy.py', 'src/deep/weights.bin', 'src/func_main.py']);
    const byPath = new Map(tree.entries.map((e) => [e.path, e]));
    for (const [rel, bytes, mode] of [['src/func_main.py', small, 0o644], ['src/deep/weights.bin', large, 0o755], ['src/copy.py', small, 0o644]] as const) {
      const entry = byPath.get(rel)!;
      assert.equal(entry.type, 'file');
      assert.equal(entry.type === 'file' && entry.digest, sha(bytes), rel);
      assert.deepEqual(await fs.readFile(path.join(dir, rel)), bytes, rel);
      assert.equal((await fs.stat(path.join(dir, rel))).mode & 0o777, mode & ~process.umask(), rel);
    }
  });

  it('refuses to write over a file that is already there (both paths open exclusively)', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mll-etd-'));
    dirs.push(dir);
    await fs.writeFile(path.join(dir, 'a.txt'), 'already here');
    const tar = await makeTar([{ name: 'a.txt', body: 'new' }]);
    await assert.rejects(extractToDir(bufferStream(tar), dir, limits), { code: 'EEXIST' });
    assert.equal(await fs.readFile(path.join(dir, 'a.txt'), 'utf8'), 'already here');
  });
});
