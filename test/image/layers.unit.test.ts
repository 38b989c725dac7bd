import { execFileSync, spawnSync } from 'node:child_process';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { keys } from '../../src/domain/keys.js';
import type { TreeManifest } from '../../src/domain/tree.js';
import { segmentStream } from '../../src/image/oci/layer-stream.js';
import { HASH_AT_BUILD_BYTES, LARGE_FILE_BYTES, MAX_MODEL_LAYERS, layerRecordKey, planModelLayers, prepareLayer, recordLayerDigest } from '../../src/image/oci/layers.js';
import { segmentsSize, tarSegments } from '../../src/image/oci/tar.js';
import { getBuffer } from '../../src/storage/object-store.js';
import { putTree, sha256, tempStore } from './helpers.js';

const zstdMissing = spawnSync('zstd', ['--version']).status !== 0;

const contract = { digest: `sha256:${'c'.repeat(64)}`, size: 10 };
const fakeDigest = (i: number) => `sha256:${i.toString(16).padStart(64, '0')}`;

function tree(sizes: Record<string, number>): TreeManifest {
  return {
    entries: Object.entries(sizes).sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([p, size], i) => ({ type: 'file' as const, path: p, mode: 0o644, size, digest: fakeDigest(i + 1) })),
  };
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

describe('planModelLayers', () => {
  it('puts small files together, each large file alone, the contract last', () => {
    const plans = planModelLayers(tree({
      'a/config.json': 100, 'weights/b.bin': LARGE_FILE_BYTES, 'weights/a.bin': LARGE_FILE_BYTES * 3, 'vocab.txt': LARGE_FILE_BYTES - 1,
    }), contract);
    assert.deepEqual(plans.map((p) => [p.role, p.description]), [
      ['files', '2 small files'], ['file', 'weights/a.bin'], ['file', 'weights/b.bin'], ['contract', 'contract.protobin'],
    ]);
    assert.deepEqual(plans[1]!.entries.map((e) => e.path), ['model', 'model/files', 'model/files/weights', 'model/files/weights/a.bin']);
    assert.deepEqual(plans[3]!.entries.map((e) => e.path), ['model', 'model/contract.protobin']);
    assert.deepEqual(plans[0]!.entries.map((e) => e.path), ['model', 'model/files', 'model/files/a', 'model/files/a/config.json', 'model/files/vocab.txt']);
  });

  it('caps the layer count: the largest files keep their own layers, the rest share', () => {
    const sizes: Record<string, number> = {};
    for (let i = 0; i < 100; i++) sizes[`w/${String(i).padStart(3, '0')}.bin`] = LARGE_FILE_BYTES + i;
    const plans = planModelLayers(tree(sizes), contract);
    assert.equal(plans.length, MAX_MODEL_LAYERS);
    const own = plans.filter((p) => p.role === 'file').map((p) => p.description);
    assert.equal(own.length, MAX_MODEL_LAYERS - 2);
    assert.ok(own.includes('w/099.bin') && !own.includes('w/000.bin'));
    assert.equal(plans[0]!.description, `${100 - own.length} small files`);
  });

  it('keeps an empty tree as a files layer with /model/files', () => {
    const plans = planModelLayers({ entries: [] }, contract);
    assert.deepEqual(plans[0]!.entries.map((e) => e.path), ['model', 'model/files']);
  });
});

