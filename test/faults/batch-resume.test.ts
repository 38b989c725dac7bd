import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { BatchView } from '../../src/batches/batches.js';
import { startTestApp } from '../support/app.js';
import { api, retryPastConflicts, tarOf } from '../support/client.js';
import { repoRoot } from '../support/paths.js';
import { spawnService } from '../support/processes.js';
import { freePort } from '../support/registry.js';
import { uniqueName } from '../support/unique.js';
import { waitFor } from '../support/wait.js';

const pythonModel = path.join(repoRoot, 'test', 'fixtures', 'models', 'python-tokenizer');

describe('an API killed in the middle of a batch; the client sends the batch again with the same Idempotency-Key to another API', () => {
  it('the retry fills the same batch, takes the versions already made and makes the rest: every model has one version, all released', async () => {
    const survivor = await startTestApp({ env: { MLL_RECOVERY_CHECK_MS: '300' } });
    const port = await freePort();
    // Pauses once the first item's version is recorded, before its stages are enqueued.
    const doomed = spawnService('api', { ...survivor.env, MLL_PORT: String(port), MLL_FAILPOINTS: 'intake-recorded=sleep:600000' });
    const doomedUrl = `http://127.0.0.1:${port}`;
    try {
      await waitFor('the doomed API', async () => ((await fetch(`${doomedUrl}/healthz`).then((r) => r.ok, () => false)) ? true : undefined), 60_000);
      const models = [uniqueName('resume-a'), uniqueName('resume-b'), uniqueName('resume-c')];
      const tar = new Uint8Array(await tarOf(pythonModel));
      const form = () => {
        const f = new FormData();
        for (const m of models) f.append(m, new Blob([tar]), `${m}.tar`);
        return f;
      };
      const key = `batch-${models[0]}`;
      const first = fetch(`${doomedUrl}/api/v1/batches`, { method: 'POST', headers: { 'idempotency-key': key }, body: form() }).then((r) => `answered ${r.status}`, () => 'cut off');
      await waitFor('the doomed API to pause after recording the first item', async () => (doomed.output().includes('failpoint intake-recorded: pausing') ? true : undefined), 30_000);
      doomed.kill('SIGKILL');
      await doomed.exited;
      assert.equal(await first, 'cut off');
      const retriedAt = Date.now();

      const { answer, conflicts } = await retryPastConflicts(() => api<BatchView>(`${survivor.url}/api/v1/batches`, { method: 'POST', headers: { 'idempotency-key': key }, body: form() }));
      assert.ok(conflicts >= 1, 'the retry waits while the killed request still holds the key');
      assert.equal(answer.status, 202, JSON.stringify(answer.body));
      assert.ok(Date.parse(answer.body.createdAt) < retriedAt, 'the batch the killed request started, filled again');
      assert.deepEqual(answer.body.items.map((i) => [i.model, i.version]), models.map((m) => [m, 1]));

      await waitFor('every item released', async () => {
        const view = await api<BatchView>(`${survivor.url}/api/v1/batches/${answer.body.id}`);
        return view.body.done ? view.body : undefined;
      }, 120_000).then((view) => assert.deepEqual(view.counts, { released: 3 }, JSON.stringify(view.items)));
      for (const m of models) {
        const list = await api<{ total: number }>(`${survivor.url}/api/v1/models/${m}/versions`);
        assert.equal(list.body.total, 1, `${m} has one version`);
      }
    } finally {
      doomed.kill('SIGKILL');
      await doomed.exited;
      await survivor.stop();
    }
  });
});
