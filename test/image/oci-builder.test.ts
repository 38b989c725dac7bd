import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config.js';
import { createImageBuilder, createImageTarget } from '../../src/image/index.js';
import { OciLayoutTarget } from '../../src/image/layout/target.js';
import { resolveBase } from '../../src/image/oci/base.js';
import { OciImageBuilder } from '../../src/image/oci/builder.js';
import { manifestAccept } from '../../src/image/oci/media-types.js';
import { Registries } from '../../src/image/registry/registries.js';
import type { OciBuiltImage } from '../../src/image/types.js';
import { getBuffer } from '../../src/storage/object-store.js';
import { keys } from '../../src/domain/keys.js';
import { services } from '../support/services.js';
import { startPrivateRegistry } from '../support/registry.js';
import { uniqueName } from '../support/unique.js';
import { buildRequest, logger, putTree, sha256, tempStore, testContext } from './helpers.js';

describe('oci builder', () => {
  let env: Awaited<ReturnType<typeof tempStore>>;
  before(async () => { env = await tempStore('ocibuild'); });
  after(() => env.cleanup());

  function builder(runtimes: Record<string, string>, compression: 'none' | 'gzip' = 'none', hashAtBuild = false) {
    return new OciImageBuilder({
      store: env.store, logger, registries: new Registries({ logger, retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 10 } }),
      runtimes, compression, scratchDir: env.dir, hashAtBuild,
    });
  }

  it('writes a valid manifest and config into the store, with the model layers after the runtime\'s', async () => {
    const model = uniqueName('oci');
    const tree = await putTree(env.store, [{ path: 'a.txt', content: 'a' }, { path: 'big.bin', content: 5 * 1024 * 1024 }]);
    const image = await builder({ python: services.baseImages().python }, 'none', true).build(buildRequest(model, tree), testContext()) as OciBuiltImage;
    const manifestBytes = await getBuffer(env.store, keys.blob(image.manifestDigest!));
    assert.equal(sha256(manifestBytes), image.manifestDigest);
    assert.equal(manifestBytes.length, image.manifestSize);
    const manifest = JSON.parse(manifestBytes.toString()) as { config: { digest: string; size: number; mediaType: string }; layers: { digest: string; mediaType: string }[] };
    assert.equal(manifest.config.digest, image.configDigest);
    assert.equal(manifest.config.mediaType, 'application/vnd.oci.image.config.v1+json');
    assert.deepEqual(manifest.layers.map((l) => l.digest), image.layers.map((l) => l.digest));
    assert.equal(manifest.layers[0]!.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip', 'the runtime layer, with its OCI media type');
    const config = JSON.parse((await getBuffer(env.store, keys.blob(image.configDigest!))).toString()) as {
      created: string; rootfs: { diff_ids: string[] }; history: { created_by?: string }[]; config: { Cmd?: string[]; Env?: string[] };
    };
    assert.equal(config.created, '1970-01-01T00:00:00Z');
    assert.deepEqual(config.rootfs.diff_ids, image.layers.map((l) => l.diffId));
    assert.deepEqual(config.config.Cmd, ['/app/start.sh'], 'the runtime settings are kept');
    assert.ok(config.history.some((h) => h.created_by === 'COPY big.bin /model/files/big.bin'));
    const baseLayers = image.layers.filter((l) => l.source.kind === 'base').length;
    assert.ok(baseLayers >= 1);
    assert.deepEqual(image.layers.slice(baseLayers).map((l) => l.source.kind), ['recipe', 'recipe', 'recipe'], 'the model layers after the runtime\'s');
  });

  it('leaves new layers to the first publish, which completes the image as the eager build would', async () => {
    const model = uniqueName('oci');
    const tree = await putTree(env.store, [{ path: 'w.bin', content: 5 * 1024 * 1024 }, { path: 'small.txt', content: 'tiny' }]);
    const ctx = testContext();
    const planned = await builder({}).build(buildRequest(model, tree), ctx) as OciBuiltImage;
    assert.equal(planned.manifestDigest, null);
    assert.equal(planned.configDigest, null);
    // Small layers (the shared files, the contract) are hashed by the build; the 5 MiB one is left to the publish.
    assert.deepEqual(planned.layers.map((l) => l.digest === null), [false, true, false]);
    assert.ok(planned.layers.every((l) => l.size > 0 && l.size % 512 === 0), 'sizes are known from the entries');
    assert.ok(ctx.lines.some((l) => l.includes('new: hashed as it is first published')));
    const target = new OciLayoutTarget({ store: env.store, logger, registries: new Registries({ logger }), root: `${env.dir}/layouts` });
    const published = await target.publish(planned, { repository: model, tag: '1' }, testContext());
    const complete = await builder({}).build(buildRequest(model, tree), testContext()) as OciBuiltImage;
    assert.equal(complete.manifestDigest, published.digest);
    const eagerModel = await builder({}, 'none', true).build(buildRequest(model, tree), testContext()) as OciBuiltImage;
    assert.equal(eagerModel.manifestDigest, published.digest);
  });

  it('makes a model-only image, and says why, when no runtime is configured, reachable or present', async () => {
    const tree = await putTree(env.store, [{ path: 'a.txt', content: 'a' }]);
    const none = await builder({}).build(buildRequest(uniqueName('oci'), tree), testContext()) as OciBuiltImage;
    assert.equal(none.modelOnly, true);
    assert.equal(none.base, null);
    assert.equal(none.warnings[0]?.code, 'RUNTIME_NOT_CONFIGURED');
    assert.equal(none.labels['ai.mll.model-only'], 'true');
    assert.equal(none.platform.startsWith('linux/'), true);

    const gone = await startPrivateRegistry();
    const host = gone.host;
    await gone.dispose();
    const unreachable = await builder({ python: `${host}/runtime:1` }).build(buildRequest(uniqueName('oci'), tree), testContext()) as OciBuiltImage;
    assert.equal(unreachable.modelOnly, true);
    assert.equal(unreachable.warnings[0]?.code, 'RUNTIME_UNREACHABLE');
    assert.match(unreachable.warnings[0]!.message, /cannot be reached \(ECONNREFUSED\)/);

    const missing = await builder({ python: `${services.registry()}/mll/no-such-runtime:1` }).build(buildRequest(uniqueName('oci'), tree), testContext()) as OciBuiltImage;
    assert.equal(missing.modelOnly, true);
    assert.match(missing.warnings[0]!.message, /does not exist/);
  });

  it('builds gzip layers when asked, and the same digest twice', async () => {
    const model = uniqueName('oci');
    const tree = await putTree(env.store, [{ path: 'text.txt', content: 'lorem ipsum '.repeat(50_000) }]);
    const a = await builder({}, 'gzip').build(buildRequest(model, tree), testContext()) as OciBuiltImage;
    const b = await builder({}, 'gzip').build(buildRequest(model, tree), testContext()) as OciBuiltImage;
    assert.equal(a.manifestDigest, b.manifestDigest);
    assert.ok(a.layers.every((l) => l.mediaType === 'application/vnd.oci.image.layer.v1.tar+gzip' && l.source.kind === 'blob'));
    assert.ok(a.layers[0]!.size < 100_000);
    assert.notEqual(a.layers[0]!.diffId, a.layers[0]!.digest);
  });

  it('refuses a contract whose bytes do not match its digest', async () => {
    const req = buildRequest(uniqueName('oci'), { entries: [] });
    await assert.rejects(builder({}).build({ ...req, contract: { protobin: Buffer.from('other'), digest: req.contract.digest } }, testContext()), { code: 'INTERNAL' });
  });

  it('is picked by the factories from the configuration', async () => {
    const config = loadConfig({ MLL_DATA_DIR: env.dir, MLL_RUNTIMES: `python=${services.baseImages().python}` });
    const b = createImageBuilder(config, { store: env.store, logger });
    const t = createImageTarget(config, { store: env.store, logger });
    assert.equal(b.name, 'oci');
    assert.equal(t.name, 'oci-layout');
    await b.check();
    await t.check();
    const model = uniqueName('oci');
    const image = await b.build(buildRequest(model, await putTree(env.store, [{ path: 'x', content: 'x' }])), testContext());
    const published = await t.publish(image, { repository: model, tag: '1' }, testContext());
    assert.equal(published.reference, `oci:${env.dir}/images/${model}:1`);

    const reg = loadConfig({ MLL_DATA_DIR: env.dir, MLL_TARGET: 'registry', MLL_REGISTRY: services.registry(), MLL_BUILDER: 'docker', DOCKER_HOST: services.dockerHost() });
    assert.equal(createImageBuilder(reg, { store: env.store, logger }).name, 'docker');
    const regTarget = createImageTarget(reg, { store: env.store, logger });
    assert.equal(regTarget.name, 'registry');
    await regTarget.check();
  });
});

