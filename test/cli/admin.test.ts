import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../support/app.js';
import { cleanRedis } from '../support/redis.js';
import { json, mll, show } from './support.js';

describe('mll tokens and mll reindex (child process, token auth)', () => {
  let app: TestApp;
  const admin = `mll_${randomBytes(6).toString('hex')}_${randomBytes(32).toString('base64url')}`;
  before(async () => {
    app = await startTestApp({ env: { MLL_AUTH: 'tokens', MLL_BOOTSTRAP_TOKEN: admin } });
  });
  after(() => app?.stop());

  it('creates a scoped token printed once, lists tokens without them, and revokes one', async () => {
    const created = await mll(['tokens', 'create', '--name', 'ci', '--scope', 'write', '--token', admin], { server: app.url });
    assert.equal(created.code, 0, show(created));
    const token = created.stdout.trim();
    assert.match(token, /^mll_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{32,}$/);
    assert.match(created.stderr, /shown only now/);
    const list = await mll(['--json', 'tokens', 'list'], { server: app.url, env: { MLL_TOKEN: admin } });
    assert.equal(list.code, 0, show(list));
    const items = json<{ id: string; name: string; scopes: string[] }[]>(list);
    const ci = items.find((t) => t.name === 'ci')!;
    assert.deepEqual(ci.scopes, ['write']);
    assert.ok(!list.stdout.includes(token), 'the token is never listed');
    assert.equal((await mll(['list'], { server: app.url, env: { MLL_TOKEN: token } })).code, 0);
    const forbidden = await mll(['tokens', 'list'], { server: app.url, env: { MLL_TOKEN: token } });
    assert.equal(forbidden.code, 1);
    assert.match(forbidden.stderr, /FORBIDDEN: .*"admin" scope/);
    const revoked = await mll(['tokens', 'revoke', ci.id], { server: app.url, env: { MLL_TOKEN: admin } });
    assert.equal(revoked.code, 0, show(revoked));
    const after = await mll(['list'], { server: app.url, env: { MLL_TOKEN: token } });
    assert.equal(after.code, 1);
    assert.match(after.stderr, /UNAUTHORIZED/);
    const bad = await mll(['tokens', 'create', '--name', 'x', '--scope', 'root'], { server: app.url, env: { MLL_TOKEN: admin } });
    assert.equal(bad.code, 2, show(bad));
  });

  it('reindex rebuilds Redis from the object store', async () => {
    await cleanRedis(app.prefix);
    // Tokens live in the object store, so the admin token still works with Redis empty.
    const r = await mll(['--json', 'reindex'], { server: app.url, env: { MLL_TOKEN: admin } });
    assert.equal(r.code, 0, show(r));
    const result = json<{ models: number; versions: number; requeued: number }>(r);
    assert.equal(typeof result.versions, 'number');
    const human = await mll(['reindex'], { server: app.url, env: { MLL_TOKEN: admin } });
    assert.match(human.stdout, /rebuilt the index from the object store: \d+ model\(s\)/);
  });
});
