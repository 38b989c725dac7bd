import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../support/app.js';
import { api } from '../support/client.js';

// What a workers-only process serves for its liveness and readiness probes and for scraping.
describe('workers process: health and metrics listener (MLL_WORKERS_PORT)', () => {
  let app: TestApp;
  let url: string;

  before(async () => {
    app = await startTestApp({ api: false, workers: true, env: { MLL_WORKERS_PORT: '0' } });
    assert.ok(app.running.probes, 'the listener runs when MLL_WORKERS_PORT is set');
    url = app.running.probes.url;
  });
  after(() => app?.stop());

  it('is ready when Redis, the store, the builder and the target answer', async () => {
    const ready = await api<{ status: string; checks: Record<string, { ok: boolean }> }>(`${url}/readyz`);
    assert.equal(ready.status, 200, JSON.stringify(ready.body));
    assert.deepEqual(Object.keys(ready.body.checks).sort(), ['builder', 'redis', 'store', 'target']);
  });

  it('serves queue depths from Redis and its own instruments without a token', async () => {
    const res = await fetch(`${url}/metrics`);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /^mll_queue_jobs\{queue="stage-extract",state="waiting"\} \d+$/m);
    assert.match(text, /^# TYPE mll_stage_duration_seconds histogram$/m);
  });

  it('is live while its workers run, not when one stopped on its own; draining keeps it live and unready', async () => {
    assert.equal((await api(`${url}/healthz`)).status, 200);
    const build = app.running.workers!.workers.find((w) => w.name === 'stage-build')!;
    await build.close();
    const dead = await api<{ status: string; stopped: string[] }>(`${url}/healthz`);
    assert.equal(dead.status, 503);
    assert.deepEqual(dead.body.stopped, ['stage-build']);

    app.running.probes!.draining.value = true;
    assert.equal((await api(`${url}/healthz`)).status, 200, 'a draining process is not restarted');
    const ready = await api<{ status: string }>(`${url}/readyz`);
    assert.equal(ready.status, 503);
    assert.equal(ready.body.status, 'draining');
  });
});

describe('workers process without MLL_WORKERS_PORT', () => {
  it('opens no listener', async () => {
    const app = await startTestApp({ api: false, workers: true });
    try {
      assert.equal(app.running.probes, undefined);
    } finally {
      await app.stop();
    }
  });
});
