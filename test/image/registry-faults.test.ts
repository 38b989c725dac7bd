import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { OciImageBuilder } from '../../src/image/oci/builder.js';
import { Registries } from '../../src/image/registry/registries.js';
import { RegistryTarget } from '../../src/image/registry/target.js';
import type { OciBuiltImage } from '../../src/image/types.js';
import { services } from '../support/services.js';
import { startPrivateRegistry, type PrivateRegistry } from '../support/registry.js';
import { uniqueName } from '../support/unique.js';
import { startCountingProxy } from './proxy.js';
import { buildRequest, deleteManifest, fetchManifest, logger, putTree, tempStore, testContext } from './helpers.js';

const MiB = 1024 * 1024;
const fastRetry = { attempts: 10, baseDelayMs: 100, maxDelayMs: 1000 };

describe('registry faults and auth', () => {
  let env: Awaited<ReturnType<typeof tempStore>>;
  before(async () => { env = await tempStore('regfaults'); });
  after(() => env.cleanup());

  for (const mode of [
    { name: 'hashing (one PATCH)', chunkSize: 0, hashAtBuild: false },
    { name: 'hashing, chunked', chunkSize: 8 * MiB, hashAtBuild: false },
    { name: 'monolithic PUT of a layer hashed at build', chunkSize: 0, hashAtBuild: true },
  ]) {
    it(`finishes a ${mode.name} upload interrupted by a registry crash mid-blob`, async () => {
      const reg: PrivateRegistry = await startPrivateRegistry();
      const proxy = await startCountingProxy(reg.host);
      try {
        const model = uniqueName('crash');
        const tree = await putTree(env.store, [{ path: 'weights.bin', content: 48 * MiB }]);
        const registries = new Registries({ logger, retry: fastRetry });
        const builder = new OciImageBuilder({ store: env.store, logger, registries, runtimes: {}, compression: 'none', hashAtBuild: mode.hashAtBuild });
        const target = new RegistryTarget({ store: env.store, logger, registries, registry: proxy.host, chunkSize: mode.chunkSize });
        const image = await builder.build(buildRequest(model, tree), testContext()) as OciBuiltImage;
        assert.equal(image.manifestDigest === null, !mode.hashAtBuild);

        let crashed = false;
        let restarted: Promise<void> | undefined;
        proxy.onBody = (total) => {
          if (crashed || total < 20 * MiB) return;
          crashed = true;
          restarted = reg.stop('SIGKILL').then(() => new Promise((r) => setTimeout(r, 500))).then(() => reg.start());
        };
        const published = await target.publish(image, { repository: model, tag: '1' }, testContext());
        await restarted;
        assert.ok(crashed, 'the registry was stopped mid-blob');
        const served = await fetchManifest(reg.host, model, '1');
        assert.equal(served.status, 200);
        assert.equal(served.digest, published.digest);
        const complete = await builder.build(buildRequest(model, tree), testContext()) as OciBuiltImage;
        assert.equal(complete.manifestDigest, published.digest);
        const layer = complete.layers.find((l) => l.size > 40 * MiB)!;
        const head = await fetch(`http://${reg.host}/v2/${model}/blobs/${layer.digest}`, { method: 'HEAD' });
        assert.equal(head.status, 200);
        assert.equal(Number(head.headers.get('content-length')), layer.size);
        assert.ok(proxy.uploadedBytes() > layer.size, 'part of the blob was sent twice');
      } finally {
        await proxy.close();
        await reg.dispose();
      }
    });
  }

  // What the registry's storage looks like at the moment a manifest PUT reads it: every blob link of
  // the repository emptied (distribution < 3.1 rewrites a link in place while another push commits the
  // same blob) or removed (a garbage collection between the blob uploads and the manifest).
  for (const fault of [
    { name: 'blob links are empty while another push rewrites them', restore: true },
    { name: 'blobs vanish from the repository after their upload', restore: false },
  ]) {
    it(`pushes the manifest when, at its first PUT, the ${fault.name}`, async () => {
      const reg = await startPrivateRegistry();
      const proxy = await startCountingProxy(reg.host);
      try {
        const model = uniqueName('blobrace');
        const tree = await putTree(env.store, [{ path: 'weights.bin', content: 64 * 1024 }]);
        const registries = new Registries({ logger, retry: fastRetry });
        const builder = new OciImageBuilder({ store: env.store, logger, registries, runtimes: {}, compression: 'none' });
        const target = new RegistryTarget({ store: env.store, logger, registries, registry: proxy.host });
        const image = await builder.build(buildRequest(model, tree), testContext()) as OciBuiltImage;
        const layersDir = path.join(reg.root, 'data/docker/registry/v2/repositories', model, '_layers/sha256');
        let faulted = 0;
        proxy.around = async (request) => {
          if (request.method !== 'PUT' || !request.path.includes('/manifests/') || faulted++ > 0) return;
          const links = (await fs.readdir(layersDir)).map((hex) => path.join(layersDir, hex, 'link'));
          const kept = await Promise.all(links.map((link) => fs.readFile(link)));
          await Promise.all(links.map((link) => (fault.restore ? fs.truncate(link, 0) : fs.rm(link))));
          if (fault.restore) return async () => { await Promise.all(links.map((link, i) => fs.writeFile(link, kept[i]!))); };
        };
        const ctx = testContext();
        const published = await target.publish(image, { repository: model, tag: '1' }, ctx);
        const manifestPuts = proxy.requests.filter((r) => r.method === 'PUT' && r.path.includes('/manifests/'));
        assert.deepEqual(manifestPuts.map((r) => r.status), [400, 201]);
        assert.ok(ctx.lines.some((l) => /did not find a blob the manifest names .*MANIFEST_BLOB_UNKNOWN/.test(l)), ctx.lines.join('\n'));
        const served = await fetchManifest(reg.host, model, '1');
        assert.equal(served.status, 200);
        assert.equal(served.digest, published.digest);
        const firstPut = proxy.requests.indexOf(manifestPuts[0]!);
        const uploadsAfter = proxy.requests.slice(firstPut).filter((r) => r.method === 'POST' && r.path.includes('/blobs/uploads/')).length;
        // Every blob is sent again when the registry lost it, none when it only could not read it for a moment.
        if (fault.restore) assert.equal(uploadsAfter, 0);
        else assert.ok(uploadsAfter >= 2, `blobs uploaded again: ${uploadsAfter}`);
      } finally {
        await proxy.close();
        await reg.dispose();
      }
    });
  }

  it('fails with the registry\'s words when a blob stays missing', async () => {
    const reg = await startPrivateRegistry();
    const proxy = await startCountingProxy(reg.host);
    try {
      const model = uniqueName('blobgone');
      const tree = await putTree(env.store, [{ path: 'w.bin', content: 'x' }]);
      const registries = new Registries({ logger, retry: fastRetry });
      const builder = new OciImageBuilder({ store: env.store, logger, registries, runtimes: {}, compression: 'none' });
      const target = new RegistryTarget({ store: env.store, logger, registries, registry: proxy.host });
      const image = await builder.build(buildRequest(model, tree), testContext()) as OciBuiltImage;
      const layersDir = path.join(reg.root, 'data/docker/registry/v2/repositories', model, '_layers/sha256');
      proxy.around = async (request) => {
        if (request.method !== 'PUT' || !request.path.includes('/manifests/')) return;
        for (const hex of await fs.readdir(layersDir)) await fs.rm(path.join(layersDir, hex, 'link'), { force: true });
      };
      await assert.rejects(target.publish(image, { repository: model, tag: '1' }, testContext()), (err: unknown) => {
        const e = err as { code?: string; message?: string; transient?: boolean };
        assert.equal(e.code, 'REGISTRY_REJECTED');
        assert.equal(e.transient, false);
        assert.match(e.message!, /Writing manifest .*: the registry .* answered 400 \(MANIFEST_BLOB_UNKNOWN/);
        return true;
      });
      assert.equal(proxy.requests.filter((r) => r.method === 'PUT' && r.path.includes('/manifests/')).length, 3);
      assert.equal((await fetchManifest(reg.host, model, '1')).status, 404);
    } finally {
      await proxy.close();
      await reg.dispose();
    }
  });

  describe('against the htpasswd registry', () => {
    let auth: ReturnType<typeof services.registryAuth>;
    let image: OciBuiltImage;
    let model: string;
    before(async () => {
      auth = services.registryAuth();
      model = uniqueName('auth');
      const builder = new OciImageBuilder({ store: env.store, logger, registries: new Registries({ logger }), runtimes: {}, compression: 'none' });
      image = await builder.build(buildRequest(model, await putTree(env.store, [{ path: 'f.txt', content: 'x' }])), testContext()) as OciBuiltImage;
    });

    function target(credentials?: { username: string; password: string }) {
      const registries = new Registries({
        logger, retry: fastRetry, credentialsHint: 'set MLL_REGISTRY_USERNAME and MLL_REGISTRY_PASSWORD',
        primary: { registry: auth.host, insecure: true, credentials },
      });
      return new RegistryTarget({ store: env.store, logger, registries, registry: auth.host });
    }

    it('answers 401 without credentials with a clear, permanent error', async () => {
      const t = target();
      const expected = (err: unknown) => {
        const e = err as { code?: string; message?: string; transient?: boolean };
        assert.equal(e.code, 'REGISTRY_AUTH_FAILED');
        assert.equal(e.transient, false);
        assert.match(e.message!, new RegExp(`registry ${auth.host} requires authentication and no credentials are configured: set MLL_REGISTRY_USERNAME`));
        return true;
      };
      await assert.rejects(t.check(), expected);
      await assert.rejects(t.publish(image, { repository: model, tag: '1' }, testContext()), expected);
    });

    it('says which user was refused when the password is wrong', async () => {
      await assert.rejects(target({ username: auth.username, password: 'wrong' }).publish(image, { repository: model, tag: '1' }, testContext()), (err: unknown) => {
        const e = err as { code?: string; message?: string };
        assert.equal(e.code, 'REGISTRY_AUTH_FAILED');
        assert.match(e.message!, new RegExp(`refused the credentials of user "${auth.username}"`));
        return true;
      });
    });

    it('pushes with basic auth', async () => {
      const creds = { username: auth.username, password: auth.password };
      const t = target(creds);
      await t.check();
      const published = await t.publish(image, { repository: model, tag: '1' }, testContext());
      try {
        assert.equal(published.reference, `${auth.host}/${model}:1`);
        const served = await fetchManifest(auth.host, model, '1', creds);
        assert.equal(served.status, 200);
        assert.equal(served.digest, published.digest);
        assert.equal((await fetchManifest(auth.host, model, '1')).status, 401);
      } finally {
        await deleteManifest(auth.host, model, published.digest, creds);
      }
    });
  });

  it('reports an unreachable registry as transient REGISTRY_UNAVAILABLE', async () => {
    const reg = await startPrivateRegistry();
    const host = reg.host;
    await reg.dispose();
    const registries = new Registries({ logger, retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 10 } });
    const t = new RegistryTarget({ store: env.store, logger, registries, registry: host });
    await assert.rejects(t.check(), (err: unknown) => {
      const e = err as { code?: string; transient?: boolean; message?: string };
      assert.equal(e.code, 'REGISTRY_UNAVAILABLE');
      assert.equal(e.transient, true);
      assert.match(e.message!, /ECONNREFUSED/);
      return true;
    });
  });
});
