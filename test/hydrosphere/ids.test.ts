import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rebuildFromStore } from '../../src/app/recovery.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { cleanRedis } from '../support/redis.js';
import { uniqueName } from '../support/unique.js';
import { hydrosphereTarball, requestsCall, requestsUpload } from './wire.js';

type Build = { id: number; status: string; version: number; model: { id: number; name: string } };

describe('Hydrosphere ids: one per version, never reused, kept by the object store through a Redis loss', () => {
  let app: TestApp;
  let hs: string;
  before(async () => {
    // No periodic recovery: the test decides when Redis is rebuilt.
    app = await startTestApp({ workers: false, env: { MLL_RECOVERY_CHECK_MS: '0' } });
    hs = `http://${new URL(app.url).host}`;
  });
  after(() => app?.stop());

  const upload = async (name: string) => {
    const res = await requestsUpload(hs, '/api/v1/model/upload', [
      { name: 'model_type', value: 'python:3.6' },
      { name: 'model_name', value: name },
      { name: 'payload', file: await hydrosphereTarball({ 'src/func_main.py': 'def predict(x):\n    return x\n' }), filename: 'filename' },
    ]);
    assert.equal(res.status, 200, res.text);
    return res.json as Build;
  };

  it('gives one version one id however many requests race to give it one', async () => {
    const ids = app.running.services.hydrosphereIds;
    const ref = { model: uniqueName('race'), version: 1 };
    const given = await Promise.all(Array.from({ length: 20 }, () => ids.ensureVersion(ref)));
    assert.equal(new Set(given).size, 1, `ids given: ${given.join(',')}`);
    const models = await Promise.all(Array.from({ length: 20 }, () => ids.ensureModel(ref.model, 'Race.Model')));
    assert.equal(new Set(models.map((m) => m.id)).size, 1);
    assert.equal(models[0]!.name, 'Race.Model');
    assert.ok(!given.includes(models[0]!.id), 'model and version ids never collide');
  });

  it('resolves ids after Redis lost everything, and never hands one out again', async () => {
    const name = uniqueName('lost');
    const first = await upload(name);
    const second = await upload(name);
    assert.equal(second.model.id, first.model.id);
    assert.ok(second.id > first.id);

    await cleanRedis(app.prefix);
    // Before any rebuild the store answers: a build is found by its id.
    const found = await requestsCall(hs, 'GET', `/api/v1/model/build/${second.id}`);
    assert.equal(found.status, 200, found.text);
    assert.equal((found.json as Build).version, 2);

    // A new upload while Redis has no counter: the counter restarts at 1, every recorded id is skipped.
    const third = await upload(name);
    assert.ok(third.id > second.id, `id ${third.id} after ${second.id}`);
    assert.equal(third.model.id, first.model.id, 'the model keeps its id');

    await rebuildFromStore(app.running.services);
    const list = await requestsCall(hs, 'GET', '/api/v2/model/version');
    assert.equal(list.status, 200, list.text);
    const mine = (list.json as { id: number; modelVersion: number; model: { name: string } }[]).filter((mv) => mv.model.name === name);
    assert.deepEqual(mine.map((mv) => [mv.id, mv.modelVersion]), [[first.id, 1], [second.id, 2], [third.id, 3]]);
  });
});
