import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stageJobId, versionJobId } from '../../queues/jobs.js';
import { stageQueueNames, versionQueueName } from '../../queues/names.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { tarOf, uploadTar, waitForVersion } from '../support/client.js';
import { repoRoot } from '../support/paths.js';
import { uniqueName } from '../support/unique.js';

const pythonModel = path.join(repoRoot, 'test', 'fixtures', 'models', 'python-tokenizer');

describe('a version\'s chained job', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ env: { MLL_FAILPOINTS: 'build-mid=sleep:1500' } });
  });
  after(async () => {
    await app.stop();
  });

  it('runs every stage in one job when the process serves them all, and writes the record once, at the end', async () => {
    const model = uniqueName('chained');
    const res = await uploadTar(app.url, model, await tarOf(pythonModel));
    assert.equal(res.status, 202, JSON.stringify(res.body));

    // While it builds, readers see extract's end; the store gets it with the release, in one write.
    const building = await waitForVersion(app.url, model, 1, { statuses: ['building', 'pushing', 'released', 'failed'], timeoutMs: 60_000 });
    assert.equal(building.status, 'building');
    assert.ok(building.contract && building.stages.extract?.finishedAt, 'extract\'s output is shown');
    const durable = await app.running.services.catalog.getDurable(model, 1);
    assert.deepEqual([durable.status, durable.contract, durable.stages], ['queued', null, {}], 'nothing written between the stages');

    const done = await waitForVersion(app.url, model, 1, { timeoutMs: 60_000 });
    assert.equal(done.status, 'released', JSON.stringify(done.error));
    assert.ok((['extract', 'build', 'push'] as const).every((s) => done.stages[s]?.finishedAt && done.stages[s]?.attempts === 1));

    const { queue } = app.running.services;
    const ref = { model, version: 1 };
    const job = await queue(versionQueueName).getJob(versionJobId(ref));
    assert.deepEqual(job?.data, { model, version: 1 });
    assert.equal(await queue(stageQueueNames.extract).getJob(stageJobId('extract', ref)), undefined, 'no extract job');
    assert.deepEqual(job?.returnvalue, { done: true });
    assert.equal(await queue(stageQueueNames.build).getJob(stageJobId('build', ref)), undefined, 'no build job');
    assert.equal(await queue(stageQueueNames.push).getJob(stageJobId('push', ref)), undefined, 'no push job');

    const statuses = (await app.running.services.catalog.readEvents(model, 1)).filter((e) => e.type === 'status').map((e) => e.status);
    assert.deepEqual(statuses, ['extracting', 'building', 'pushing', 'released'], 'each stage shown once, in order');
  });
});
