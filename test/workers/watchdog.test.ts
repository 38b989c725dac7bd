import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../support/app.js';
import { tarOf, uploadTar, waitForVersion } from '../support/client.js';
import { repoRoot } from '../support/paths.js';
import { uniqueName } from '../support/unique.js';

const pythonModel = path.join(repoRoot, 'test', 'fixtures', 'models', 'python-tokenizer');

describe('a stage worker that stops taking jobs is replaced (MLL_WORKER_STUCK_MS)', () => {
  let app: TestApp;
  before(async () => {
    // Workers in this thread, so the test reaches the BullMQ worker itself.
    app = await startTestApp({ env: { MLL_WORKERS_THREAD: 'false', MLL_WORKER_STUCK_MS: '3000' } });
  });
  after(() => app?.stop());

  it('a worker whose wait for the next job never returns (a blocking connection lost in a failover) is replaced, and the version is released', async () => {
    const pool = app.running.workers!;
    const stuck = pool.workers.find((w) => w.name === 'stage-chain')!;
    // From its next wait on, the worker waits forever, as BullMQ's did after some Sentinel failovers.
    Object.assign(stuck, { waitForJob: () => new Promise<number>(() => undefined) });
    const tar = await tarOf(pythonModel);
    // The wait already under way may still return and take this one.
    const first = uniqueName('watchdog');
    assert.equal((await uploadTar(app.url, first, tar)).status, 202);
    assert.equal((await waitForVersion(app.url, first, 1)).status, 'released');

    const second = uniqueName('watchdog');
    assert.equal((await uploadTar(app.url, second, tar)).status, 202);
    const done = await waitForVersion(app.url, second, 1, { timeoutMs: 60_000 });
    assert.equal(done.status, 'released', JSON.stringify(done.error));

    const replacement = pool.workers.find((w) => w.name === 'stage-chain')!;
    assert.notEqual(replacement, stuck, 'the pool lists the new worker');
    assert.equal(replacement.isRunning(), true);
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    assert.match(metrics, /^mll_worker_restarts_total\{queue="stage-chain"\} 1$/m);
    assert.doesNotMatch(metrics, /^mll_worker_restarts_total\{queue="stage-(extract|build|push)"\}/m, 'the healthy workers were left alone');
  });
});
