import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { OciImageBuilder } from '../../src/image/oci/builder.js';
import { Registries } from '../../src/image/registry/registries.js';
import { RegistryTarget } from '../../src/image/registry/target.js';
import type { OciBuiltImage } from '../../src/image/types.js';
import { services } from '../support/services.js';
import { startPrivateRegistry } from '../support/registry.js';
import { uniqueName } from '../support/unique.js';
import { startCountingProxy, type CountingProxy } from './proxy.js';
import {
  buildRequest, countReads, deleteManifest, docker, fetchManifest, logger, putTree, tempStore, testContext,
} from './helpers.js';

const MiB = 1024 * 1024;

describe('oci builder + registry target, against the shared registry', () => {
  let env: Awaited<ReturnType<typeof tempStore>>;
  let registry: string;
  let basePython: string;
  const pushed: { host: string; repo: string; digest: string }[] = [];
  const pulled: string[] = [];

  before(async () => {
    env = await tempStore('regtarget');
    registry = services.registry();
    basePython = services.baseImages().python;
  });
  after(async () => {
    for (const ref of pulled) { try { docker(['rmi', '-f', ref]); } catch { /* gone */ } }
    for (const p of pushed) await deleteManifest(p.host, p.repo, p.digest);
    await env.cleanup();
  });

  function setup(host: string, runtimes: Record<string, string>, opts: { chunkSize?: number } = {}) {
    const registries = new Registries({ logger });
    const builder = new OciImageBuilder({ store: env.store, logger, registries, runtimes, compression: 'none' });
    const target = new RegistryTarget({ store: env.store, logger, registries, registry: host, chunkSize: opts.chunkSize });
    return { builder, target };
  }

  it('pushes an image that Docker pulls and runs, with its labels', async () => {
    const model = uniqueName('img');
    const tree = await putTree(env.store, [
      { path: 'weights/model.bin', content: 5 * MiB },
      { path: 'config.json', content: '{"layers": 2}' },
      { path: 'bin/serve.sh', content: '#!/bin/sh\necho serving\n', mode: 0o755 },
      { path: 'latest', symlink: 'weights/model.bin' },
    ]);
    const { builder, target } = setup(registry, { python: basePython });
    const req = buildRequest(model, tree, { version: 3 });
    const planned = await builder.build(req, testContext()) as OciBuiltImage;
    assert.equal(planned.manifestDigest, null, 'new layers are hashed by the first publish');
    assert.equal(planned.modelOnly, false);
    assert.equal(planned.base?.reference, basePython);
    assert.match(planned.base!.digest, /^sha256:[a-f0-9]{64}$/);
    const ctx = testContext();
    const published = await target.publish(planned, { repository: model, tag: '3' }, ctx);
    pushed.push({ host: registry, repo: model, digest: published.digest });
    assert.equal(published.reference, `${registry}/${model}:3`);
    const image = await builder.build(req, testContext()) as OciBuiltImage;
    assert.equal(image.manifestDigest, published.digest, 'a rebuild knows every digest the publish computed');
    assert.ok(ctx.lines.some((l) => l.startsWith('mounted ')), 'base layers are mounted, not copied');

    const served = await fetchManifest(registry, model, '3');
    assert.equal(served.status, 200);
    assert.equal(served.digest, image.manifestDigest);
    assert.equal(served.header, image.manifestDigest);

    pulled.push(published.reference);
    docker(['pull', '-q', published.reference]);
    const contract = docker(['run', '--rm', published.reference, 'cat', '/model/contract.protobin']);
    assert.equal(contract, req.contract.protobin.toString());
    const listing = docker(['run', '--rm', published.reference, 'sh', '-c', 'cd /model/files && find . | sort && stat -c "%n %a" bin/serve.sh config.json && readlink latest']);
    assert.match(listing, /\.\/weights\/model\.bin/);
    assert.match(listing, /bin\/serve\.sh 755/);
    assert.match(listing, /config\.json 644/);
    assert.match(listing, /\nweights\/model\.bin\n$/);
    const labels = JSON.parse(docker(['inspect', '--format', '{{json .Config.Labels}}', published.reference])) as Record<string, string>;
    assert.equal(labels['ai.mll.model.name'], model);
    assert.equal(labels['ai.mll.model.version'], '3');
    assert.equal(labels['ai.mll.model.type'], 'python:3.11');
    assert.equal(labels['ai.mll.contract.digest'], req.contract.digest);
    assert.equal(labels['org.opencontainers.image.version'], '3');
    assert.equal(labels['org.opencontainers.image.base.name'], basePython);
    assert.equal(labels.team, 'tests');
    assert.equal(labels['ai.mll.runtime'], 'python', 'the runtime labels are kept');
    const manifest = served.json as { annotations: Record<string, string>; mediaType: string };
    assert.equal(manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(manifest.annotations['org.opencontainers.image.title'], model);
  });

  it('gives the same manifest digest for the same inputs, whoever hashes the layers, even from another store', async () => {
    const model = uniqueName('img');
    const spec = [{ path: 'a.bin', content: Buffer.alloc(6 * MiB, 3) }, { path: 'b.txt', content: model }];
    const other = await tempStore('regtarget-other');
    try {
      const a = setup(registry, { python: basePython });
      const first = await a.builder.build(buildRequest(model, await putTree(env.store, spec)), testContext()) as OciBuiltImage;
      const published = await a.target.publish(first, { repository: model, tag: '1' }, testContext());
      pushed.push({ host: registry, repo: model, digest: published.digest });
      const again = await a.builder.build(buildRequest(model, await putTree(env.store, spec)), testContext()) as OciBuiltImage;
      assert.equal(again.manifestDigest, published.digest);
      // Another store, hashing in the build instead of the publish: the same digest, before any push.
      const fresh = new OciImageBuilder({
        store: other.store, logger, registries: new Registries({ logger }), runtimes: { python: basePython }, compression: 'none', hashAtBuild: true,
      });
      const third = await fresh.build(buildRequest(model, await putTree(other.store, spec)), testContext()) as OciBuiltImage;
      assert.equal(third.manifestDigest, published.digest);
      const v2 = await a.builder.build(buildRequest(model, await putTree(env.store, spec), { version: 2 }), testContext()) as OciBuiltImage;
      assert.ok(v2.manifestDigest && v2.manifestDigest !== published.digest, 'the version is a label');
      assert.deepEqual(v2.layers.map((l) => l.digest), again.layers.map((l) => l.digest), 'but every layer is the same');
    } finally {
      await other.cleanup();
    }
  });

  it('copies the runtime\'s layers from its own registry when pushing to another one', async () => {
    const other = await startPrivateRegistry();
    try {
      const model = uniqueName('img');
      const tree = await putTree(env.store, [{ path: 'w.txt', content: 'weights' }]);
      const { builder, target } = setup(other.host, { python: basePython });
      const image = await builder.build(buildRequest(model, tree), testContext()) as OciBuiltImage;
      const ctx = testContext();
      const published = await target.publish(image, { repository: model, tag: '1' }, ctx);
      const base = image.layers.find((l) => l.source.kind === 'base')!;
      assert.ok(ctx.lines.some((l) => l.startsWith(`uploaded ${base.digest}`)), 'the runtime layer was copied, not mounted');
      pulled.push(published.reference);
      docker(['pull', '-q', published.reference]);
      assert.equal(docker(['run', '--rm', published.reference, 'cat', '/model/files/w.txt']), 'weights');
    } finally {
      await other.dispose();
    }
  });

  describe('through a counting proxy', () => {
    let proxy: CountingProxy;
    before(async () => { proxy = await startCountingProxy(registry); });
    after(() => proxy.close());

    it('sends no payload bytes for an unchanged payload, and only the changed file of thirty', async () => {
      const model = uniqueName('img');
      const spec = Array.from({ length: 30 }, (_, i) => ({ path: `shards/part-${String(i).padStart(2, '0')}.bin`, content: 5 * MiB }));
      const tree = await putTree(env.store, spec);
      // The runtime is named through the proxy too, so base layers can be mounted.
      const runtime = basePython.replace(registry, proxy.host);
      const { builder, target } = setup(proxy.host, { python: runtime });

      const reads = countReads(env.store);
      const v1 = await builder.build(buildRequest(model, tree, { version: 1 }), testContext()) as OciBuiltImage;
      assert.equal(reads.payloadBytes(tree), 0, 'the build reads no payload byte');
      proxy.reset();
      const p1 = await target.publish(v1, { repository: model, tag: '1' }, testContext());
      pushed.push({ host: registry, repo: model, digest: p1.digest });
      assert.ok(proxy.uploadedBytes() >= 30 * 5 * MiB, `cold push uploads the payload (${proxy.uploadedBytes()})`);
      assert.equal(reads.payloadBytes(tree), 30 * 5 * MiB, 'build + push read the new payload exactly once');
      reads.stop();

      const v2 = await builder.build(buildRequest(model, tree, { version: 2 }), testContext()) as OciBuiltImage;
      assert.ok(v2.manifestDigest, 'an unchanged payload builds a complete image');
      proxy.reset();
      const ctx = testContext();
      const p2 = await target.publish(v2, { repository: model, tag: '2' }, ctx);
      pushed.push({ host: registry, repo: model, digest: p2.digest });
      const modelLayerDigests = v2.layers.filter((l) => l.source.kind === 'recipe').map((l) => l.digest!);
      const uploads = proxy.requests.filter((r) => r.method === 'PUT' && r.path.includes('/blobs/uploads/'));
      assert.equal(uploads.length, 1, 'only the new config is uploaded');
      assert.ok(!uploads.some((r) => modelLayerDigests.some((d) => r.path.includes(encodeURIComponent(d)))));
      assert.equal(proxy.uploadedBytes(), v2.configSize, 'unchanged payload: only the config bytes go up');
      assert.equal((await fetchManifest(registry, model, '2')).digest, v2.manifestDigest);

      // Version 3 changes one shard: one layer of the payload goes up.
      const changed = await putTree(env.store, [{ path: 'shards/part-07.bin', content: 5 * MiB }]);
      const tree3 = { entries: tree.entries.map((e) => (e.path === 'shards/part-07.bin' ? changed.entries[0]! : e)) };
      const v3 = await builder.build(buildRequest(model, tree3, { version: 3 }), testContext()) as OciBuiltImage;
      proxy.reset();
      const p3 = await target.publish(v3, { repository: model, tag: '3' }, testContext());
      pushed.push({ host: registry, repo: model, digest: p3.digest });
      const bytes = proxy.uploadedBytes();
      assert.ok(bytes > 5 * MiB && bytes < 5 * MiB + 64 * 1024, `one shard uploaded (${bytes} bytes)`);

      // Republishing the same built image (as a retried push does) uploads nothing at all.
      proxy.reset();
      assert.equal((await target.publish(v3, { repository: model, tag: '3' }, testContext())).digest, p3.digest);
      assert.equal(proxy.uploadedBytes(), 0);
    });

    it('uploads in resumable PATCH chunks above the chunk size', async () => {
      const model = uniqueName('img');
      const tree = await putTree(env.store, [{ path: 'w.bin', content: 9 * MiB }]);
      const { builder, target } = setup(proxy.host, {}, { chunkSize: 4 * MiB });
      const image = await builder.build(buildRequest(model, tree), testContext()) as OciBuiltImage;
      assert.equal(image.modelOnly, true);
      proxy.reset();
      const published = await target.publish(image, { repository: model, tag: '1' }, testContext());
      pushed.push({ host: registry, repo: model, digest: published.digest });
      const patches = proxy.requests.filter((r) => r.method === 'PATCH' && r.bodyBytes > 64 * 1024);
      assert.equal(patches.length, 3, '9 MiB (plus headers) in 4 MiB chunks');
      assert.ok(patches.every((p) => p.bodyBytes <= 4 * MiB));
      assert.equal((await fetchManifest(registry, model, '1')).digest, published.digest);
    });
  });
});
