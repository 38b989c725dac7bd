import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { protectedPaths } from '../../src/api/auth.js';
import { openApiDocument } from '../../src/api/openapi.js';
import { requiredScope } from '../../src/auth/scopes.js';
import { tokenCacheMs } from '../../src/auth/tokens.js';
import { getBuffer } from '../../src/storage/object-store.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { tarOf, type ApiResponse } from '../support/client.js';
import { freePort } from '../support/registry.js';
import { spawnService } from '../support/processes.js';
import { repoRoot } from '../support/paths.js';
import { uniqueName } from '../support/unique.js';
import path from 'node:path';

const bootstrap = `mll_${randomBytes(6).toString('hex')}_${randomBytes(32).toString('base64url')}`;
const pythonModel = path.join(repoRoot, 'test', 'fixtures', 'models', 'python-tokenizer');

describe('access control with API tokens', () => {
  let app: TestApp;
  const tokens: Record<'read' | 'write' | 'admin', string> = { read: '', write: '', admin: bootstrap };
  type Answer = { error?: { code: string; message: string } } & Record<string, unknown>;
  const call = async (method: string, url: string, token?: string, init: RequestInit = {}): Promise<ApiResponse<Answer>> => {
    const headers = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.headers as Record<string, string> ?? {}) };
    const res = await fetch(url, { ...init, method, headers });
    // An event stream that never ends (Hydrosphere's /api/v2/events) is judged by its status alone.
    if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
      await res.body?.cancel();
      return { status: res.status, body: {}, headers: res.headers };
    }
    const text = await res.text();
    let body: Answer = {};
    try {
      body = text ? (JSON.parse(text) as Answer) : {};
    } catch {
      /* not JSON */
    }
    return { status: res.status, body, headers: res.headers };
  };

  before(async () => {
    app = await startTestApp({ env: { MLL_AUTH: 'tokens', MLL_BOOTSTRAP_TOKEN: bootstrap, MLL_UPLOAD_RATE_PER_MINUTE: '3' } });
    for (const scope of ['read', 'write'] as const) {
      const res = await call('POST', `${app.url}/api/v1/tokens`, bootstrap, {
        headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: `${scope}-token`, scopes: [scope] }),
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      tokens[scope] = res.body.token as string;
    }
  });
  after(() => app?.stop());

  it('checks the scope of every documented operation: 401 without a token, 403 below its scope, allowed at or above it', async () => {
    const doc = openApiDocument(app.url);
    let checked = 0;
    for (const [p, item] of Object.entries(doc.paths)) {
      for (const method of Object.keys(item)) {
        const needed = requiredScope(method, p.replace(/\{[^}]+\}/g, 'x'));
        const url = app.url + p.replace('{name}', 'no-such-model').replace('{version}', '1').replace(/\{[^}]+\}/g, 'x');
        const denied = await call(method.toUpperCase(), url);
        if (needed === null || !protectedPaths.test(p)) {
          assert.notEqual(denied.status, 401, `${method} ${p} is public`);
          continue;
        }
        assert.equal(denied.status, 401, `${method} ${p} without a token`);
        assert.equal(denied.body.error?.code, 'UNAUTHORIZED');
        assert.equal(denied.headers.get('www-authenticate'), 'Bearer realm="ml-lambda"');
        for (const held of ['read', 'write', 'admin'] as const) {
          const res = await call(method.toUpperCase(), url, tokens[held]);
          const allowed = ['read', 'write', 'admin'].indexOf(held) >= ['read', 'write', 'admin'].indexOf(needed);
          if (allowed) assert.ok(res.status !== 401 && res.status !== 403, `${method} ${p} with ${held}: ${res.status} ${JSON.stringify(res.body)}`);
          else {
            assert.equal(res.status, 403, `${method} ${p} with ${held}`);
            assert.match(res.body.error!.message, new RegExp(`needs the "${needed}" scope`));
          }
        }
        checked += 1;
      }
    }
    assert.ok(checked >= 20, `checked ${checked} operations`);
  });

  it('accepts the token as the password of HTTP Basic auth on every documented operation, with the same scopes', async () => {
    const doc = openApiDocument(app.url);
    const basic = (token: string, user = 'hs') => `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`;
    let checked = 0;
    for (const [p, item] of Object.entries(doc.paths)) {
      for (const method of Object.keys(item)) {
        const needed = requiredScope(method, p.replace(/\{[^}]+\}/g, 'x'));
        if (needed === null || !protectedPaths.test(p)) continue;
        const url = app.url + p.replace('{name}', 'no-such-model').replace('{version}', '1').replace(/\{[^}]+\}/g, 'x');
        const res = await call(method.toUpperCase(), url, undefined, { headers: { authorization: basic(tokens.read) } });
        if (needed === 'read') assert.ok(res.status !== 401 && res.status !== 403, `${method} ${p} with read over Basic: ${res.status} ${JSON.stringify(res.body)}`);
        else {
          assert.equal(res.status, 403, `${method} ${p} with read over Basic`);
          assert.match(res.body.error!.message, new RegExp(`needs the "${needed}" scope`));
        }
        checked += 1;
      }
    }
    assert.ok(checked >= 30, `checked ${checked} operations`);
    // Any user name; the user name alone is not a credential.
    const models = `${app.url}/api/v1/models`;
    assert.equal((await call('GET', models, undefined, { headers: { authorization: basic(tokens.read, '') } })).status, 200);
    assert.equal((await call('GET', models, undefined, { headers: { authorization: basic(tokens.read, 'someone else') } })).status, 200);
    assert.equal((await call('GET', `${app.url}/api/v1/tokens`, undefined, { headers: { authorization: basic(tokens.admin) } })).status, 200);
  });

  it('refuses Basic credentials with a wrong, missing or malformed password, saying what is wrong', async () => {
    const models = `${app.url}/api/v1/models`;
    const withHeader = (authorization: string) => call('GET', models, undefined, { headers: { authorization } });
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    const wrong = await withHeader(`Basic ${b64(`hs:${tokens.read.slice(0, -1)}${tokens.read.endsWith('a') ? 'b' : 'a'}`)}`);
    assert.equal(wrong.status, 401);
    assert.match(wrong.body.error!.message, /not valid: unknown, revoked or expired/);
    assert.equal((await withHeader(`Basic ${b64('hs:not-a-token')}`)).status, 401);
    const noPassword = await withHeader(`Basic ${b64(`${tokens.read}:`)}`);
    assert.equal(noPassword.status, 401, 'a token in the user name is not accepted');
    assert.match(noPassword.body.error!.message, /carry no password/);
    const noColon = await withHeader(`Basic ${b64(tokens.read)}`);
    assert.equal(noColon.status, 401);
    assert.match(noColon.body.error!.message, /no ":"/);
    const garbage = await withHeader('Basic %%%not-base64%%%');
    assert.equal(garbage.status, 401);
    assert.match(garbage.body.error!.message, /not valid base64/);
    assert.equal(garbage.body.error!.code, 'UNAUTHORIZED');
    const missing = await call('GET', models);
    assert.equal(missing.status, 401);
    assert.match(missing.body.error!.message, /HTTP Basic with the token as the password/);
    const otherScheme = await withHeader('Digest username="hs"');
    assert.equal(otherScheme.status, 401);
    assert.match(otherScheme.body.error!.message, /must be "Bearer <token>" or "Basic/);
  });

  it('refuses unknown, malformed and revoked tokens', async () => {
    const models = `${app.url}/api/v1/models`;
    assert.equal((await call('GET', models, 'mll_AAAAAAAAAAAA_' + 'x'.repeat(40))).status, 401);
    assert.equal((await call('GET', models, 'not-a-token')).status, 401);
    assert.equal((await call('GET', models, tokens.read.slice(0, -1) + (tokens.read.endsWith('a') ? 'b' : 'a'))).status, 401);
    const created = await call('POST', `${app.url}/api/v1/tokens`, tokens.admin, {
      headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'short-lived', scopes: ['read'] }),
    });
    const token = created.body.token as string;
    assert.equal((await call('GET', models, token)).status, 200);
    assert.equal((await call('DELETE', `${app.url}/api/v1/tokens/${created.body.id}`, tokens.admin)).status, 200);
    assert.equal((await call('GET', models, token)).status, 401);
  });

  it('never shows a token again after creating it, and stores only its hash', async () => {
    const list = await call('GET', `${app.url}/api/v1/tokens`, tokens.admin);
    const text = JSON.stringify(list.body);
    for (const t of Object.values(tokens)) assert.ok(!text.includes(t), 'a token appears in the list');
    assert.ok(!text.includes('"hash"'));
    const items = list.body.items as { id: string; name: string }[];
    const record = await getBuffer(app.running.services.store, `tokens/${items.find((i) => i.name === 'read-token')!.id}.json`);
    assert.ok(!record.toString().includes(tokens.read));
    assert.match(record.toString(), /"hash":"[0-9a-f]{64}"/);
  });

  it('limits uploads per token: 429 with Retry-After, other tokens unaffected', async () => {
    const body = new Uint8Array(await tarOf(pythonModel));
    const model = uniqueName('rate');
    const upload = (token: string) => call('POST', `${app.url}/api/v1/models/${model}/versions`, token, { headers: { 'content-type': 'application/x-tar' }, body });
    // Fresh tokens: the sweep above spent the budgets of the others.
    const fresh = async (name: string) => (await call('POST', `${app.url}/api/v1/tokens`, tokens.admin, {
      headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, scopes: ['write'] }),
    })).body.token as string;
    const [one, other] = [await fresh('uploader-1'), await fresh('uploader-2')];
    const statuses: number[] = [];
    for (let i = 0; i < 2; i++) statuses.push((await upload(one)).status);
    // The same token over Basic auth (as Hydrosphere's clients send it) spends the same budget.
    const overBasic = await call('POST', `${app.url}/api/v1/models/${model}/versions`, undefined, {
      headers: { 'content-type': 'application/x-tar', authorization: `Basic ${Buffer.from(`hs:${one}`).toString('base64')}` }, body,
    });
    statuses.push(overBasic.status);
    statuses.push((await upload(one)).status);
    assert.deepEqual(statuses, [202, 202, 202, 429]);
    const limited = await upload(one);
    assert.equal(limited.body.error?.code, 'RATE_LIMITED');
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    const hydrosphere = await call('POST', `${app.url}/api/v2/model/upload`, undefined, {
      headers: { 'content-type': 'multipart/form-data; boundary=x', authorization: `Basic ${Buffer.from(`hs:${one}`).toString('base64')}` }, body: '--x--\r\n',
    });
    assert.equal(hydrosphere.status, 429, 'Hydrosphere\'s upload routes spend the same budget');
    assert.equal((await upload(other)).status, 202, 'another token has its own budget');
  });
});

