import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DockerImageBuilder } from '../../src/image/docker/builder.js';
import { createDocker } from '../../src/image/docker/engine.js';
import { OciLayoutTarget } from '../../src/image/layout/target.js';
import { OciImageBuilder } from '../../src/image/oci/builder.js';
import { Registries } from '../../src/image/registry/registries.js';
import { RegistryTarget } from '../../src/image/registry/target.js';
import type { BuildRequest, BuiltImage, ImageTarget } from '../../src/image/types.js';
import { services } from '../support/services.js';
import { uniqueName } from '../support/unique.js';
import { fileTree, readLayout, readRegistry, type StoredImage } from './conformance-support.js';
import { buildRequest, deleteManifest, docker, logger, putTree, sha256, tempStore, testContext } from './helpers.js';

const MiB = 1024 * 1024;

interface TargetUnderTest {
  target: ImageTarget;
  /** The image a publish left, read back the way a client of the target reads it. */
  read(repository: string, tag: string): Promise<StoredImage>;
  cleanup(): Promise<void>;
}

/**
 * The ImageTarget port, held to one suite whatever the adapter: any complete or still-unhashed
 * image, from either builder, is published whole (every blob holding its bytes, the manifest by
 * tag last) under the digest the image has or the publish computed, and publishing it again
 * writes nothing. Run against the shared registry and an OCI layout directory.
 */
describe('ImageTarget conformance', () => {
  let env: Awaited<ReturnType<typeof tempStore>>;
  let req: BuildRequest;
  const built: Record<string, BuiltImage> = {};
  const cleanups: (() => void)[] = [];

  before(async () => {
    env = await tempStore('target-conformance');
    const tree = await putTree(env.store, [
      { path: 'weights.bin', content: 5 * MiB },
      { path: 'conf/serving.json', content: '{"batch": 8}' },
      { path: 'latest', symlink: 'weights.bin' },
    ]);
    req = buildRequest(uniqueName('tconf'), tree, { version: 2 });
    const registries = new Registries({ logger });
    const runtimes = { python: services.baseImages().tensorflow };
    // The oci builder's image is left unhashed (its new layers are hashed by the first publish)…
    built.oci = await new OciImageBuilder({ store: env.store, logger, registries, runtimes, compression: 'none' }).build(req, testContext());
    assert.equal(built.oci.manifestDigest, null);
    // …the docker builder's is complete, exported from the engine into the store.
    built.docker = await new DockerImageBuilder({ store: env.store, logger, registries, runtimes, docker: () => createDocker(services.dockerHost()) }).build(req, testContext());
    const localTag = built.docker.kind === 'docker' ? built.docker.localTag : '';
    cleanups.push(() => { try { docker(['rmi', '-f', localTag]); } catch { /* gone */ } });
    assert.ok(built.docker.manifestDigest);
  });
  after(async () => {
    for (const fn of cleanups) fn();
    await env?.cleanup();
  });

  function targetConformance(name: string, make: () => Promise<TargetUnderTest>): void {
    describe(name, () => {
      let t: TargetUnderTest;
      before(async () => { t = await make(); });
      after(() => t?.cleanup());

      for (const builder of ['oci', 'docker'] as const) {
        it(`publishes the ${builder} builder's image whole, under its digest, and again writes nothing`, async () => {
          const image = built[builder]!;
          const repository = `${req.model}-${builder}`;
          const ctx = testContext();
          const published = await t.target.publish(image, { repository, tag: '2' }, ctx);
          assert.match(published.digest, /^sha256:[a-f0-9]{64}$/);
          if (image.manifestDigest !== null) assert.equal(published.digest, image.manifestDigest, 'a complete image keeps its digest');

          const stored = await t.read(repository, '2');
          assert.equal(stored.manifestDigest, published.digest, 'the tag names the published manifest');
          for (const layer of stored.manifest.layers) {
            const bytes = await stored.blob(layer.digest);
            assert.equal(bytes.length, layer.size, `layer ${layer.digest} has its size`);
            assert.equal(sha256(bytes), layer.digest, `layer ${layer.digest} holds its bytes`);
          }
          assert.equal(stored.config.config.Labels?.['ai.mll.model.name'], req.model);
          const tree = await fileTree(stored);
          assert.equal(tree['model/files/weights.bin']?.size, 5 * MiB);
          assert.equal(tree['model/files/latest']?.target, 'weights.bin');
          assert.equal(tree['model/contract.protobin']?.sha256, req.contract.digest);

          // The same image again (a retried push): nothing written, the same digest.
          const again = testContext();
          assert.equal((await t.target.publish(image, { repository, tag: '2' }, again)).digest, published.digest);
          assert.match(again.lines.at(-1)!, /: 0 (uploaded|blobs written) \(0 B\)/);
          // Another tag of it: the manifest only.
          await t.target.publish(image, { repository, tag: '2-copy' }, testContext());
          assert.equal((await t.read(repository, '2-copy')).manifestDigest, published.digest);
        });
      }
    });
  }

  targetConformance('registry', async () => {
    const registry = services.registry();
    const target = new RegistryTarget({ store: env.store, logger, registries: new Registries({ logger }), registry });
    await target.check();
    const published: { repository: string; digest: string }[] = [];
    return {
      target,
      read: async (repository, tag) => {
        const image = await readRegistry(registry, repository, tag);
        published.push({ repository, digest: image.manifestDigest });
        return image;
      },
      cleanup: async () => { for (const p of published) await deleteManifest(registry, p.repository, p.digest); },
    };
  });

  targetConformance('oci-layout', async () => {
    const root = path.join(env.dir, 'images');
    const target = new OciLayoutTarget({ store: env.store, logger, registries: new Registries({ logger }), root });
    await target.check();
    return { target, read: (repository, tag) => readLayout(path.join(root, repository), tag), cleanup: async () => undefined };
  });
});
