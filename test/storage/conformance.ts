import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, afterEach, before, describe, it } from 'node:test';
import {
  exists, getBuffer, getBufferWithEtag, getJsonIfPresent, isNotFound, isPreconditionFailed, putJson, type ObjectStore,
} from '../../src/storage/object-store.js';

export interface StoreHarness {
  store: ObjectStore;
  /** Called once after the suite: removes the harness's own area (bucket prefix, temp dir). */
  dispose(): Promise<void>;
  /** Serves presigned fs URLs where the adapter needs the API for them. */
  presignServer?: { close(): Promise<void> };
}

const MiB = 1024 * 1024;

/** A stream of `total` pseudo-random bytes in 1 MiB chunks, with no length attached. */
export function randomStream(total: number, seed = 1): { stream: Readable; sha256: Promise<string> } {
  const hash = createHash('sha256');
  let resolve!: (v: string) => void;
  const sha256 = new Promise<string>((r) => (resolve = r));
  const block = createHash('sha512').update(String(seed)).digest();
  const chunk = Buffer.alloc(MiB);
  for (let i = 0; i < chunk.length; i += block.length) block.copy(chunk, i);
  let sent = 0;
  let counter = 0;
  const stream = new Readable({
    read() {
      if (sent >= total) {
        resolve(hash.digest('hex'));
        this.push(null);
        return;
      }
      const n = Math.min(MiB, total - sent);
      const out = Buffer.from(chunk.subarray(0, n));
      out.writeUInt32LE(counter++, 0);
      hash.update(out);
      sent += n;
      this.push(out);
    },
  });
  return { stream, sha256 };
}

async function sha256Of(stream: Readable): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream as AsyncIterable<Buffer>) hash.update(chunk);
  return hash.digest('hex');
}

async function keysUnder(store: ObjectStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of store.list(prefix)) keys.push(info.key);
  return keys;
}

/**
 * The one behaviour every ObjectStore adapter must have, run against the real backend.
 * Each test writes under its own prefix and the suite fails if anything is left behind.
 */
