import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writePythonModel } from '../../bench/batch/models.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { uniqueName } from '../support/unique.js';
import { json, mll, show, tempDir } from './support.js';

describe('mll against a service with token auth (child process)', () => {
  let app: TestApp;
  let tmp: { dir: string; remove(): Promise<void> };
  let big: string;
  const token = `mll_${randomBytes(6).toString('hex')}_${randomBytes(32).toString('base64url')}`;

  before(async () => {
    app = await startTestApp({ env: { MLL_AUTH: 'tokens', MLL_BOOTSTRAP_TOKEN: token } });
    tmp = await tempDir('auth');
    // Large enough that the refusal comes while the body is still going out.
    big = path.join(tmp.dir, 'big-model');
    await fs.mkdir(big);
    await fs.writeFile(path.join(big, 'weights.bin'), randomBytes(24 * 1024 * 1024));
  });
  after(async () => {
    await app?.stop();
    await tmp?.remove();
  });

  it('without a token: the API\'s 401 and how to give one, for reads, streamed uploads and batches', async () => {
    const list = await mll(['list'], { server: app.url });
    assert.equal(list.code, 1, show(list));
    assert.match(list.stderr, /^error: UNAUTHORIZED: .*\(give one with --token or MLL_TOKEN\)$/m);
    for (const args of [['upload', big], ['batch', big]]) {
      const r = await mll(args, { server: app.url });
      assert.equal(r.code, 1, show(r));
      assert.match(r.stderr, /error: UNAUTHORIZED: /, `${args[0]} reports the refusal, not a lost connection`);
    }
    const wrong = await mll(['--json', 'upload', big, '--token', `mll_${'a'.repeat(12)}_${'b'.repeat(40)}`], { server: app.url });
    assert.equal(wrong.code, 1, show(wrong));
    const body = JSON.parse(wrong.stderr) as { error: { code: string; message: string; status: number } };
    assert.equal(body.error.code, 'UNAUTHORIZED');
    assert.equal(body.error.status, 401);
    assert.match(body.error.message, /\(the token given was refused\)$/);
  });

  it('with --token or MLL_TOKEN every command works', async () => {
    const name = uniqueName('tok');
    const up = await mll(['--json', 'upload', await writePythonModel(tmp.dir, name), '--wait', '--token', token], { server: app.url });
    assert.equal(up.code, 0, show(up));
    assert.equal(json<{ status: string }>(up).status, 'released');
    const status = await mll(['status', name], { server: app.url, env: { MLL_TOKEN: token } });
    assert.equal(status.code, 0, show(status));
    assert.match(status.stdout, /status\s+released/);
  });
});
