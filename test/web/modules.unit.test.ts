import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { extract } from 'tar-stream';
import { extractToDir } from '../../src/archive/extract-to-dir.js';
import { repoRoot } from '../support/paths.js';

/** The browser modules that need no DOM, run in Node: the tar writer and the formatting. */

interface TarModule {
  tarBlob(entries: Array<{ path: string; file?: Blob; directory?: boolean }>): Blob;
  splitUstarPath(path: string): { prefix: string; name: string } | null;
  normalise(path: string): string;
}
interface FormatModule {
  shape(dims: number[] | null, names?: (string | null)[]): string;
  duration(ms: number): string;
  bytes(n: number): string;
  shortDigest(d: string): string;
  buildDuration(v: unknown, now?: number): { ms: number; running: boolean } | null;
}
interface PickedModule {
  modelNameFrom(name: string): string;
  isArchive(file: { name: string }): boolean;
}

const load = <T>(rel: string) => import(pathToFileURL(path.join(repoRoot, 'web', 'js', rel)).href) as Promise<T>;
const exec = promisify(execFile);

async function entriesOf(tar: Buffer) {
  const out: Array<{ name: string; type: string; size: number; body: string; mode: number; mtime: number; uname: string }> = [];
  const ex = extract();
  const done = (async () => {
    for await (const entry of ex) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      const h = entry.header;
      out.push({ name: h.name, type: h.type ?? '', size: h.size ?? 0, body: Buffer.concat(chunks).toString(), mode: h.mode ?? 0, mtime: h.mtime?.getTime() ?? -1, uname: h.uname ?? '' });
    }
  })();
  Readable.from([tar]).pipe(ex);
  await done;
  return out;
}

