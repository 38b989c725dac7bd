import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../support/app.js';
import { tarOf, uploadTar, waitForVersion } from '../support/client.js';
import { repoRoot } from '../support/paths.js';
import { uniqueName } from '../support/unique.js';

const pythonModel = path.join(repoRoot, 'test', 'fixtures', 'models', 'python-tokenizer');

describe('MLL_WORKER_STAGES: each stage in the process that names it', () => {
  const apps: TestApp[] = [];
  after(async () => {
    for (const app of apps.reverse()) await app.stop();
  });

  it('a process running only extract leaves build and push to a process that runs them', async () => {
    const extractOnly = await startTestApp({ env: { MLL_WORKER_STAGES: 'extract' } });
    apps.push(extractOnly);
    // With the API beside them, the workers run on a thread of their own (MLL_WORKERS_THREAD).
    assert.deepEqual(extractOnly.running.workersThread?.workers, ['stage-extract', 'stage-chain']);
    const model = uniqueName('split');
    const res = await uploadTar(extractOnly.url, model, await tarOf(pythonModel));
    assert.equal(res.status, 202, JSON.stringify(res.body));

    // Extract finishes; nothing in this deployment builds, so the version waits after it.
    const deadline = Date.now() + 30_000;
    let seen = await waitForVersion(extractOnly.url, model, 1, { statuses: ['extracting', 'building', 'pushing', 'released', 'failed'] });
    while (!seen.stages.extract?.finishedAt && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      seen = await waitForVersion(extractOnly.url, model, 1, { statuses: ['extracting', 'building', 'pushing', 'released', 'failed'] });
    }
    assert.ok(seen.stages.extract?.finishedAt, 'extract finished');
    await new Promise((r) => setTimeout(r, 500));
    const waiting = await waitForVersion(extractOnly.url, model, 1, { statuses: ['extracting', 'building', 'pushing', 'released', 'failed'] });
    assert.equal(waiting.stages.build, undefined, 'no build started without a build worker');

    // A second process of the same deployment runs build and push (and no API).
    const rest = await startTestApp({ api: false, env: { ...extractOnly.env, MLL_WORKER_STAGES: 'build,push' } });
    apps.push(rest);
    assert.deepEqual(rest.running.workers?.workers.map((w) => w.name), ['stage-build', 'stage-push']);
    const done = await waitForVersion(extractOnly.url, model, 1, { timeoutMs: 60_000 });
    assert.equal(done.status, 'released', JSON.stringify(done.error));
  });
});
