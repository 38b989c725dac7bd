import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { SpillingPut } from '../../src/intake/spilling-put.js';
import { MemoryObjectStore } from '../../src/storage/memory-store.js';
import { getBuffer, isNotFound } from '../../src/storage/object-store.js';

/** A memory store that remembers whether each put was given a Buffer or a stream. */
function recordingStore() {
  const store = new MemoryObjectStore();
  const puts: ('buffer' | 'stream')[] = [];
  const put = store.put.bind(store);
  store.put = (key, body, options) => {
    puts.push(Buffer.isBuffer(body) ? 'buffer' : 'stream');
    return put(key, body, options);
  };
  return { store, puts };
}

const chunked = (bytes: Buffer, size = 4096) => Readable.from(Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size)));

describe('SpillingPut', () => {
  it('stores a body that ends within the limit in one put of a Buffer', async () => {
    const { store, puts } = recordingStore();
    const body = randomBytes(10_000);
    const sink = new SpillingPut(store, 'uploads/small', 64 * 1024);
    await pipeline(chunked(body), sink);
    assert.equal((await sink.stored).size, body.length);
    assert.deepEqual(puts, ['buffer']);
    assert.deepEqual(await getBuffer(store, 'uploads/small'), body);
  });

  it('streams a body past the limit, starting with what it held', async () => {
    const { store, puts } = recordingStore();
    const body = randomBytes(200_000);
    const sink = new SpillingPut(store, 'uploads/large', 64 * 1024);
    await pipeline(chunked(body), sink);
    assert.deepEqual(puts, ['stream']);
    assert.deepEqual(await getBuffer(store, 'uploads/large', 1024 * 1024), body);
  });

  it('streams at once when the declared size is over the limit, and the store still checks that size', async () => {
    const { store, puts } = recordingStore();
    const sink = new SpillingPut(store, 'uploads/declared', 1024, 5000);
    await assert.rejects(pipeline(chunked(randomBytes(4000)), sink), { code: 'BAD_REQUEST' });
    assert.deepEqual(puts, ['stream']);
    await assert.rejects(getBuffer(store, 'uploads/declared'), (err: unknown) => isNotFound(err));
  });

  it('stores nothing when the body is cut off before it ends', async () => {
    const { store, puts } = recordingStore();
    const sink = new SpillingPut(store, 'uploads/cut', 64 * 1024);
    const source = new Readable({ read() {} });
    const feeding = pipeline(source, sink);
    source.push(randomBytes(1000));
    source.destroy(new Error('client went away'));
    await assert.rejects(feeding, /client went away/);
    await assert.rejects(sink.stored);
    assert.deepEqual(puts, []);
    await assert.rejects(getBuffer(store, 'uploads/cut'), (err: unknown) => isNotFound(err));
  });
});