it('prints a first admin token on the first start instead of running open, and only once', async () => {
  const app = await startTestApp({ api: false, workers: false });
  const port = String(await freePort());
  const env = { ...app.env, MLL_AUTH: 'tokens', MLL_PORT: port };
  const first = spawnService('api', env);
  try {
    const token = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no token printed: ${first.output()}`)), 120_000);
      first.child.stderr!.on('data', () => {
        const m = /\n {4}(mll_[A-Za-z0-9]{12}_[A-Za-z0-9_-]+)\n/.exec(first.output());
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
    });
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100 && !(await fetch(`${url}/healthz`).then((r) => r.ok, () => false)); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal((await fetch(`${url}/api/v1/models`)).status, 401, 'not open');
    assert.equal((await fetch(`${url}/api/v1/tokens`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
    first.kill('SIGTERM');
    await first.exited;
    const second = spawnService('api', env);
    await new Promise((r) => setTimeout(r, 4000));
    second.kill('SIGTERM');
    await second.exited;
    assert.doesNotMatch(second.output(), /mll_[A-Za-z0-9]{12}_/, 'a second start prints no token');
    assert.doesNotMatch(first.output().replace(`    ${token}\n`, ''), new RegExp(token), 'the token appears only in the one message, not in logs');
  } finally {
    first.kill('SIGKILL');
    await app.stop();
  }
});

it('a token revoked through one API is refused by another API of the deployment within a moment, although both keep tokens they read', async () => {
  const admin = `mll_${randomBytes(6).toString('hex')}_${randomBytes(32).toString('base64url')}`;
  const a = await startTestApp({ workers: false, env: { MLL_AUTH: 'tokens', MLL_BOOTSTRAP_TOKEN: admin } });
  const b = await startTestApp({ workers: false, env: { MLL_AUTH: 'tokens', MLL_BOOTSTRAP_TOKEN: admin, MLL_PREFIX: a.prefix, MLL_DATA_DIR: a.config.dataDirAbs } });
  try {
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    const created = await fetch(`${a.url}/api/v1/tokens`, {
      method: 'POST', headers: { ...bearer(admin), 'content-type': 'application/json' }, body: JSON.stringify({ name: uniqueName('reader'), scopes: ['read'] }),
    });
    assert.equal(created.status, 201);
    const { token, id } = await created.json() as { token: string; id: string };
    // B reads the token now (and keeps it): the revocation must reach it anyway.
    assert.equal((await fetch(`${b.url}/api/v1/models`, { headers: bearer(token) })).status, 200);
    assert.equal((await fetch(`${a.url}/api/v1/tokens/${id}`, { method: 'DELETE', headers: bearer(admin) })).status, 200);
    assert.equal((await fetch(`${a.url}/api/v1/models`, { headers: bearer(token) })).status, 401, 'the API that revoked it refuses it at once');
    const revokedAt = Date.now();
    let status = 0;
    while (Date.now() - revokedAt < tokenCacheMs) {
      status = (await fetch(`${b.url}/api/v1/models`, { headers: bearer(token) })).status;
      if (status === 401) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(status, 401);
    assert.ok(Date.now() - revokedAt < 1000, `the other API refused it ${Date.now() - revokedAt} ms after the revocation, not when its copy expired`);
  } finally {
    await b.stop();
    await a.stop();
  }
});
