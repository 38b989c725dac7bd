import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { startTestApp } from '../support/app.js';
import { api, tarOf, waitForVersion } from '../support/client.js';
import { repoRoot } from '../support/paths.js';
import { spawnService } from '../support/processes.js';
import { freePort } from '../support/registry.js';
import { uniqueName } from '../support/unique.js';
import { waitFor } from '../support/wait.js';

const pythonModel = path.join(repoRoot, 'test', 'fixtures', 'models', 'python-tokenizer');

describe('an API killed after writing a version, before enqueueing it and answering', () => {
  it('the retry with the same Idempotency-Key, to another API, gets that version at once; it is released once', async () => {
    // The survivor: an API with workers whose recovery check enqueues a version left without jobs.
    const survivor = await startTestApp({ env: { MLL_RECOVERY_CHECK_MS: '300' } });
    const port = await freePort();
    const doomed = spawnService('api', { ...survivor.env, MLL_PORT: String(port), MLL_FAILPOINTS: 'intake-recorded=sleep:600000' });
    const doomedUrl = `http://127.0.0.1:${port}`;
    try {
      await waitFor('the doomed API', async () => ((await fetch(`${doomedUrl}/healthz`).then((r) => r.ok, () => false)) ? true : undefined), 60_000);
      const model = uniqueName('recorded');
      const body = new Uint8Array(await tarOf(pythonModel));
      const headers = { 'content-type': 'application/x-tar', 'idempotency-key': `rec-${model}` };
      const first = fetch(`${doomedUrl}/api/v1/models/${model}/versions`, { method: 'POST', headers, body }).then((r) => `answered ${r.status}`, () => 'cut off');
      // The failpoint says so once the record is written and the answer kept (a version shown by the
      // survivor is not enough: the answer is kept one Redis round trip after the record).
      await waitFor('the doomed API to pause after writing the version', async () => (doomed.output().includes('failpoint intake-recorded: pausing') ? true : undefined), 30_000);
      assert.equal((await api(`${survivor.url}/api/v1/models/${model}/versions/1`)).status, 200, 'the version is written');
      doomed.kill('SIGKILL');
      await doomed.exited;
      assert.equal(await first, 'cut off');

      const retry = await api<{ version: number; status: string }>(`${survivor.url}/api/v1/models/${model}/versions`, { method: 'POST', headers, body });
      assert.equal(retry.status, 202, JSON.stringify(retry.body));
      assert.equal(retry.body.version, 1);
      assert.equal(retry.headers.get('idempotent-replayed'), 'true');

      const done = await waitForVersion(survivor.url, model, 1, { timeoutMs: 60_000 });
      assert.equal(done.status, 'released', JSON.stringify(done.error));
      const list = await api<{ total: number }>(`${survivor.url}/api/v1/models/${model}/versions`);
      assert.equal(list.body.total, 1, 'exactly one version');
      const events = await api<{ items: { type: string; status?: string }[] }>(`${survivor.url}/api/v1/models/${model}/versions/1/events`);
      assert.equal(events.body.items.filter((e) => e.type === 'status' && e.status === 'released').length, 1);
    } finally {
      doomed.kill('SIGKILL');
      await doomed.exited;
      await survivor.stop();
    }
  });
});
