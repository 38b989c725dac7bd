import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../support/app.js';
import { api, tarOf, waitForVersion } from '../support/client.js';
import { repoRoot } from '../support/paths.js';
import { services } from '../support/services.js';
import { uniqueName } from '../support/unique.js';
import { deleteManifest, docker } from '../image/helpers.js';

const pythonModel = path.join(repoRoot, 'test', 'fixtures', 'models', 'python-tokenizer');

/** The same server under the other loopback name: what a client outside a compose stack uses. */
function publicName(hostPort: string): string {
  assert.match(hostPort, /^127\.0\.0\.1:\d+$/, 'the test services listen on 127.0.0.1');
  return hostPort.replace('127.0.0.1', 'localhost');
}

// The compose topology on the local services: the service talks to S3 and the registry by one host
// name (127.0.0.1 here, minio:9000 and registry:5000 in compose) while clients reach them by another.
describe('public endpoints: internal hosts for the service, public hosts for clients', () => {
  let app: TestApp;
  let s3Public: string;
  let registryPublic: string;
  const pulled: string[] = [];
  const pushed: { repo: string; digest: string }[] = [];

  before(async () => {
    const s3 = new URL(services.s3().endpoint);
    s3Public = `http://${publicName(s3.host)}`;
    registryPublic = publicName(services.registry());
    app = await startTestApp({
      store: 'minio', target: 'registry',
      env: { MLL_S3_PUBLIC_ENDPOINT: s3Public, MLL_REGISTRY_PUBLIC: registryPublic },
    });
  });
  after(async () => {
    for (const ref of pulled) { try { docker(['rmi', '-f', ref]); } catch { /* gone */ } }
    for (const p of pushed) await deleteManifest(services.registry(), p.repo, p.digest);
    await app?.stop();
  });

  it('a presigned upload through the public S3 URL becomes a version whose image is pulled by its public name', async () => {
    const model = uniqueName('pub');
    const start = await api<{ id: string; url: string; method: string }>(`${app.url}/api/v1/uploads`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}',
    });
    assert.equal(start.status, 201, JSON.stringify(start.body));
    const url = new URL(start.body.url);
    assert.equal(url.origin, s3Public, 'the URL is signed for the public endpoint');

    const put = await fetch(url, { method: 'PUT', body: new Uint8Array(await tarOf(pythonModel, true)) });
    assert.equal(put.status, 200, await put.text());
    const created = await api<{ version: number }>(`${app.url}/api/v1/models/${model}/versions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ upload: start.body.id }),
    });
    assert.equal(created.status, 202, JSON.stringify(created.body));

    const released = await waitForVersion(app.url, model, created.body.version, { timeoutMs: 90_000 });
    assert.equal(released.status, 'released', JSON.stringify(released.error));
    const repository = `${app.registry!.split('/').slice(1).join('/')}/${model}`;
    pushed.push({ repo: repository, digest: released.image!.digest! });
    assert.equal(released.image!.reference, `${registryPublic}/${repository}:${created.body.version}`);

    const byName = `${released.image!.reference}`;
    pulled.push(byName);
    docker(['pull', '-q', byName]);
    const id = docker(['inspect', '--format', '{{index .RepoDigests 0}}', byName]).trim();
    assert.equal(id, `${registryPublic}/${repository}@${released.image!.digest}`);
  });

  it('a presigned URL for the internal endpoint would not be what clients get', async () => {
    const start = await api<{ url: string }>(`${app.url}/api/v1/uploads`, { method: 'POST' });
    assert.equal(start.status, 201);
    // Signed for localhost: sent to 127.0.0.1 the same bytes fail the signature check.
    const internal = new URL(start.body.url);
    internal.host = new URL(services.s3().endpoint).host;
    const put = await fetch(internal, { method: 'PUT', body: new Uint8Array(await tarOf(pythonModel, true)) });
    assert.equal(put.status, 403, 'the signature covers the host');
  });
});