describe('web/js/tar.js', () => {
  it('writes a ustar archive that tar-stream, GNU tar and the intake reader all read back', async () => {
    const { tarBlob } = await load<TarModule>('tar.js');
    const blob = tarBlob([
      { path: 'src/func_main.py', file: new Blob(['def f(x):\n    return x\n']) },
      { path: 'serving.yaml', file: new Blob(['kind: Model\n']) },
      { path: 'empty.txt', file: new Blob([]) },
      { path: 'data/', directory: true },
    ]);
    const tar = Buffer.from(await blob.arrayBuffer());
    assert.equal(tar.length % 512, 0);
    const entries = await entriesOf(tar);
    assert.deepEqual(entries.map((e) => [e.name, e.type]), [
      ['data/', 'directory'], ['empty.txt', 'file'], ['serving.yaml', 'file'], ['src/', 'directory'], ['src/func_main.py', 'file'],
    ]);
    const main = entries.find((e) => e.name === 'src/func_main.py')!;
    assert.equal(main.body, 'def f(x):\n    return x\n');
    assert.equal(main.mode, 0o644);
    assert.equal(main.mtime, 0);
    assert.equal(main.uname, 'root');
    assert.equal(entries.find((e) => e.name === 'src/')!.mode, 0o755);

    // GNU tar verifies the header checksums.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mll-web-tar-'));
    try {
      await writeFile(path.join(dir, 'a.tar'), tar);
      const { stdout } = await exec('tar', ['-tvf', path.join(dir, 'a.tar')]);
      assert.match(stdout, /src\/func_main\.py/);
      await exec('tar', ['-xf', path.join(dir, 'a.tar'), '-C', dir]);
      assert.equal(await readFile(path.join(dir, 'serving.yaml'), 'utf8'), 'kind: Model\n');

      // And the service's own extraction accepts it under its safety policy.
      const tree = await extractToDir(Readable.from([tar]), path.join(dir, 'intake'), { maxUnpackedBytes: 1 << 20, maxEntries: 100, maxDepth: 10 });
      assert.deepEqual(tree.entries.filter((e) => e.type === 'file').map((e) => e.path), ['empty.txt', 'serving.yaml', 'src/func_main.py']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('is deterministic: the same files pack to the same bytes in any order', async () => {
    const { tarBlob } = await load<TarModule>('tar.js');
    const a = tarBlob([{ path: 'b/x', file: new Blob(['1']) }, { path: 'a', file: new Blob(['2']) }]);
    const b = tarBlob([{ path: 'a', file: new Blob(['2']) }, { path: 'b/x', file: new Blob(['1']) }]);
    assert.deepEqual(Buffer.from(await a.arrayBuffer()), Buffer.from(await b.arrayBuffer()));
  });

  it('keeps long paths whole: ustar prefix when it fits, a PAX header when it does not', async () => {
    const { tarBlob, splitUstarPath } = await load<TarModule>('tar.js');
    const deep = `${'d'.repeat(120)}/${'f'.repeat(90)}.txt`;
    const flat = `${'n'.repeat(180)}.bin`;
    const unicode = `modèle/${'é'.repeat(60)}.txt`; // > 100 bytes in UTF-8
    assert.deepEqual(splitUstarPath(deep), { prefix: 'd'.repeat(120), name: `${'f'.repeat(90)}.txt` });
    assert.equal(splitUstarPath(flat), null);
    const entries = await entriesOf(Buffer.from(await tarBlob([
      { path: deep, file: new Blob(['deep']) },
      { path: flat, file: new Blob(['flat']) },
      { path: unicode, file: new Blob(['ü']) },
    ]).arrayBuffer()));
    const files = entries.filter((e) => e.type === 'file');
    assert.deepEqual(files.map((e) => e.name).sort(), [deep, unicode, flat].sort());
    assert.equal(files.find((e) => e.name === flat)!.body, 'flat');
    assert.equal(files.find((e) => e.name === unicode)!.body, 'ü');
  });

  it('drops ".", ".." and empty segments so a path cannot climb out', async () => {
    const { normalise, tarBlob } = await load<TarModule>('tar.js');
    assert.equal(normalise('../a/./b//c'), 'a/b/c');
    assert.equal(normalise('\\win\\path'), 'win/path');
    const entries = await entriesOf(Buffer.from(await tarBlob([{ path: '../../etc/x', file: new Blob(['x']) }]).arrayBuffer()));
    assert.deepEqual(entries.map((e) => e.name), ['etc/', 'etc/x']);
  });
});

describe('web/js/format.js', () => {
  it('writes shapes as people read them', async () => {
    const { shape } = await load<FormatModule>('format.js');
    assert.equal(shape(null), 'unknown rank');
    assert.equal(shape([]), 'scalar');
    assert.equal(shape([-1, 3]), '[?, 3]');
    assert.equal(shape([-1, 224, 224, 3], ['batch', null, null, null]), '[batch, 224, 224, 3]');
  });

  it('formats durations, sizes and digests', async () => {
    const { duration, bytes, shortDigest } = await load<FormatModule>('format.js');
    assert.equal(duration(250), '250 ms');
    assert.equal(duration(2400), '2.4 s');
    assert.equal(duration(65_000), '1 min 05 s');
    assert.equal(duration(3_720_000), '1 h 02 min');
    assert.equal(bytes(512), '512 B');
    assert.equal(bytes(1536), '1.5 KiB');
    assert.equal(bytes(50 * 1024 * 1024), '50 MiB');
    assert.equal(shortDigest(`sha256:${'ab'.repeat(32)}`), 'sha256:abababababab');
  });

  it('measures a build from the first stage start to the end, or to now while it runs', async () => {
    const { buildDuration } = await load<FormatModule>('format.js');
    const stages = { extract: { startedAt: '2024-01-01T00:00:00.000Z', finishedAt: '2024-01-01T00:00:01.000Z', attempts: 1 }, build: { startedAt: '2024-01-01T00:00:01.000Z', finishedAt: '2024-01-01T00:00:03.500Z', attempts: 1 } };
    assert.deepEqual(buildDuration({ status: 'released', stages, updatedAt: '2024-01-01T00:00:03.500Z' }), { ms: 3500, running: false });
    assert.deepEqual(buildDuration({ status: 'building', stages, updatedAt: '2024-01-01T00:00:01.000Z' }, Date.parse('2024-01-01T00:00:10.000Z')), { ms: 10_000, running: true });
    assert.equal(buildDuration({ status: 'queued', stages: {}, updatedAt: '' }), null);
  });
});

describe('web/js/picked-files.js', () => {
  it('suggests a valid model name from a file or folder name', async () => {
    const { modelNameFrom, isArchive } = await load<PickedModule>('picked-files.js');
    assert.equal(modelNameFrom('My Model v2.tar.gz'), 'my-model-v2');
    assert.equal(modelNameFrom('fraud_detector.tgz'), 'fraud_detector');
    assert.equal(modelNameFrom('__weird..name.tar'), 'weird-name');
    assert.match(modelNameFrom('x'.repeat(100)), /^x{63}$/);
    assert.ok(isArchive({ name: 'a.TAR.GZ' }));
    assert.ok(!isArchive({ name: 'model.zip' }));
  });
});