describe('prepareLayer', () => {
  let ctx: Awaited<ReturnType<typeof tempStore>>;
  let t: TreeManifest;
  before(async () => {
    ctx = await tempStore('layers');
    t = await putTree(ctx.store, [{ path: 'big.bin', content: 5 * 1024 * 1024 }, { path: 'README', content: 'readme text '.repeat(1000) }]);
  });
  after(() => ctx.cleanup());

  it('leaves a new uncompressed layer pending, sized from its entries, until its digest is recorded', async () => {
    const plan = planModelLayers(t, contract)[1]!;
    const segs = tarSegments(plan.entries);
    const bytes = await collect(segmentStream(ctx.store, segs, { start: 0, end: segmentsSize(segs) }));
    const pending = await prepareLayer(ctx.store, plan.entries, { compression: 'none' });
    assert.equal(pending.state, 'pending');
    assert.equal(pending.record.digest, null);
    assert.equal(pending.record.size, bytes.length);
    assert.equal((await prepareLayer(ctx.store, plan.entries, { compression: 'none' })).state, 'pending');
    const known = await recordLayerDigest(ctx.store, pending.key, sha256(bytes));
    assert.equal(known.diffId, sha256(bytes));

    // Remove the content: from now on the layer is known without reading it.
    const file = t.entries.find((e) => e.path === 'big.bin') as { digest: string };
    const saved = await getBuffer(ctx.store, keys.blob(file.digest), 64 * 1024 * 1024);
    await ctx.store.delete(keys.blob(file.digest));
    try {
      const again = await prepareLayer(ctx.store, plan.entries, { compression: 'none' });
      assert.equal(again.state, 'known');
      assert.equal(again.record.digest, sha256(bytes));
    } finally {
      await ctx.store.put(keys.blob(file.digest), saved);
    }
    await assert.rejects(recordLayerDigest(ctx.store, pending.key, sha256('other')), { code: 'INTERNAL' });
  });

  it('hashes a new small uncompressed layer at once (up to HASH_AT_BUILD_BYTES), a larger one only when eager', async () => {
    // A tree of its own: the other tests' layers stay new for them.
    const own = await putTree(ctx.store, [{ path: 'big.bin', content: LARGE_FILE_BYTES + 1 }, { path: 'NOTES', content: 'small and new' }]);
    const [small, big] = [planModelLayers(own, contract)[0]!, planModelLayers(own, contract)[1]!];
    const sizeOf = (entries: typeof small.entries) => segmentsSize(tarSegments(entries));
    assert.ok(sizeOf(small.entries) <= HASH_AT_BUILD_BYTES && sizeOf(big.entries) > HASH_AT_BUILD_BYTES);
    const bytes = await collect(segmentStream(ctx.store, tarSegments(small.entries), { start: 0, end: sizeOf(small.entries) }));
    const hashed = await prepareLayer(ctx.store, small.entries, { compression: 'none' });
    assert.equal(hashed.state, 'hashed');
    assert.equal(hashed.record.digest, sha256(bytes));
    assert.equal(hashed.record.diffId, sha256(bytes));
    assert.equal((await prepareLayer(ctx.store, small.entries, { compression: 'none' })).state, 'known');
    assert.equal((await prepareLayer(ctx.store, big.entries, { compression: 'none' })).state, 'pending');
  });

  it('hashes at once when asked (eager), with the same digest', async () => {
    const plan = planModelLayers(t, contract)[0]!;
    const segs = tarSegments(plan.entries);
    const bytes = await collect(segmentStream(ctx.store, segs, { start: 0, end: segmentsSize(segs) }));
    const eager = await prepareLayer(ctx.store, plan.entries, { compression: 'none', eager: true });
    assert.equal(eager.state, 'hashed');
    assert.equal(eager.record.digest, sha256(bytes));
    assert.equal((await prepareLayer(ctx.store, plan.entries, { compression: 'none' })).state, 'known');
  });

  it('stores gzip layers whole and records the uncompressed diff id', async () => {
    const plan = planModelLayers(t, contract)[0]!;
    const plain = await prepareLayer(ctx.store, plan.entries, { compression: 'none', eager: true });
    const gz = await prepareLayer(ctx.store, plan.entries, { compression: 'gzip', scratchDir: ctx.dir });
    assert.equal(gz.state, 'hashed');
    assert.equal(gz.record.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
    assert.equal(gz.record.diffId, plain.record.digest);
    assert.ok(gz.record.size < plain.record.size, 'text compresses');
    const stored = await ctx.store.get(keys.blob(gz.record.digest!));
    const unpacked = await collect(stored.pipe(createGunzip()));
    assert.equal(sha256(unpacked), plain.record.digest);
    const again = await prepareLayer(ctx.store, plan.entries, { compression: 'gzip', scratchDir: ctx.dir });
    assert.equal(again.state, 'known');
    assert.equal(again.record.digest, gz.record.digest);
    await ctx.store.delete(keys.blob(gz.record.digest!));
    assert.equal((await prepareLayer(ctx.store, plan.entries, { compression: 'gzip', scratchDir: ctx.dir })).state, 'hashed', 'a gzip layer whose bytes are gone is made again');
  });

  it('stores zstd layers whole (zstd on every core), the same bytes whatever the threads, with the uncompressed diff id', { skip: zstdMissing && 'the zstd program is not installed (scripts/services/test-deps.sh installs it)' }, async () => {
    const plan = planModelLayers(t, contract)[0]!;
    const plain = await prepareLayer(ctx.store, plan.entries, { compression: 'none', eager: true });
    const zst = await prepareLayer(ctx.store, plan.entries, { compression: 'zstd', scratchDir: ctx.dir });
    assert.equal(zst.state, 'hashed');
    assert.equal(zst.record.mediaType, 'application/vnd.oci.image.layer.v1.tar+zstd');
    assert.equal(zst.record.diffId, plain.record.digest);
    const packed = await collect(await ctx.store.get(keys.blob(zst.record.digest!)));
    assert.equal(sha256(execFileSync('zstd', ['-d', '-q', '-c'], { input: packed })), plain.record.digest, 'zstd -d gives the uncompressed layer');
    assert.equal(sha256(execFileSync('zstd', ['-3', '-T1', '-q', '-c'], { input: execFileSync('zstd', ['-d', '-q', '-c'], { input: packed }) })), zst.record.digest, 'one thread makes the same bytes');
    await ctx.store.delete(keys.blob(zst.record.digest!));
    await ctx.store.delete(layerRecordKey(plan.entries, 'zstd'));
    const again = await prepareLayer(ctx.store, plan.entries, { compression: 'zstd', scratchDir: ctx.dir });
    assert.equal(again.record.digest, zst.record.digest, 'made again, the same digest');
  });
});
