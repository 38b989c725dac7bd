import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../support/app.js';
import { tarOf, uploadTar, waitForVersion } from '../support/client.js';
import { repoRoot } from '../support/paths.js';
import { uniqueName } from '../support/unique.js';

const pythonModel = path.join(repoRoot, 'test', 'fixtures', 'models', 'python-tokenizer');

describe("a stage's start is shown at once and written with its end", () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ env: { MLL_FAILPOINTS: 'extract-mid=sleep:2500' } });
  });
  after(() => app?.stop());

  it('readers see the stage running while version.json still holds the state before it; the end writes start and finish together', async () => {
    const model = uniqueName('start');
    const res = await uploadTar(app.url, model, await tarOf(pythonModel));
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const running = await waitForVersion(app.url, model, 1, { statuses: ['extracting'] });
    assert.ok(running.stages.extract?.startedAt, 'the start is shown');
    assert.equal(running.stages.extract?.attempts, 1);

    const durable = await app.running.services.catalog.getDurable(model, 1);
    assert.equal(durable.status, 'queued');
    assert.equal(durable.stages.extract, undefined, 'nothing written at the start');

    const done = await waitForVersion(app.url, model, 1, { timeoutMs: 60_000 });
    assert.equal(done.status, 'released', JSON.stringify(done.error));
    const written = await app.running.services.catalog.getDurable(model, 1);
    assert.equal(written.stages.extract?.startedAt, running.stages.extract?.startedAt, 'the start shown is the start written');
    assert.ok(Date.parse(written.stages.extract!.finishedAt!) - Date.parse(written.stages.extract!.startedAt) >= 2000, 'the finish comes after the paused stage');
    for (const stage of ['build', 'push'] as const) assert.ok(written.stages[stage]?.startedAt && written.stages[stage]?.finishedAt, stage);
  });
});
