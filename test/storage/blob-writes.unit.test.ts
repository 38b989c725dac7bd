import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { FsObjectStore } from '../../src/storage/fs-store.js';
import { MemoryObjectStore } from '../../src/storage/memory-store.js';
import { blindWriteMaxBytes, putBlobBytes, type ObjectInfo, type PutOptions } from '../../src/storage/object-store.js';

/** A memory store that says it is remote (as S3 is) and counts the lookups and writes it gets. */
class CountingStore extends MemoryObjectStore {
  override readonly remote: boolean;
  stats = 0;
  puts = 0;
  constructor(remote: boolean) {
    super();
    this.remote = remote;
  }
  override async stat(key: string): Promise<ObjectInfo> {
    this.stats += 1;
    return super.stat(key);
  }
  override async put(key: string, body: Parameters<MemoryObjectStore['put']>[1], options?: PutOptions): Promise<ObjectInfo> {
    this.puts += 1;
    return super.put(key, body, options);
  }
}

describe('putBlobBytes: content-addressed blobs', () => {
  it('a remote store gets a small blob written without a lookup, a large one looked up first', async () => {
    const store = new CountingStore(true);
    await putBlobBytes(store, 'blobs/sha256/small', Buffer.from('x'));
    await putBlobBytes(store, 'blobs/sha256/small', Buffer.from('x'));
    assert.deepEqual({ stats: store.stats, puts: store.puts }, { stats: 0, puts: 2 });
    const large = Buffer.alloc(blindWriteMaxBytes + 1);
    await putBlobBytes(store, 'blobs/sha256/large', large);
    await putBlobBytes(store, 'blobs/sha256/large', large);
    assert.deepEqual({ stats: store.stats, puts: store.puts }, { stats: 2, puts: 3 });
  });

  it('a local store looks first and writes a blob it has not got only', async () => {
    const store = new CountingStore(false);
    await putBlobBytes(store, 'blobs/sha256/small', Buffer.from('x'));
    await putBlobBytes(store, 'blobs/sha256/small', Buffer.from('x'));
    assert.deepEqual({ stats: store.stats, puts: store.puts }, { stats: 2, puts: 1 });
  });

  it('the fs store keeps the file of a blob it has (no new inode, so none freed)', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'mll-blob-writes-'));
    try {
      const store = new FsObjectStore({ root });
      await putBlobBytes(store, 'blobs/sha256/aa', Buffer.from('same bytes'));
      const before = await store.stat('blobs/sha256/aa');
      await putBlobBytes(store, 'blobs/sha256/aa', Buffer.from('same bytes'));
      assert.equal((await store.stat('blobs/sha256/aa')).etag, before.etag, 'the etag (size, mtime, inode) is unchanged');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
