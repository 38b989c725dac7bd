import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FlowProducer } from 'bullmq';
import { Intake } from '../../src/intake/intake.js';
import { keys } from '../../src/domain/keys.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { releasedEvents, tarOf, waitForVersion } from '../support/client.js';
import { repoRoot } from '../support/paths.js';
import { uniqueName } from '../support/unique.js';
import { waitFor } from '../support/wait.js';
import { Readable } from 'node:stream';
import { redisKeys } from '../../src/catalog/redis-keys.js';

const pythonModel = path.join(repoRoot, 'test', 'fixtures', 'models', 'python-tokenizer');

describe('a version whose upload was taken but never enqueued', () => {
  let app: TestApp;
  before(async () => {
    // Orphans are looked for at every check and enqueued after three checks' time.
    app = await startTestApp({ env: { MLL_RECOVERY_CHECK_MS: '300' } });
  });
  after(() => app?.stop());

  /**
   * Takes an upload as an API process that stops right after writing the record would: its
   * enqueue never happens (createVersion never returns here). Resolves once the record is written.
   */
  async function orphanVersion(model: string): Promise<void> {
    const s = app.running.services;
    const frozen = { add: () => new Promise<never>(() => undefined) } as unknown as FlowProducer;
    const intake = new Intake({ config: s.config, store: s.store, redis: s.redis, catalog: s.catalog, flows: frozen, batches: s.batches, logger: s.logger });
    const payload = await intake.receive(Readable.from(await tarOf(pythonModel)));
    void intake.createVersion(model, payload, { metadata: {} });
    await waitFor('the record to be written', () => s.catalog.get(model, 1), 10_000);
  }

  it('is enqueued by a running process and released, once', async () => {
    const model = uniqueName('orphan');
    await orphanVersion(model);
    assert.equal((await app.running.services.catalog.get(model, 1)).status, 'queued');
    assert.equal(await app.running.services.queue('stage-chain').getJob(`${model}.v1`), undefined, 'no job was added');

    const done = await waitForVersion(app.url, model, 1, { timeoutMs: 60_000 });
    assert.equal(done.status, 'released', JSON.stringify(done.error));
    assert.equal(await releasedEvents(app.url, model, 1), 1);
    const k = redisKeys(app.config.prefix);
    assert.equal(await app.running.services.redis.zscore(k.queuedSince(), `${model}/1`), null, 'no longer listed as queued');
  });

  it('leaves the list when the store no longer has its record (its upload failed and was removed)', async () => {
    const model = uniqueName('gone');
    await orphanVersion(model);
    const s = app.running.services;
    const k = redisKeys(app.config.prefix);
    assert.notEqual(await s.redis.zscore(k.queuedSince(), `${model}/1`), null, 'listed as queued');
    await s.store.delete(keys.versionRecord(model, 1));
    await waitFor('the version to leave the queued list', async () => ((await s.redis.zscore(k.queuedSince(), `${model}/1`)) === null ? true : undefined), 20_000);
    assert.equal(await s.queue('stage-chain').getJob(`${model}.v1`), undefined, 'nothing enqueued for it');
  });
});
