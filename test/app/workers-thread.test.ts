import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { workersThreadName } from '../../src/app/workers-thread-messages.js';
import { startWorkersThread } from '../../src/app/workers-thread.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { api, tarOf, uploadTar, waitForVersion } from '../support/client.js';
import { repoRoot } from '../support/paths.js';
import { uniqueName } from '../support/unique.js';
import { startReceiver } from '../webhooks/receiver.js';

const pythonModel = path.join(repoRoot, 'test', 'fixtures', 'models', 'python-tokenizer');

describe('API and workers in one process, the workers on a thread of their own (MLL_WORKERS_THREAD)', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ env: { MLL_WORKERS_THREAD: 'true', MLL_WEBHOOK_ALLOW_PRIVATE: 'true' } });
  });
  after(() => app?.stop());

  it('runs every worker on the thread, none on the API\'s, and releases an upload', async () => {
    assert.equal(app.running.workers, undefined);
    assert.deepEqual([...app.running.workersThread!.workers].sort(), ['stage-build', 'stage-chain', 'stage-extract', 'stage-push', 'webhook-delivery']);
    const model = uniqueName('thread');
    const res = await uploadTar(app.url, model, await tarOf(pythonModel));
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const done = await waitForVersion(app.url, model, 1);
    assert.equal(done.status, 'released', JSON.stringify(done.error));
  });

  it('names the thread, so top -H and ps -L tell it from the API\'s', { skip: process.platform !== 'linux' && 'thread names are read from /proc' }, () => {
    const names = fs.readdirSync('/proc/self/task').map((tid) => fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim());
    assert.equal(names.filter((n) => n === workersThreadName).length, 1, names.join(', '));
    assert.equal(fs.readFileSync('/proc/thread-self/comm', 'utf8').trim() === workersThreadName, false, 'the main thread keeps its name');
  });

  it('serves the thread\'s stage instruments with the API\'s at /metrics, each declared once', async () => {
    const model = uniqueName('metrics');
    await uploadTar(app.url, model, await tarOf(pythonModel));
    assert.equal((await waitForVersion(app.url, model, 1)).status, 'released');
    const text = await (await fetch(`${app.url}/metrics`)).text();
    const count = (stage: string) => Number(new RegExp(`^mll_stage_duration_seconds_count\\{stage="${stage}",outcome="succeeded"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    for (const stage of ['extract', 'build', 'push']) assert.ok(count(stage) >= 1, `${stage} runs counted:\n${text}`);
    assert.match(text, /^mll_http_request_duration_seconds_count\{/m);
    assert.match(text, /^mll_process_process_cpu_user_seconds_total \d/m);
    assert.match(text, /^mll_queue_jobs\{queue="stage-extract",state="waiting"\} \d+$/m);
    const declared = [...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]);
    assert.deepEqual(declared.filter((name, i) => declared.indexOf(name) !== i), [], 'no instrument declared twice');
  });

  it('links to the API it runs beside, whose port was picked after the thread started (MLL_PORT=0)', async () => {
    const model = uniqueName('link');
    const rx = await startReceiver();
    try {
      const hook = await api(`${app.url}/api/v1/webhooks`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: rx.url, models: [model], events: ['batch.completed'] }),
      });
      assert.equal(hook.status, 201, JSON.stringify(hook.body));
      const form = new FormData();
      form.append(model, new Blob([new Uint8Array(await tarOf(pythonModel))]), 'model.tar');
      const batch = await api(`${app.url}/api/v1/batches`, { method: 'POST', body: form });
      assert.equal(batch.status, 202, JSON.stringify(batch.body));
      // The last stage (on the thread) finishes the batch: the event is made there.
      const [req] = await rx.waitFor(1, 60_000);
      const event = JSON.parse(req!.body.toString()) as { data: { items: { versionUrl: string }[] } };
      assert.equal(event.data.items[0]?.versionUrl, `${app.url}/api/v1/models/${model}/versions/1`);
    } finally {
      await rx.close();
    }
  });

  it('serves MLL_WORKERS_PORT from the thread, and drains on stop: the thread closes and reports nothing more', async () => {
    const other = await startTestApp({ env: { MLL_WORKERS_THREAD: 'true', MLL_WORKERS_PORT: '0' } });
    const thread = other.running.workersThread!;
    const ready = await api<{ status: string }>(`${other.url}/readyz`);
    assert.equal(ready.status, 200, JSON.stringify(ready.body));
    assert.equal(other.running.probes, undefined, 'the main thread runs no workers listener');
    const health = await api<{ status: string; workers: number }>(`${thread.probesUrl!}/healthz`);
    assert.deepEqual([health.status, health.body.status, health.body.workers], [200, 'ok', 5]);
    const started = Date.now();
    await other.stop();
    assert.ok(Date.now() - started < 5_000, `stopped in ${Date.now() - started} ms`);
    await assert.rejects(thread.metrics(), /workers' thread exited/);
  });
});

describe('the workers thread, seen from the main thread', () => {
  const config = loadConfig({ MLL_LOG_LEVEL: 'silent' });
  const logger = createLogger('silent');
  const fixture = (name: string) => new URL(`../fixtures/threads/${name}.ts`, import.meta.url);

  it('fails to start with the thread\'s own reason and code', async () => {
    await assert.rejects(startWorkersThread(config, logger, { entry: fixture('fails-to-start') }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'QUEUE_UNAVAILABLE');
      assert.match(err.message, /^the workers' thread could not start: Redis answered nothing$/);
      return true;
    });
  });

  it('tells when the thread dies on its own', async () => {
    const thread = await startWorkersThread(config, logger, { entry: fixture('crashes') });
    const err = await thread.crashed;
    assert.match(err.message, /^the workers' thread failed: a bug in a stage$/);
    await assert.rejects(thread.metrics(), /a bug in a stage/);
    await thread.close(100);
  });
});
