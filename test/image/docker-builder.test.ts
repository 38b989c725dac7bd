import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type Docker from 'dockerode';
import { keys } from '../../src/domain/keys.js';
import { DockerImageBuilder } from '../../src/image/docker/builder.js';
import { createDocker } from '../../src/image/docker/engine.js';
import { OciImageBuilder } from '../../src/image/oci/builder.js';
import { Registries } from '../../src/image/registry/registries.js';
import { RegistryTarget } from '../../src/image/registry/target.js';
import type { DockerBuiltImage, OciBuiltImage } from '../../src/image/types.js';
import { services } from '../support/services.js';
import { uniqueName } from '../support/unique.js';
import { buildRequest, deleteManifest, docker, fetchManifest, logger, putTree, tempStore, testContext, varietyTree } from './helpers.js';

const MiB = 1024 * 1024;
// Every path, type, mode and size under /model, the content hash of each file and each link's target.
const treeScript = [
  'cd /model',
  'find . | sort | while read -r f; do if [ -f "$f" ] && [ ! -L "$f" ]; then stat -c "%n %F %a %s" "$f"; else stat -c "%n %F %a" "$f"; fi; done',
  'find . -type f | sort | xargs sha256sum',
  'find . -type l | sort | while read -r f; do echo "$f -> $(readlink "$f")"; done',
].join(' && ');

/** The real engine, counting the images read out of it (`docker save`). */
function countingSaves(make: () => Docker): { docker: () => Docker; saves: () => number } {
  let saves = 0;
  const docker = () => {
    const engine = make();
    const getImage = engine.getImage.bind(engine);
    engine.getImage = (name: string) => {
      const image = getImage(name);
      const get = image.get.bind(image) as () => Promise<NodeJS.ReadableStream>;
      Object.assign(image, { get: () => (saves++, get()) });
      return image;
    };
    return engine;
  };
  return { docker, saves: () => saves };
}

