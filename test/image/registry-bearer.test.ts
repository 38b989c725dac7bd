import { execFileSync } from 'node:child_process';
import { createSign, randomUUID, X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { OciImageBuilder } from '../../src/image/oci/builder.js';
import { Registries } from '../../src/image/registry/registries.js';
import { RegistryTarget } from '../../src/image/registry/target.js';
import { manifestAccept } from '../../src/image/oci/media-types.js';
import { startPrivateRegistry, type PrivateRegistry } from '../support/registry.js';
import { uniqueName } from '../support/unique.js';
import { buildRequest, logger, putTree, tempStore, testContext } from './helpers.js';

const USER = 'alice';
const PASSWORD = 'token-pass';
const SERVICE = 'mll-test-registry';
const ISSUER = 'mll-test-issuer';

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/**
 * A registry with token auth (distribution's `auth: token`) and a small token service for it: Basic
 * credentials in, an RS256 JWT granting the requested repository scopes out, signed with a
 * throw-away key whose self-signed certificate the registry trusts.
 */
async function startTokenRegistry(dir: string) {
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=mll-test-token'], { stdio: 'ignore' });
  const keyPem = await fs.readFile(key, 'utf8');
  const der = new X509Certificate(await fs.readFile(cert)).raw;
  const issued: { user: string; scopes: string[] }[] = [];

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const auth = req.headers.authorization ?? '';
    const [user, pass] = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString().split(':') : [];
    if (user !== USER || pass !== PASSWORD) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}');
      return;
    }
    const scopes = url.searchParams.getAll('scope');
    issued.push({ user, scopes });
    const now = Math.floor(Date.now() / 1000);
    const access = scopes.map((s) => {
      const [type, ...rest] = s.split(':');
      const actions = rest.pop()!.split(',');
      return { type, name: rest.join(':'), actions };
    });
    const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', x5c: [der.toString('base64')] }));
    const claims = b64url(JSON.stringify({
      iss: ISSUER, sub: user, aud: url.searchParams.get('service'), exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access,
    }));
    const signature = createSign('RSA-SHA256').update(`${header}.${claims}`).sign(keyPem);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `${header}.${claims}.${b64url(signature)}`, expires_in: 300 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const realm = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/token`;
  const registry = await startPrivateRegistry({
    extraConfig: ['auth:', '  token:', `    realm: ${realm}`, `    service: ${SERVICE}`, `    issuer: ${ISSUER}`, `    rootcertbundle: ${cert}`].join('\n'),
  });
  return {
    registry, issued,
    close: async () => {
      await registry.dispose();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('registry with bearer tokens from the WWW-Authenticate challenge', () => {
  let env: Awaited<ReturnType<typeof tempStore>>;
  let tokens: Awaited<ReturnType<typeof startTokenRegistry>>;
  let registry: PrivateRegistry;

  before(async () => {
    env = await tempStore('bearer');
    tokens = await startTokenRegistry(env.dir);
    registry = tokens.registry;
  });
  after(async () => {
    await tokens?.close();
    await env.cleanup();
  });

  function target(credentials?: { username: string; password: string }) {
    const registries = new Registries({
      logger, retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 10 }, credentialsHint: 'set MLL_REGISTRY_USERNAME and MLL_REGISTRY_PASSWORD',
      primary: { registry: registry.host, insecure: true, credentials },
    });
    return { registries, target: new RegistryTarget({ store: env.store, logger, registries, registry: registry.host }) };
  }

  it('pushes with a token scoped to the repository, then reads the manifest back', async () => {
    const model = uniqueName('bearer');
    const builder = new OciImageBuilder({ store: env.store, logger, registries: new Registries({ logger }), runtimes: {}, compression: 'none' });
    const image = await builder.build(buildRequest(model, await putTree(env.store, [{ path: 'a.bin', content: 64 * 1024 }])), testContext());
    const { registries, target: t } = target({ username: USER, password: PASSWORD });
    await t.check();
    const published = await t.publish(image, { repository: model, tag: '1' }, testContext());
    assert.ok(tokens.issued.some((i) => i.scopes.includes(`repository:${model}:pull,push`)), 'a push token for the repository was asked for');
    const manifest = await registries.client(registry.host).getManifest(model, '1', manifestAccept);
    assert.equal(manifest?.digest, published.digest);
    const anonymous = await fetch(`http://${registry.host}/v2/${model}/manifests/1`);
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Bearer realm=/);
  });

  it('says credentials are missing, or refused, in words', async () => {
    const model = uniqueName('bearer');
    const builder = new OciImageBuilder({ store: env.store, logger, registries: new Registries({ logger }), runtimes: {}, compression: 'none' });
    const image = await builder.build(buildRequest(model, await putTree(env.store, [{ path: 'b.txt', content: 'b' }])), testContext());
    await assert.rejects(target().target.publish(image, { repository: model, tag: '1' }, testContext()), (err: unknown) => {
      const e = err as { code?: string; message?: string };
      assert.equal(e.code, 'REGISTRY_AUTH_FAILED');
      assert.match(e.message!, /requires authentication and no credentials are configured: set MLL_REGISTRY_USERNAME/);
      return true;
    });
    await assert.rejects(target({ username: USER, password: 'nope' }).target.publish(image, { repository: model, tag: '1' }, testContext()), (err: unknown) => {
      const e = err as { code?: string; message?: string };
      assert.equal(e.code, 'REGISTRY_AUTH_FAILED');
      assert.match(e.message!, /token service of registry .* refused the credentials of user "alice"/);
      return true;
    });
  });
});
