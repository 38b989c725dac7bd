import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readSse, type SseMessage } from '../../src/shared/sse-reader.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { api, tarOf, uploadTar, waitForVersion } from '../support/client.js';
import { repoRoot } from '../support/paths.js';
import { uniqueName } from '../support/unique.js';

const pythonModel = path.join(repoRoot, 'test', 'fixtures', 'models', 'python-tokenizer');

async function collect(url: string, headers: Record<string, string> = {}, max = 1000): Promise<SseMessage[]> {
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const out: SseMessage[] = [];
  for await (const m of readSse(res.body as unknown as AsyncIterable<Uint8Array>)) {
    out.push(m);
    if (m.event === 'end' || out.length >= max) break;
  }
  return out;
}

describe('live status: ETags, SSE with resume, JSON events, metrics', () => {
  let app: TestApp;
  let model: string;
  before(async () => {
    app = await startTestApp();
    model = uniqueName('live');
    const res = await uploadTar(app.url, model, await tarOf(pythonModel));
    assert.equal(res.status, 202);
  });
  after(() => app?.stop());

  it('streams every transition and log line, ends when terminal, and resumes after Last-Event-ID', async () => {
    const all = await collect(`${app.url}/api/v1/models/${model}/versions/1/events`);
    const end = all.at(-1)!;
    assert.equal(end.event, 'end');
    assert.equal(JSON.parse(end.data).status, 'released');
    const statuses = all.filter((m) => m.event === 'status').map((m) => JSON.parse(m.data).status);
    assert.deepEqual(statuses, ['extracting', 'building', 'pushing', 'released']);
    assert.ok(all.some((m) => m.event === 'log'), 'build log lines are streamed');
    assert.equal(all[0]!.event, 'created');
    // Resume from the middle: only the later events come again.
    const middle = all.findIndex((m) => m.event === 'status');
    const resumed = await collect(`${app.url}/api/v1/models/${model}/versions/1/events`, { 'last-event-id': all[middle]!.id! });
    assert.deepEqual(resumed.map((m) => m.id), all.slice(middle + 1).map((m) => m.id));
  });

  it('serves the same events as JSON after ?after=', async () => {
    const first = await api<{ items: { id: string; type: string }[]; terminal: boolean; last: string }>(`${app.url}/api/v1/models/${model}/versions/1/events`);
    assert.equal(first.status, 200);
    assert.equal(first.body.terminal, true);
    const rest = await api<{ items: { id: string }[] }>(`${app.url}/api/v1/models/${model}/versions/1/events?after=${first.body.items[1]!.id}`);
    assert.deepEqual(rest.body.items.map((i) => i.id), first.body.items.slice(2).map((i) => i.id));
  });

  it('answers If-None-Match with 304 while the version is unchanged', async () => {
    await waitForVersion(app.url, model, 1);
    const url = `${app.url}/api/v1/models/${model}/versions/1`;
    const first = await fetch(url);
    const etag = first.headers.get('etag');
    assert.ok(etag);
    // fetch() adds Cache-Control: no-cache to conditional requests unless one is given; a plain
    // poller sends none, so state the default explicitly.
    const conditional = (tag: string) => fetch(url, { headers: { 'if-none-match': tag, 'cache-control': 'max-age=0' } });
    const again = await conditional(etag);
    assert.equal(again.status, 304);
    const other = await conditional('"something-else"');
    assert.equal(other.status, 200);
  });

  it('exposes Prometheus metrics: queue depths, stage durations, versions by status', async () => {
    const res = await fetch(`${app.url}/metrics`);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /mll_queue_jobs\{queue="stage-extract",state="waiting"\} \d+/);
    assert.match(text, /mll_versions\{status="released"\} [1-9]/);
    assert.match(text, /mll_stage_duration_seconds_count\{stage="build",outcome="succeeded"\} [1-9]/);
  });
});

describe('live status: a stream ends only after the terminal event', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ workers: false });
  });
  after(() => app?.stop());

  it('waits for the terminal event when the record turned terminal a moment before it (and ends anyway when it never comes)', async () => {
    const model = uniqueName('race');
    assert.equal((await uploadTar(app.url, model, await tarOf(pythonModel))).status, 202);
    const { catalog } = app.running.services;
    const url = `${app.url}/api/v1/models/${model}/versions/1/events`;
    // The moment between the worker's cache write and its event append, held open.
    const record = await catalog.get(model, 1);
    await catalog.cache({ ...record, status: 'released', updatedAt: new Date().toISOString() });
    const following = collect(url);
    await new Promise((r) => setTimeout(r, 300));
    await catalog.appendEvent(model, 1, { type: 'status', status: 'released', stage: 'push' });
    const seen = await following;
    assert.deepEqual(seen.slice(-2).map((m) => m.event), ['status', 'end'], 'the released event comes before the end');
    assert.equal(JSON.parse(seen.at(-2)!.data).status, 'released');

    // A record terminal for longer than the grace whose terminal event never came (say it was lost with Redis): the stream still ends.
    const other = uniqueName('race');
    assert.equal((await uploadTar(app.url, other, await tarOf(pythonModel))).status, 202);
    const old = await catalog.get(other, 1);
    await catalog.cache({ ...old, status: 'failed', updatedAt: new Date(Date.now() - 10_000).toISOString() });
    const ended = await collect(`${app.url}/api/v1/models/${other}/versions/1/events`);
    assert.equal(ended.at(-1)!.event, 'end');
    assert.equal(JSON.parse(ended.at(-1)!.data).status, 'failed');
  });
});
