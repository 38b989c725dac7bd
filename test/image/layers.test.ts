import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { keys } from '../../src/domain/keys.js';
import type { TreeManifest } from '../../src/domain/tree.js';
import { segmentStream } from '../../src/image/oci/layer-stream.js';
import { computeLayer, LARGE_FILE_BYTES, MAX_MODEL_LAYERS, planModelLayers } from '../../src/image/oci/layers.js';
import { segmentsSize, tarSegments } from '../../src/image/oci/tar.js';
import { getBuffer } from '../../src/storage/object-store.js';
import { putTree, sha256, tempStore } from './helpers.js';

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

describe('computeLayer', () => {
  let ctx: Awaited<ReturnType<typeof tempStore>>;
  let t: TreeManifest;
  before(async () => {
    ctx = await tempStore('layers');
    t = await putTree(ctx.store, [{ path: 'big.bin', content: 5 * 1024 * 1024 }, { path: 'README', content: 'readme text '.repeat(1000) }]);
  });
  after(() => ctx.cleanup());

  it('hashes a new layer once, then knows it without reading the content again', async () => {
    const plan = planModelLayers(t, contract)[1]!;
    const first = await computeLayer(ctx.store, plan.entries, { compression: 'none' });
    assert.equal(first.cached, false);
    const segs = tarSegments(plan.entries);
    const bytes = await collect(segmentStream(ctx.store, segs, { start: 0, end: segmentsSize(segs) }));
    assert.equal(first.record.digest, sha256(bytes));
    assert.equal(first.record.size, bytes.length);
    assert.equal(first.record.diffId, first.record.digest);

    // Remove the content: the second computation must not need it.
    const file = t.entries.find((e) => e.path === 'big.bin')!;
    const saved = await getBuffer(ctx.store, keys.blob((file as { digest: string }).digest), 64 * 1024 * 1024);
    await ctx.store.delete(keys.blob((file as { digest: string }).digest));
    try {
      const second = await computeLayer(ctx.store, plan.entries, { compression: 'none' });
      assert.equal(second.cached, true);
      assert.deepEqual(second.record, first.record);
    } finally {
      await ctx.store.put(keys.blob((file as { digest: string }).digest), saved);
    }
  });

  it('stores gzip layers whole and records the uncompressed diff id', async () => {
    const plan = planModelLayers(t, contract)[0]!;
    const plain = await computeLayer(ctx.store, plan.entries, { compression: 'none' });
    const gz = await computeLayer(ctx.store, plan.entries, { compression: 'gzip', scratchDir: ctx.dir });
    assert.equal(gz.record.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
    assert.equal(gz.record.diffId, plain.record.digest);
    assert.ok(gz.record.size < plain.record.size, 'text compresses');
    const stored = await ctx.store.get(keys.blob(gz.record.digest));
    const unpacked = await collect(stored.pipe(createGunzip()));
    assert.equal(sha256(unpacked), plain.record.digest);
    const again = await computeLayer(ctx.store, plan.entries, { compression: 'gzip', scratchDir: ctx.dir });
    assert.equal(again.cached, true);
    assert.equal(again.record.digest, gz.record.digest);
  });
});
