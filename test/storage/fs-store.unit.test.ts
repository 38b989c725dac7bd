import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import fsSync from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { serveStoreUrl } from '../../src/storage/fs-presign.js';
import { after, before, describe, it } from 'node:test';
import { FsObjectStore } from '../../src/storage/fs-store.js';
import { getBuffer, isNotFound, putJson } from '../../src/storage/object-store.js';
import { objectStoreConformance } from './conformance.js';

const fsHarness = (blockingWrites: boolean) => async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'mll-fs-store-'));
  const secret = 'conformance-secret';
  // Presigned fs URLs point at the API's store route; serve exactly that handler here.
  const holder: { store?: FsObjectStore } = {};
  const server = http.createServer((req, res) => void serveStoreUrl(holder.store!, secret, req, res, { maxBytes: 1 << 30 }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const store = new FsObjectStore({ root, presign: { baseUrl: `http://127.0.0.1:${port}`, secret }, blockingWrites });
  holder.store = store;
  return {
    store,
    presignServer: { close: () => new Promise<void>((r) => server.close(() => r())) },
    dispose: () => rm(root, { recursive: true, force: true }),
  };
};

objectStoreConformance('fs', fsHarness(true));
objectStoreConformance('fs, writing through the thread pool', fsHarness(false));

describe('fs store: where small writes block', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'mll-fs-blocking-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  // With the synchronous calls out of reach, only a store that never makes them can write.
  const withoutSyncCreates = async (work: () => Promise<unknown>) => {
    const { openSync, linkSync, renameSync } = fsSync;
    const refuse = () => {
      throw new Error('a synchronous file system call');
    };
    Object.assign(fsSync, { openSync: refuse, linkSync: refuse, renameSync: refuse });
    try {
      return await work();
    } finally {
      Object.assign(fsSync, { openSync, linkSync, renameSync });
    }
  };

  it('writes, creates only and replaces without blocking calls when blockingWrites is false', async () => {
    const store = new FsObjectStore({ root: path.join(root, 'async'), blockingWrites: false });
    await store.put('warm/up.json', '{}');
    await withoutSyncCreates(async () => {
      await store.put('models/a/record.json', '{"a":1}');
      const created = await store.putIf('models/b/record.json', '{"b":1}', { ifNoneMatch: '*' });
      assert.equal(created.size, 7);
    });
    assert.equal((await getBuffer(store, 'models/a/record.json')).toString(), '{"a":1}');
  });

  it('uses the synchronous calls by default', async () => {
    const store = new FsObjectStore({ root: path.join(root, 'sync') });
    await store.put('warm/up.json', '{}');
    await assert.rejects(withoutSyncCreates(() => store.put('models/a/record.json', '{"a":1}')), /a synchronous file system call/);
  });
});

describe('fs store: sidecars and directories', () => {
  let root: string;
  let store: FsObjectStore;
  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'mll-fs-side-'));
    store = new FsObjectStore({ root });
  });
  after(() => rm(root, { recursive: true, force: true }));

  const sidecarFiles = async () => (await readdir(path.join(root, 'meta'), { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);

  it('writes no sidecar when the content type is the one the key implies and there is no metadata', async () => {
    await putJson(store, 'plain/a.json', { a: 1 });
    await store.putIf('plain/b.json', '{}', { ifNoneMatch: '*' }, { contentType: 'application/json' });
    await store.put('plain/blob', Buffer.from('x'));
    await store.put('plain/upload', Buffer.from('x'), { contentType: 'application/octet-stream', metadata: {} });
    assert.deepEqual(await sidecarFiles(), []);
    assert.equal((await store.stat('plain/a.json')).contentType, 'application/json');
    assert.equal((await store.stat('plain/b.json')).contentType, 'application/json');
    assert.equal((await store.stat('plain/blob')).contentType, 'application/octet-stream');
  });

  it('ignores a sidecar that describes another version of the object', async () => {
    const written = await store.put('side/k.txt', 'v1', { contentType: 'text/plain', metadata: { origin: 'a' } });
    assert.equal((await store.stat('side/k.txt')).contentType, 'text/plain');
    const sidecar = path.join(root, 'meta', 'side', 'k.txt.json');
    const kept = await readFile(sidecar, 'utf8');
    assert.equal((JSON.parse(kept) as { etag: string }).etag, written.etag, 'the sidecar names the version it describes');
    // A writer that lost a race: its sidecar is in place, another version of the object is.
    await store.put('side/k.txt', 'v2', { contentType: 'text/csv' });
    await writeFile(sidecar, kept);
    const st = await store.stat('side/k.txt');
    assert.equal(st.contentType, 'application/octet-stream');
    assert.equal(st.metadata, undefined);
    const small = await store.getSmall('side/k.txt', 1024);
    assert.equal(small.body.toString(), 'v2');
    assert.equal(small.info.contentType, 'application/octet-stream');
    await store.delete('side/k.txt');
    await assert.rejects(readFile(sidecar), /ENOENT/, 'delete removes the sidecar');
  });

  it('get reads small and large objects whole and by range, and a folder is not an object', async () => {
    const collect = async (key: string, range?: { start: number; end: number }) => {
      const chunks: Buffer[] = [];
      for await (const c of (await store.get(key, range ? { range } : undefined)) as AsyncIterable<Buffer>) chunks.push(c);
      return Buffer.concat(chunks);
    };
    for (const size of [0, 10, 256 * 1024, 256 * 1024 + 1, 600 * 1024]) {
      const body = Buffer.alloc(size);
      for (let i = 0; i < size; i++) body[i] = (i * 7) % 251;
      await store.put(`get/${size}`, body);
      assert.ok((await collect(`get/${size}`)).equals(body), `${size} bytes whole`);
      if (size > 0) {
        const start = Math.floor(size / 3);
        assert.ok((await collect(`get/${size}`, { start, end: size - 2 })).equals(body.subarray(start, size - 1)), `${size} bytes, a range`);
        assert.ok((await collect(`get/${size}`, { start, end: size + 100 })).equals(body.subarray(start)), `${size} bytes, a range past the end`);
      }
      await store.delete(`get/${size}`);
    }
    await store.put('get/dir/inside', 'x');
    await assert.rejects(store.get('get/dir'), (e) => isNotFound(e));
    await store.delete('get/dir/inside');
  });

  it('getSmall refuses an object over the limit and reads an empty one', async () => {
    await store.put('small/big', Buffer.alloc(100));
    await assert.rejects(getBuffer(store, 'small/big', 99), /larger than 99 bytes/);
    await store.put('small/empty', Buffer.alloc(0));
    assert.equal((await getBuffer(store, 'small/empty')).length, 0);
    await assert.rejects(store.getSmall('small/missing', 10), (e) => isNotFound(e));
  });

  it('a put survives a concurrent delete that prunes the directory it writes into', async () => {
    const rounds = 40;
    await Promise.all(Array.from({ length: rounds }, async (_, i) => {
      await store.put(`prune/d/${i}`, `v${i}`);
      await store.delete(`prune/d/${i}`);
    }));
    await Promise.all(Array.from({ length: rounds }, async (_, i) => {
      await store.putIf(`prune/e/${i}.json`, '{}', { ifNoneMatch: '*' });
      await store.delete(`prune/e/${i}.json`);
    }));
    assert.deepEqual(await readdir(path.join(root, 'objects')).then((names) => names.filter((n) => n === 'prune')), [], 'every directory was pruned at the end');
    assert.deepEqual(await readdir(path.join(root, 'tmp')), [], 'no temp file left behind');
  });
});