describe('runtime images behind an index', () => {
  it('picks the manifest of the configured platform, and says when there is none', async () => {
    const env = await tempStore('ociindex');
    try {
      const registry = services.registry();
      const registries = new Registries({ logger });
      const client = registries.client(registry);
      const [source, tag] = services.baseImages().python.slice(registry.length + 1).split(':') as [string, string];
      const runtime = (await client.getManifest(source, tag, manifestAccept))!;
      assert.ok(runtime, `${services.baseImages().python} is in the test registry`);
      const parsed = JSON.parse(runtime.bytes.toString()) as { config: { digest: string; size: number }; layers: { digest: string; size: number }[] };
      const repo = uniqueName('idx');
      for (const blob of [parsed.config, ...parsed.layers]) {
        const outcome = await client.uploadBlob(repo, { ...blob, open: () => { throw new Error('should be mounted'); } }, { mountFrom: source });
        assert.equal(outcome, 'mounted');
      }
      await client.putManifest(repo, runtime.digest, runtime.bytes, runtime.mediaType);
      const index = Buffer.from(JSON.stringify({
        schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          { mediaType: runtime.mediaType, digest: runtime.digest, size: runtime.bytes.length, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
          { mediaType: runtime.mediaType, digest: runtime.digest, size: runtime.bytes.length, platform: { os: 'linux', architecture: 'amd64' } },
        ],
      }));
      const indexDigest = await client.putManifest(repo, 'multi', index, 'application/vnd.oci.image.index.v1+json');
      const resolved = await resolveBase(`${registry}/${repo}:multi`, registries, env.store, 'linux/amd64');
      assert.equal(resolved.base.digest, indexDigest, 'the version records what the tag named');
      assert.equal(resolved.base.manifestDigest, runtime.digest);
      assert.deepEqual(resolved.layers.map((l) => l.digest), parsed.layers.map((l) => l.digest));
      await assert.rejects(resolveBase(`${registry}/${repo}:multi`, registries, env.store, 'linux/s390x'), {
        code: 'REGISTRY_REJECTED', message: /has no linux\/s390x variant/,
      });
      await fetch(`http://${registry}/v2/${repo}/manifests/${indexDigest}`, { method: 'DELETE' });
      await fetch(`http://${registry}/v2/${repo}/manifests/${runtime.digest}`, { method: 'DELETE' });
    } finally {
      await env.cleanup();
    }
  });
});