export function objectStoreConformance(name: string, makeHarness: () => Promise<StoreHarness>, options: { presign?: boolean } = {}): void {
  describe(`ObjectStore conformance: ${name}`, () => {
    let h: StoreHarness;
    let area: string;
    let n = 0;
    before(async () => {
      h = await makeHarness();
    });
    after(async () => {
      await h.presignServer?.close();
      await h.dispose();
    });
    const fresh = () => `c${++n}-${randomBytes(3).toString('hex')}/`;
    afterEach(async () => {
      const left = await keysUnder(h.store, area);
      for (const key of left) await h.store.delete(key);
      assert.deepEqual(left, [], 'the test left objects behind');
    });

    it('puts and gets a buffer with content type and metadata', async () => {
      area = fresh();
      const body = Buffer.from('hello, model');
      const info = await h.store.put(`${area}a.txt`, body, { contentType: 'text/plain', metadata: { origin: 'test' } });
      assert.equal(info.size, body.length);
      assert.deepEqual(await getBuffer(h.store, `${area}a.txt`), body);
      const st = await h.store.stat(`${area}a.txt`);
      assert.equal(st.size, body.length);
      assert.equal(st.contentType, 'text/plain');
      assert.equal(st.metadata?.origin, 'test');
      await h.store.delete(`${area}a.txt`);
    });

    it('an overwrite without content type or metadata keeps neither of the version before', async () => {
      area = fresh();
      const key = `${area}typed.bin`;
      await h.store.put(key, 'first', { contentType: 'text/plain', metadata: { origin: 'test' } });
      await h.store.put(key, 'second');
      const st = await h.store.stat(key);
      assert.notEqual(st.contentType, 'text/plain');
      assert.equal(st.metadata?.origin, undefined);
      const { info } = await h.store.getWithInfo(key).then(async (got) => {
        got.stream.destroy();
        return got;
      });
      assert.notEqual(info.contentType, 'text/plain');
      assert.equal(info.metadata?.origin, undefined);
      await h.store.delete(key);
    });

    it('raises NotFoundError for a missing key from get, stat and copy', async () => {
      area = fresh();
      await assert.rejects(h.store.get(`${area}missing`), (e) => isNotFound(e));
      await assert.rejects(h.store.stat(`${area}missing`), (e) => isNotFound(e));
      await assert.rejects(h.store.copy(`${area}missing`, `${area}x`), (e) => isNotFound(e));
      assert.equal(await exists(h.store, `${area}missing`), false);
    });

    it('getJsonIfPresent: the value, undefined for a missing key, and still an error for unparsable JSON', async () => {
      area = fresh();
      await putJson(h.store, `${area}a.json`, { a: [1, 'x'] });
      await h.store.put(`${area}bad.json`, '{"a":');
      assert.deepEqual(await getJsonIfPresent(h.store, `${area}a.json`), { a: [1, 'x'] });
      assert.equal(await getJsonIfPresent(h.store, `${area}missing.json`), undefined);
      await assert.rejects(getJsonIfPresent(h.store, `${area}bad.json`), SyntaxError);
      await h.store.delete(`${area}a.json`);
      await h.store.delete(`${area}bad.json`);
    });

    it('rejects keys that are absolute or climb out', async () => {
      area = fresh();
      for (const key of ['/abs', `${area}../x`, `${area}./x`, '', `${area}a//b`]) {
        await assert.rejects(h.store.put(key, 'x'), /Invalid object key/, key);
      }
    });

    it('reads a byte range', async () => {
      area = fresh();
      await h.store.put(`${area}r.bin`, Buffer.from('0123456789'));
      const part = await h.store.get(`${area}r.bin`, { range: { start: 2, end: 5 } });
      const chunks: Buffer[] = [];
      for await (const c of part as AsyncIterable<Buffer>) chunks.push(c);
      assert.equal(Buffer.concat(chunks).toString(), '2345');
      await h.store.delete(`${area}r.bin`);
    });

    it('lists recursively in key order, with startAfter, and only under the prefix', async () => {
      area = fresh();
      const keys = [`${area}b/2`, `${area}a`, `${area}b/1`, `${area}c d+e`, `${area}é`];
      for (const k of keys) await h.store.put(k, k);
      await h.store.put(`${area.slice(0, -1)}-sibling`, 'not under the prefix');
      assert.deepEqual(await keysUnder(h.store, area), [...keys].sort());
      const after: string[] = [];
      for await (const i of h.store.list(area, { startAfter: `${area}b/1` })) after.push(i.key);
      assert.deepEqual(after, [`${area}b/2`, `${area}c d+e`, `${area}é`]);
      for (const k of keys) await h.store.delete(k);
      await h.store.delete(`${area.slice(0, -1)}-sibling`);
    });

    it('deletes idempotently', async () => {
      area = fresh();
      await h.store.put(`${area}d`, 'x');
      await h.store.delete(`${area}d`);
      await h.store.delete(`${area}d`);
      assert.equal(await exists(h.store, `${area}d`), false);
    });

    it('copies server-side; the copy outlives its source', async () => {
      area = fresh();
      await h.store.put(`${area}src`, 'payload');
      await h.store.copy(`${area}src`, `${area}dst`);
      await h.store.delete(`${area}src`);
      assert.equal((await getBuffer(h.store, `${area}dst`)).toString(), 'payload');
      await h.store.delete(`${area}dst`);
    });

    it('overwrites an object as a whole', async () => {
      area = fresh();
      await h.store.put(`${area}o`, 'first version, longer');
      await h.store.put(`${area}o`, 'second');
      assert.equal((await getBuffer(h.store, `${area}o`)).toString(), 'second');
      await h.store.delete(`${area}o`);
    });

    it('leaves nothing behind when the source stream fails midway', async () => {
      area = fresh();
      let sent = 0;
      const failing = new Readable({
        read() {
          this.push(randomBytes(64 * 1024));
          if (++sent > 20) this.destroy(new Error('client went away'));
        },
      });
      await assert.rejects(h.store.put(`${area}broken`, failing), /client went away/);
      assert.equal(await exists(h.store, `${area}broken`), false);
    });

    it('refuses a stream whose length differs from the declared size', async () => {
      area = fresh();
      await assert.rejects(h.store.put(`${area}short`, Readable.from([Buffer.from('abc')]), { size: 10 }), /expected 10 bytes/);
      assert.equal(await exists(h.store, `${area}short`), false);
    });

    it('stores a local file, moving it when asked', async () => {
      area = fresh();
      const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
      const { existsSync } = await import('node:fs');
      const os = await import('node:os');
      const path = await import('node:path');
      const dir = await mkdtemp(path.join(os.tmpdir(), 'mll-putfile-'));
      const file = path.join(dir, 'f.bin');
      await writeFile(file, 'file body');
      await h.store.putFile(`${area}copied`, file);
      assert.ok(existsSync(file));
      await h.store.putFile(`${area}moved`, file, { move: true });
      assert.ok(!existsSync(file));
      assert.equal((await getBuffer(h.store, `${area}moved`)).toString(), 'file body');
      await h.store.delete(`${area}copied`);
      await h.store.delete(`${area}moved`);
      await rm(dir, { recursive: true, force: true });
    });

    it('streams an object over 64 MiB of unknown length (multipart) and reads it back intact', async () => {
      area = fresh();
      const { stream, sha256 } = randomStream(70 * MiB, 7);
      const info = await h.store.put(`${area}big.bin`, stream);
      assert.equal(info.size, 70 * MiB);
      assert.equal(await sha256Of(await h.store.get(`${area}big.bin`)), await sha256);
      await h.store.delete(`${area}big.bin`);
    });

    it('creates only when absent with ifNoneMatch', async () => {
      area = fresh();
      const key = `${area}once.json`;
      const first = await h.store.putIf(key, '{"n":1}', { ifNoneMatch: '*' }, { contentType: 'application/json' });
      assert.ok(first.etag);
      await assert.rejects(h.store.putIf(key, '{"n":2}', { ifNoneMatch: '*' }), (e) => isPreconditionFailed(e) && (e as { code?: string }).code === 'PRECONDITION_FAILED');
      assert.equal((await getBuffer(h.store, key)).toString(), '{"n":1}');
      assert.equal((await h.store.stat(key)).contentType, 'application/json');
      await h.store.delete(key);
    });

    it('replaces only the version read with ifMatch; the etag returned is the one written', async () => {
      area = fresh();
      const key = `${area}cas.json`;
      await h.store.put(key, 'v1');
      const read = await getBufferWithEtag(h.store, key);
      assert.equal(read.body.toString(), 'v1');
      assert.equal(read.etag, (await h.store.stat(key)).etag, 'getWithInfo and stat agree on the etag');
      const written = await h.store.putIf(key, 'v2', { ifMatch: read.etag });
      assert.notEqual(written.etag, read.etag);
      assert.equal(written.etag, (await h.store.stat(key)).etag);
      await assert.rejects(h.store.putIf(key, 'v2-from-a-stale-read', { ifMatch: read.etag }), (e) => isPreconditionFailed(e));
      assert.equal((await getBuffer(h.store, key)).toString(), 'v2');
      // An unconditional put is a new version too: a condition on the version before it fails.
      await h.store.put(key, 'v3');
      await assert.rejects(h.store.putIf(key, 'v4', { ifMatch: written.etag }), (e) => isPreconditionFailed(e));
      assert.equal((await getBuffer(h.store, key)).toString(), 'v3');
      await h.store.delete(key);
      await assert.rejects(h.store.putIf(key, 'v5', { ifMatch: written.etag }), (e) => isPreconditionFailed(e), 'ifMatch on a deleted key');
      assert.equal(await exists(h.store, key), false);
    });

    it('loses no update when many writers compare-and-swap one object at once', async () => {
      area = fresh();
      const key = `${area}counter.json`;
      await h.store.putIf(key, JSON.stringify({ n: 0, by: [] }), { ifNoneMatch: '*' });
      const writers = 6;
      const each = 4;
      let conflicts = 0;
      const increment = async (writer: number) => {
        for (;;) {
          const { body, etag } = await getBufferWithEtag(h.store, key);
          const value = JSON.parse(body.toString()) as { n: number; by: number[] };
          try {
            await h.store.putIf(key, JSON.stringify({ n: value.n + 1, by: [...value.by, writer] }), { ifMatch: etag });
            return;
          } catch (err) {
            if (!isPreconditionFailed(err)) throw err;
            conflicts += 1;
          }
        }
      };
      await Promise.all(Array.from({ length: writers }, async (_, w) => {
        for (let i = 0; i < each; i++) await increment(w);
      }));
      const final = JSON.parse((await getBuffer(h.store, key)).toString()) as { n: number; by: number[] };
      assert.equal(final.n, writers * each, `every increment is there (${conflicts} conflicts were retried)`);
      assert.equal(final.by.length, writers * each);
      await h.store.delete(key);
    });

    it('accepts a PUT on a presigned URL and serves a presigned GET', { skip: options.presign === false && 'this adapter has no presigned URLs' }, async () => {
      area = fresh();
      const putUrl = await h.store.presignPut(`${area}presigned.bin`, 300);
      const body = randomBytes(100_000);
      const put = await fetch(putUrl, { method: 'PUT', body });
      assert.equal(put.status, 200, await put.text());
      const getUrl = await h.store.presignGet(`${area}presigned.bin`, 300);
      const got = await fetch(getUrl);
      assert.equal(got.status, 200);
      assert.deepEqual(Buffer.from(await got.arrayBuffer()), body);
      const tampered = getUrl.replace(/(signature=|Signature=)([A-Za-z0-9_-])/, (_m, k: string, c: string) => k + (c === 'A' ? 'B' : 'A'));
      assert.equal((await fetch(tampered)).status, 403);
      await h.store.delete(`${area}presigned.bin`);
    });
  });
}
