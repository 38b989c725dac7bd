import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../support/app.js';
import { api, releasedEvents, retryPastConflicts, tarOf, waitForVersion, type ApiResponse } from '../support/client.js';
import { repoRoot } from '../support/paths.js';
import { spawnService } from '../support/processes.js';
import { freePort } from '../support/registry.js';
import { uniqueName } from '../support/unique.js';
import { keysOf, testRedis } from '../support/redis.js';
import { waitFor } from '../support/wait.js';

const pythonModel = path.join(repoRoot, 'test', 'fixtures', 'models', 'python-tokenizer');

type Created = { version: number; status: string };

/**
 * Sends an upload with an Idempotency-Key to an API paused at `failpoint`, kills that API there,
 * and hands the retry (same request, same key) to `retry` against a surviving API with workers
 * (whose recovery check enqueues a version left without jobs).
 */
async function killedAt(failpoint: 'intake-numbered' | 'intake-written' | 'intake-recorded', check: (survivor: TestApp, model: string, retry: () => Promise<ApiResponse<Created>>) => Promise<void>): Promise<void> {
  const survivor = await startTestApp({ env: { MLL_RECOVERY_CHECK_MS: '300' } });
  const port = await freePort();
  const doomed = spawnService('api', { ...survivor.env, MLL_PORT: String(port), MLL_FAILPOINTS: `${failpoint}=sleep:600000` });
  const doomedUrl = `http://127.0.0.1:${port}`;
  try {
    await waitFor('the doomed API', async () => ((await fetch(`${doomedUrl}/healthz`).then((r) => r.ok, () => false)) ? true : undefined), 60_000);
    const model = uniqueName(failpoint.replace('intake-', ''));
    const body = new Uint8Array(await tarOf(pythonModel));
    const headers = { 'content-type': 'application/x-tar', 'idempotency-key': `${failpoint}-${model}` };
    const first = fetch(`${doomedUrl}/api/v1/models/${model}/versions`, { method: 'POST', headers, body }).then((r) => `answered ${r.status}`, () => 'cut off');
    await waitFor(`the doomed API to pause at ${failpoint}`, async () => (doomed.output().includes(`failpoint ${failpoint}: pausing`) ? true : undefined), 30_000);
    doomed.kill('SIGKILL');
    await doomed.exited;
    assert.equal(await first, 'cut off');
    await check(survivor, model, () => api<Created>(`${survivor.url}/api/v1/models/${model}/versions`, { method: 'POST', headers, body }));
    const list = await api<{ total: number; items: { version: number; status: string }[] }>(`${survivor.url}/api/v1/models/${model}/versions`);
    assert.equal(list.body.total, 1, `exactly one version: ${JSON.stringify(list.body.items)}`);
  } finally {
    doomed.kill('SIGKILL');
    await doomed.exited;
    await survivor.stop();
  }
}

async function assertReleasedOnce(survivor: TestApp, model: string, version: number): Promise<void> {
  // Generous: the survivor's workers take the version over after a kill, on a machine CI loads.
  const done = await waitForVersion(survivor.url, model, version, { timeoutMs: 120_000 });
  assert.equal(done.status, 'released', JSON.stringify(done.error));
  assert.equal(await releasedEvents(survivor.url, model, version), 1);
}

/** Retries past the 409s the killed request's lease gives (at least one), and expects the answer after it to be 202. */
async function waitOutLease(retry: () => Promise<ApiResponse<Created>>): Promise<ApiResponse<Created>> {
  const { answer, conflicts } = await retryPastConflicts(retry);
  assert.ok(conflicts >= 1, `the first retries are told to wait while the lease of the killed request runs (got ${answer.status} at once)`);
  assert.equal(answer.status, 202, JSON.stringify(answer.body));
  return answer;
}

