import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DockerImageBuilder } from '../../src/image/docker/builder.js';
import { createDocker } from '../../src/image/docker/engine.js';
import { OciLayoutTarget } from '../../src/image/layout/target.js';
import { OciImageBuilder } from '../../src/image/oci/builder.js';
import { Registries } from '../../src/image/registry/registries.js';
import type { BuildRequest, BuiltImage, ImageBuilder } from '../../src/image/types.js';
import { services } from '../support/services.js';
import { uniqueName } from '../support/unique.js';
import { expectedModelTree, fileTree, readLayout, readRegistry, startConformanceBase, type FsEntry, type StoredImage } from './conformance-support.js';
import { buildRequest, docker, logger, putTree, tempStore, testContext, varietyTree } from './helpers.js';


/** What a builder made, as a user of the image sees it. */
interface Seen {
  built: BuiltImage;
  stored: StoredImage;
  tree: Record<string, FsEntry>;
}

/**
 * The ImageBuilder port, held to one suite whatever the adapter: for the same request every builder
 * puts the same files under /model (paths, types, modes, sizes, contents, link targets), our labels
 * over the runtime's, the runtime's settings (Env, Entrypoint, Cmd, WorkingDir, ExposedPorts) and
 * layers unchanged, and returns an image any target publishes. Each image is read back from an
 * OCI layout it was published to, on the real runtime registry and (for docker) the real engine.
 */
describe('ImageBuilder conformance', () => {
  let env: Awaited<ReturnType<typeof tempStore>>;
  let base: Awaited<ReturnType<typeof startConformanceBase>>;
  let baseImage: StoredImage;
  let req: BuildRequest;
  const seen = new Map<string, Seen>();
  const cleanups: (() => void)[] = [];

  before(async () => {
    env = await tempStore('builder-conformance');
    base = await startConformanceBase();
    const [host, ...rest] = base.reference.split('/');
    const [repository, tag] = rest.join('/').split(':');
    baseImage = await readRegistry(host!, repository!, tag!);
    const tree = await putTree(env.store, varietyTree);
    req = buildRequest(uniqueName('conform'), tree, { version: 4, labels: { team: 'tests', 'ai.mll.runtime': 'overridden by the user' } });
  });
  after(async () => {
    for (const fn of cleanups) fn();
    await base?.remove();
    await env?.cleanup();
  });

  function builderConformance(name: 'oci' | 'docker', make: (registries: Registries) => ImageBuilder): void {
    describe(name, () => {
      let s: Seen;
      before(async () => {
        const registries = new Registries({ logger });
        const builder = make(registries);
        await builder.check();
        const built = await builder.build(req, testContext());
        if (built.kind === 'docker') cleanups.push(() => { try { docker(['rmi', '-f', built.localTag]); } catch { /* gone */ } });
        const root = path.join(env.dir, `layout-${name}`);
        await new OciLayoutTarget({ store: env.store, logger, registries, root }).publish(built, { repository: req.model, tag: '4' }, testContext());
        const stored = await readLayout(path.join(root, req.model), '4');
        s = { built, stored, tree: await fileTree(stored) };
        seen.set(name, s);
      });

      it('puts the request\'s files and contract under /model: paths, types, modes, sizes, contents, links', () => {
        assert.deepEqual(s.tree, expectedModelTree(req));
      });

      it('labels the image: ours over the user\'s over the runtime\'s, in the config', () => {
        const labels = s.stored.config.config.Labels ?? {};
        for (const [k, v] of Object.entries(s.built.labels)) assert.equal(labels[k], v, k);
        assert.equal(labels['ai.mll.model.name'], req.model);
        assert.equal(labels['ai.mll.model.version'], '4');
        assert.equal(labels['ai.mll.contract.digest'], req.contract.digest);
        assert.equal(labels.team, 'tests');
        assert.equal(labels['ai.mll.runtime'], 'overridden by the user', 'the request\'s labels win over the runtime\'s');
        assert.equal(labels['org.example.vendor'], 'tests', 'the runtime\'s other labels are kept');
        assert.equal(s.stored.manifest.annotations?.['org.opencontainers.image.base.name'], base.reference);
      });

      it('keeps the runtime\'s settings: Env, Entrypoint, Cmd, WorkingDir, ExposedPorts', () => {
        const ours = s.stored.config.config;
        const theirs = baseImage.config.config;
        assert.deepEqual(ours.Env, theirs.Env);
        assert.deepEqual(ours.Entrypoint, theirs.Entrypoint);
        assert.deepEqual(ours.Cmd, theirs.Cmd);
        assert.equal(ours.WorkingDir, '/srv/runtime');
        assert.equal(ours.WorkingDir, theirs.WorkingDir);
        assert.deepEqual(Object.keys(ours.ExposedPorts ?? {}).sort(), ['8080/tcp', '9090/tcp']);
      });

      it('builds on the runtime\'s layers, unchanged and first, and says so', () => {
        const n = baseImage.manifest.layers.length;
        assert.deepEqual(s.stored.manifest.layers.slice(0, n).map((l) => l.digest), baseImage.manifest.layers.map((l) => l.digest));
        assert.deepEqual(s.stored.config.rootfs.diff_ids.slice(0, n), baseImage.config.rootfs.diff_ids);
        assert.ok(s.stored.manifest.layers.length > n, 'the model is in layers of its own');
        assert.equal(s.built.modelOnly, false);
        assert.equal(s.built.base?.reference, base.reference);
      });

      it('returns an image every target publishes: every digest known once published, the same manifest', () => {
        assert.equal(s.stored.manifest.layers.length, s.built.layers.length);
        if (s.built.manifestDigest !== null) assert.equal(s.stored.manifestDigest, s.built.manifestDigest);
      });
    });
  }

  builderConformance('oci', (registries) => new OciImageBuilder({
    store: env.store, logger, registries, runtimes: { python: base.reference }, compression: 'none',
  }));
  builderConformance('docker', (registries) => new DockerImageBuilder({
    store: env.store, logger, registries, runtimes: { python: base.reference }, docker: () => createDocker(services.dockerHost()),
  }));

  it('gives the same file tree, labels and runtime settings whichever builder built it', () => {
    const oci = seen.get('oci');
    const dock = seen.get('docker');
    assert.ok(oci && dock, 'both builders ran');
    assert.deepEqual(dock.tree, oci.tree);
    assert.deepEqual(dock.stored.config.config.Labels, oci.stored.config.config.Labels);
    for (const key of ['Env', 'Entrypoint', 'Cmd', 'WorkingDir', 'ExposedPorts'] as const) {
      assert.deepEqual(dock.stored.config.config[key], oci.stored.config.config[key], key);
    }
    assert.deepEqual(dock.stored.manifest.annotations, oci.stored.manifest.annotations);
  });
});
