import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { OciLayoutTarget } from '../../src/image/layout/target.js';
import { OciImageBuilder } from '../../src/image/oci/builder.js';
import { Registries } from '../../src/image/registry/registries.js';
import type { OciBuiltImage } from '../../src/image/types.js';
import { keys } from '../../src/domain/keys.js';
import { services } from '../support/services.js';
import { uniqueName } from '../support/unique.js';
import { buildRequest, deleteManifest, docker, fetchManifest, logger, putTree, sha256, tempStore, testContext } from './helpers.js';

const MiB = 1024 * 1024;

function skopeo(args: string[]): string {
  return execFileSync('skopeo', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('oci-layout target', () => {
  let env: Awaited<ReturnType<typeof tempStore>>;
  let builder: OciImageBuilder;
  let target: OciLayoutTarget;
  let root: string;
  const cleanups: (() => Promise<void> | void)[] = [];

  before(async () => {
    env = await tempStore('layout');
    root = path.join(env.dir, 'images');
    const registries = new Registries({ logger });
    builder = new OciImageBuilder({ store: env.store, logger, registries, runtimes: { python: services.baseImages().python }, compression: 'none' });
    target = new OciLayoutTarget({ store: env.store, logger, registries, root });
  });
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
    await env.cleanup();
  });

  it('writes a layout that skopeo inspects and copies to a registry, and Docker runs', async () => {
    const model = uniqueName('layout');
    const tree = await putTree(env.store, [{ path: 'w.bin', content: 5 * MiB }, { path: 'conf.yaml', content: 'a: 1\n' }]);
    const req = buildRequest(model, tree);
    const planned = await builder.build(req, testContext()) as OciBuiltImage;
    await target.check();
    const published = await target.publish(planned, { repository: model, tag: '1' }, testContext());
    const dir = path.join(root, model);
    assert.equal(published.reference, `oci:${dir}:1`);
    const image = await builder.build(req, testContext()) as OciBuiltImage;
    assert.equal(image.manifestDigest, published.digest);

    assert.deepEqual(JSON.parse(await fs.readFile(path.join(dir, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(await fs.readFile(path.join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations: Record<string, string> }[] };
    assert.deepEqual(index.manifests.map((m) => [m.digest, m.annotations['org.opencontainers.image.ref.name']]), [[image.manifestDigest, '1']]);
    for (const blob of [image.manifestDigest!, image.configDigest!, ...image.layers.map((l) => l.digest!)]) {
      const bytes = await fs.readFile(path.join(dir, 'blobs', 'sha256', blob.slice(7)));
      assert.equal(sha256(bytes), blob, `blob ${blob} holds its bytes`);
    }

    const inspected = JSON.parse(skopeo(['inspect', `oci:${dir}:1`])) as { Digest: string; Labels: Record<string, string>; Layers: string[] };
    assert.equal(inspected.Digest, image.manifestDigest);
    assert.equal(inspected.Labels['ai.mll.model.name'], model);
    assert.deepEqual(inspected.Layers, image.layers.map((l) => l.digest));
    assert.equal(sha256(Buffer.from(skopeo(['inspect', '--raw', `oci:${dir}:1`]))), image.manifestDigest);

    const registry = services.registry();
    const remote = `${registry}/${model}:1`;
    // A plain copy is accepted (skopeo gzips uncompressed layers for a registry, so the digest changes)…
    skopeo(['copy', '--quiet', '--dest-tls-verify=false', `oci:${dir}:1`, `docker://${registry}/${model}:plain`]);
    const plain = await fetchManifest(registry, model, 'plain');
    cleanups.push(() => deleteManifest(registry, model, plain.digest));
    assert.equal(plain.status, 200);
    assert.equal((plain.json as { layers: unknown[] }).layers.length, image.layers.length);
    // …and with --preserve-digests the registry gets exactly the image we built.
    skopeo(['copy', '--quiet', '--preserve-digests', '--dest-tls-verify=false', `oci:${dir}:1`, `docker://${remote}`]);
    cleanups.push(() => deleteManifest(registry, model, published.digest));
    assert.equal((await fetchManifest(registry, model, '1')).digest, image.manifestDigest, 'skopeo kept the manifest as is');
    docker(['pull', '-q', remote]);
    cleanups.push(() => { try { docker(['rmi', '-f', remote]); } catch { /* gone */ } });
    assert.equal(docker(['run', '--rm', remote, 'cat', '/model/contract.protobin']), req.contract.protobin.toString());
  });

  it('adds versions as tags, skips blobs present, and shares runtime layers between models', async () => {
    const model = uniqueName('layout');
    const other = uniqueName('layout');
    const tree = await putTree(env.store, [{ path: 'w.bin', content: 5 * MiB }]);
    const v1 = await builder.build(buildRequest(model, tree, { version: 1 }), testContext()) as OciBuiltImage;
    const v2 = await builder.build(buildRequest(model, tree, { version: 2 }), testContext()) as OciBuiltImage;
    await target.publish(v1, { repository: model, tag: '1' }, testContext());
    const ctx = testContext();
    const p2 = await target.publish(v2, { repository: model, tag: '2' }, ctx);
    assert.match(ctx.lines.at(-1)!, new RegExp(`: 1 blobs written \\(.*\\), ${v2.layers.length} already present$`));
    const tags = JSON.parse(await fs.readFile(path.join(root, model, 'index.json'), 'utf8')).manifests
      .map((m: { annotations: Record<string, string> }) => m.annotations['org.opencontainers.image.ref.name']);
    assert.deepEqual(tags, ['1', '2']);
    assert.equal(JSON.parse(skopeo(['inspect', `oci:${path.join(root, model)}:2`])).Digest, p2.digest);

    const o1 = await builder.build(buildRequest(other, tree), testContext()) as OciBuiltImage;
    await target.publish(o1, { repository: other, tag: '1' }, testContext());
    const baseLayer = o1.layers.find((l) => l.source.kind === 'base')!;
    const a = await fs.stat(path.join(root, model, 'blobs', 'sha256', baseLayer.digest!.slice(7)));
    const b = await fs.stat(path.join(root, other, 'blobs', 'sha256', baseLayer.digest!.slice(7)));
    assert.equal(a.ino, b.ino, 'the runtime layer is one file, linked into both layouts');
  });

  it('keeps every tag when versions are published concurrently', async () => {
    const model = uniqueName('layout');
    const tree = await putTree(env.store, [{ path: 'f.txt', content: 'same' }]);
    const images = await Promise.all([1, 2, 3, 4, 5, 6].map((v) => builder.build(buildRequest(model, tree, { version: v }), testContext())));
    const published = await Promise.all(images.map((img, i) => target.publish(img, { repository: model, tag: String(i + 1) }, testContext())));
    const index = JSON.parse(await fs.readFile(path.join(root, model, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations: Record<string, string> }[] };
    assert.deepEqual(index.manifests.map((m) => m.annotations['org.opencontainers.image.ref.name']), ['1', '2', '3', '4', '5', '6']);
    assert.deepEqual(index.manifests.map((m) => m.digest), published.map((p) => p.digest));
    assert.equal(new Set(published.map((p) => p.digest)).size, 6);
    assert.equal((await fs.readdir(path.join(root, '.tmp'))).length, 0, 'no temp files left');
  });

  it('links the config and manifest the fs store keeps instead of copying them, and its index lock leaves nothing behind', async () => {
    const model = uniqueName('layout');
    const tree = await putTree(env.store, [{ path: 'h.txt', content: `linked ${model}` }]);
    const img = await builder.build(buildRequest(model, tree), testContext()) as OciBuiltImage;
    const published = await target.publish(img, { repository: model, tag: '1' }, testContext());
    const blobs = path.join(root, model, 'blobs', 'sha256');
    const inode = async (file: string) => (await fs.stat(file)).ino;
    const stored = (digest: string) => env.store.localPath(keys.blob(digest));
    assert.equal(await inode(path.join(blobs, img.configDigest!.slice(7))), await inode(stored(img.configDigest!)), 'the config is the store\'s file');
    assert.equal(await inode(path.join(blobs, published.digest.slice(7))), await inode(stored(published.digest)), 'the manifest is the store\'s file');
    assert.deepEqual((await fs.readdir(path.join(root, model))).sort(), ['blobs', 'index.json', 'oci-layout']);
    assert.equal((await fs.stat(path.join(root, model, 'oci-layout'))).nlink, 1, 'the lock (a second name of oci-layout) is gone');
    assert.equal(JSON.parse(skopeo(['inspect', `oci:${path.join(root, model)}:1`])).Digest, published.digest);
  });

  it('makes a layout again when it was removed after this process wrote to it (and the temp directory too)', async () => {
    const model = uniqueName('layout');
    const tree = await putTree(env.store, [{ path: 'g.txt', content: 'removed and back' }]);
    const first = await target.publish(await builder.build(buildRequest(model, tree), testContext()), { repository: model, tag: '1' }, testContext());
    await fs.rm(path.join(root, model), { recursive: true });
    await fs.rm(path.join(root, '.tmp'), { recursive: true });
    const again = await target.publish(await builder.build(buildRequest(model, tree, { version: 2 }), testContext()), { repository: model, tag: '2' }, testContext());
    const dir = path.join(root, model);
    assert.deepEqual(JSON.parse(await fs.readFile(path.join(dir, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
    const tags = JSON.parse(await fs.readFile(path.join(dir, 'index.json'), 'utf8')).manifests
      .map((m: { annotations: Record<string, string> }) => m.annotations['org.opencontainers.image.ref.name']);
    assert.deepEqual(tags, ['2'], 'the removed tag is gone with its layout; the new one is there');
    assert.notEqual(again.digest, first.digest);
    assert.equal(JSON.parse(skopeo(['inspect', `oci:${dir}:2`])).Digest, again.digest);
  });

  it('leaves no temp file behind when a blob cannot be written whole', async () => {
    const model = uniqueName('layout');
    const tree = await putTree(env.store, [{ path: 'big.bin', content: 300 * 1024 }]);
    const planned = await builder.build(buildRequest(model, tree), testContext()) as OciBuiltImage;
    // The content blob turns out shorter than the tree says: the layer's stream fails part way.
    const file = tree.entries[0] as { digest: string };
    await env.store.put(keys.blob(file.digest), Buffer.alloc(1000));
    const before = await fs.readdir(path.join(root, '.tmp')).catch(() => [] as string[]);
    await assert.rejects(target.publish(planned, { repository: model, tag: '1' }, testContext()));
    assert.deepEqual(await fs.readdir(path.join(root, '.tmp')), before, 'no temp file left');
  });

  it('refuses a repository name that is not a safe directory name', async () => {
    const image = await builder.build(buildRequest(uniqueName('layout'), { entries: [] }), testContext());
    await assert.rejects(target.publish(image, { repository: '../escape', tag: '1' }, testContext()), { code: 'BAD_REQUEST' });
  });
});