describe('an API killed while it makes a version; the client retries with the same Idempotency-Key to another API', () => {
  it('after the version is recorded, before its stages are enqueued: the retry gets that version at once; it is released once', async () => {
    await killedAt('intake-recorded', async (survivor, model, retry) => {
      const answer = await retry();
      assert.equal(answer.status, 202, JSON.stringify(answer.body));
      assert.equal(answer.body.version, 1);
      assert.equal(answer.headers.get('idempotent-replayed'), 'true');
      await assertReleasedOnce(survivor, model, 1);
    });
  });

  it('after the record is written, before Redis knows it: the retry waits out the lease, then gets that version; it is released once', async () => {
    await killedAt('intake-written', async (survivor, model, retry) => {
      const answer = await waitOutLease(retry);
      assert.equal(answer.body.version, 1, JSON.stringify(answer.body));
      assert.equal(answer.headers.get('idempotent-replayed'), 'true');
      await assertReleasedOnce(survivor, model, 1);
    });
  });

  it('after the version is numbered, before its record is written: the retry waits out the lease, then makes the version itself', async () => {
    await killedAt('intake-numbered', async (survivor, model, retry) => {
      const answer = await waitOutLease(retry);
      assert.equal(answer.headers.get('idempotent-replayed'), null, 'a new answer, not the kept one (its version was never written)');
      // Number 1 went to the killed request, which never wrote it.
      assert.equal(answer.body.version, 2);
      assert.equal((await api(`${survivor.url}/api/v1/models/${model}/versions/1`)).status, 404);
      await assertReleasedOnce(survivor, model, 2);
    });
  });
});

describe('a request whose lease lapsed while it lived (Redis lost its lease key), retried meanwhile', () => {
  it('the retry adopts the written version; the request, when it goes on, keeps it: both answers name it, and it is released once', async () => {
    const survivor = await startTestApp({ env: { MLL_RECOVERY_CHECK_MS: '300' } });
    const port = await freePort();
    // Paused 6 s after the record is written, before Redis knows it; not killed.
    const slow = spawnService('api', { ...survivor.env, MLL_PORT: String(port), MLL_FAILPOINTS: 'intake-written=sleep:6000' });
    const redis = testRedis();
    try {
      await waitFor('the slow API', async () => ((await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false)) ? true : undefined), 60_000);
      const model = uniqueName('lapsed');
      const body = new Uint8Array(await tarOf(pythonModel));
      const headers = { 'content-type': 'application/x-tar', 'idempotency-key': `lapsed-${model}` };
      const first = api<Created>(`http://127.0.0.1:${port}/api/v1/models/${model}/versions`, { method: 'POST', headers, body });
      await waitFor('the slow API to pause after writing the record', async () => (slow.output().includes('failpoint intake-written: pausing') ? true : undefined), 30_000);
      // The lease goes as if Redis had lost it (the request renews it only while it exists).
      const leases = (await keysOf(survivor.prefix, redis)).filter((k) => k.includes(':idem-lease:'));
      assert.equal(leases.length, 1, JSON.stringify(leases));
      await redis.del(leases[0]!);

      const retry = await api<Created>(`${survivor.url}/api/v1/models/${model}/versions`, { method: 'POST', headers, body });
      assert.equal(retry.status, 202, JSON.stringify(retry.body));
      assert.equal(retry.body.version, 1);
      assert.equal(retry.headers.get('idempotent-replayed'), 'true', 'the retry adopted the written version');
      const answered = await first;
      assert.equal(answered.status, 202, `the request went on and kept its version: ${JSON.stringify(answered.body)}`);
      assert.equal(answered.body.version, 1);
      await assertReleasedOnce(survivor, model, 1);
      const list = await api<{ total: number }>(`${survivor.url}/api/v1/models/${model}/versions`);
      assert.equal(list.body.total, 1);
    } finally {
      redis.disconnect();
      slow.kill('SIGKILL');
      await slow.exited;
      await survivor.stop();
    }
  });
});