describe('docker builder (dockerode)', () => {
  let env: Awaited<ReturnType<typeof tempStore>>;
  let registry: string;
  const cleanups: (() => Promise<void> | void)[] = [];
  const dockerClient = () => createDocker(services.dockerHost());

  before(async () => {
    env = await tempStore('dockerbuild');
    registry = services.registry();
  });
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
    await env.cleanup();
  });

  function rmi(ref: string) {
    cleanups.push(() => { try { docker(['rmi', '-f', ref]); } catch { /* gone */ } });
  }

  it('builds FROM the runtime with the same files, contract and labels as the oci builder', async () => {
    const model = uniqueName('dock');
    const tree = await putTree(env.store, varietyTree);
    const req = buildRequest(model, tree, { version: 7 });
    const registries = new Registries({ logger });
    const runtimes = { python: services.baseImages().python };
    const target = new RegistryTarget({ store: env.store, logger, registries, registry });

    const dockerBuilder = new DockerImageBuilder({ store: env.store, logger, registries, runtimes, docker: dockerClient });
    await dockerBuilder.check();
    const ctx = testContext();
    const built = await dockerBuilder.build(req, ctx) as DockerBuiltImage;
    rmi(built.localTag);
    assert.equal(built.kind, 'docker');
    assert.match(built.imageId, /^sha256:[a-f0-9]{64}$/);
    assert.equal(built.modelOnly, false);
    assert.ok(ctx.lines.some((l) => /^Step 1\/\d+ : FROM 127\.0\.0\.1:5000\/mll\/runtime-python@sha256:/.test(l)), 'build log lines reach ctx.log');

    const pushCtx = testContext();
    const pushed = await target.publish(built, { repository: model, tag: '7' }, pushCtx);
    rmi(pushed.reference);
    cleanups.push(() => deleteManifest(registry, model, pushed.digest));
    assert.equal(pushed.reference, `${registry}/${model}:7`);
    assert.equal((await fetchManifest(registry, model, '7')).digest, pushed.digest, 'the digest read from the push stream is the registry\'s');

    const ociBuilder = new OciImageBuilder({ store: env.store, logger, registries, runtimes, compression: 'none' });
    const oci = await ociBuilder.build(req, testContext()) as OciBuiltImage;
    const ociPushed = await target.publish(oci, { repository: model, tag: '7-oci' }, testContext());
    cleanups.push(() => deleteManifest(registry, model, ociPushed.digest));
    docker(['pull', '-q', ociPushed.reference]);
    rmi(ociPushed.reference);

    const fromDocker = docker(['run', '--rm', pushed.reference, 'sh', '-c', treeScript]);
    const fromOci = docker(['run', '--rm', ociPushed.reference, 'sh', '-c', treeScript]);
    assert.match(fromDocker, /\.\/files\/bin\/serve\.sh regular file 755/);
    assert.match(fromDocker, new RegExp(`\\./contract\\.protobin regular file 644 ${req.contract.protobin.length}\\n`));
    assert.match(fromDocker, new RegExp(`\\./files/weights/model\\.bin regular file 644 ${5 * MiB}\\n`));
    assert.match(fromDocker, /\.\/files\/deep\/n+\/file\.txt regular file 644 9\n/);
    assert.match(fromDocker, /\.\/files\/current -> weights\/model\.bin/);
    assert.equal(fromOci, fromDocker);

    const labelsOf = (ref: string) => JSON.parse(docker(['inspect', '--format', '{{json .Config.Labels}}', ref])) as Record<string, string>;
    assert.deepEqual(labelsOf(ociPushed.reference), labelsOf(pushed.reference));
    assert.equal(labelsOf(pushed.reference)['ai.mll.model.version'], '7');
  });

  it('an unchanged rebuild reuses the export (the engine is not read again) and publishes the identical image', async () => {
    const model = uniqueName('dock');
    const tree = await putTree(env.store, [
      { path: 'weights/model.bin', content: 2 * MiB },
      { path: 'config.json', content: `{"model": "${model}"}` },
    ]);
    const req = buildRequest(model, tree, { version: 3 });
    const registries = new Registries({ logger });
    const counted = countingSaves(dockerClient);
    const builder = new DockerImageBuilder({ store: env.store, logger, registries, runtimes: { python: services.baseImages().python }, docker: counted.docker });
    const target = new RegistryTarget({ store: env.store, logger, registries, registry });

    const first = await builder.build(req, testContext()) as DockerBuiltImage;
    rmi(first.localTag);
    assert.equal(counted.saves(), 1);
    const ctx = testContext();
    const second = await builder.build(req, ctx) as DockerBuiltImage;
    assert.equal(second.imageId, first.imageId, 'the engine\'s cache gave the same image');
    assert.equal(counted.saves(), 1, 'the unchanged image was not exported again');
    assert.ok(ctx.lines.some((l) => l.startsWith(`reused the export of ${first.imageId}`)), ctx.lines.join('\n'));
    assert.deepEqual(second, first);

    const published = await target.publish(first, { repository: model, tag: '3' }, testContext());
    cleanups.push(() => deleteManifest(registry, model, published.digest));
    const again = await target.publish(second, { repository: model, tag: '3-again' }, testContext());
    assert.equal(again.digest, published.digest);
    assert.equal((await fetchManifest(registry, model, '3-again')).digest, published.digest);

    // A blob of the export gone from the store: the image is exported again, to the same manifest.
    const layer = first.layers.find((l) => l.source.kind === 'blob');
    assert.ok(layer?.digest, 'the image has a layer of its own');
    await env.store.delete(keys.blob(layer.digest));
    const third = await builder.build(req, testContext()) as DockerBuiltImage;
    assert.equal(counted.saves(), 2);
    assert.equal(third.manifestDigest, first.manifestDigest);
    assert.ok(await env.store.stat(keys.blob(layer.digest)));
  });

  it('builds a model-only image FROM scratch when no runtime is configured', async () => {
    const model = uniqueName('dock');
    const tree = await putTree(env.store, [{ path: 'a.txt', content: 'a' }]);
    const builder = new DockerImageBuilder({ store: env.store, logger, registries: new Registries({ logger }), runtimes: {}, docker: dockerClient });
    const built = await builder.build(buildRequest(model, tree, { framework: 'sklearn', modelType: 'sklearn:1.5' }), testContext()) as DockerBuiltImage;
    rmi(built.localTag);
    assert.equal(built.modelOnly, true);
    assert.equal(built.base, null);
    assert.equal(built.warnings[0]?.code, 'RUNTIME_NOT_CONFIGURED');
    const labels = JSON.parse(docker(['inspect', '--format', '{{json .Config.Labels}}', built.imageId])) as Record<string, string>;
    assert.equal(labels['ai.mll.model-only'], 'true');
  });

  it('reports an engine that cannot be reached as BUILDER_UNAVAILABLE', async () => {
    const builder = new DockerImageBuilder({
      store: env.store, logger, registries: new Registries({ logger }), runtimes: {},
      docker: () => createDocker(`unix://${env.dir}/no-such.sock`),
    });
    await assert.rejects(builder.check(), { code: 'BUILDER_UNAVAILABLE' });
  });
});
