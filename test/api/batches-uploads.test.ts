import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readSse } from '../../src/shared/sse-reader.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { api, tarOf, uploadTar, waitForVersion } from '../support/client.js';
import { repoRoot } from '../support/paths.js';
import { makeTar } from '../support/tar.js';
import { uniqueName } from '../support/unique.js';

const pythonModel = path.join(repoRoot, 'test', 'fixtures', 'models', 'python-tokenizer');

interface BatchView {
  id: string;
  done: boolean;
  total: number;
  counts: Record<string, number>;
  items: { index: number; model: string; version: number | null; status: string; error: { code: string; message: string } | null }[];
  url: string;
}

async function waitForBatch(app: TestApp, id: string): Promise<BatchView> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const res = await api<BatchView>(`${app.url}/api/v1/batches/${id}`);
    assert.equal(res.status, 200);
    if (res.body.done) return res.body;
    assert.ok(Date.now() < deadline, `batch not done: ${JSON.stringify(res.body.counts)}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

for (const store of ['fs', 'minio'] as const) {
  describe(`batches and presigned uploads (${store} store)`, () => {
    let app: TestApp;
    before(async () => {
      app = await startTestApp({ store });
    });
    after(() => app?.stop());

    it('takes a multipart batch where one broken item fails alone with its reason', async () => {
      const good = await tarOf(pythonModel);
      const a = uniqueName('ba');
      const b = uniqueName('bb');
      const form = new FormData();
      form.append(a, new Blob([new Uint8Array(good)]), 'a.tar');
      form.append('metadata', JSON.stringify({ model: b, labels: { via: 'metadata-part' } }));
      form.append('payload', new Blob([new Uint8Array(good)]), 'b.tar');
      form.append('Not A Name', new Blob([new Uint8Array(good)]), 'c.tar');
      form.append(uniqueName('bd'), new Blob([new Uint8Array(await makeTar([{ name: '../escape', body: 'x' }]))]), 'd.tar');
      const res = await api<BatchView>(`${app.url}/api/v1/batches`, { method: 'POST', body: form });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      assert.equal(res.body.total, 4);
      assert.deepEqual(res.body.items.map((i) => i.status === 'rejected'), [false, false, true, true], JSON.stringify(res.body.items));
      assert.equal(res.body.items[2]!.error?.code, 'INVALID_MODEL_NAME');
      assert.equal(res.body.items[3]!.error?.code, 'UNSAFE_ARCHIVE');

      // Follow the batch's events live until every item is terminal.
      const stream = await fetch(`${res.body.url}/events`, { headers: { accept: 'text/event-stream' } });
      const seen: string[] = [];
      for await (const m of readSse(stream.body as unknown as AsyncIterable<Uint8Array>)) {
        if (m.event === 'end') break;
        const e = JSON.parse(m.data) as { model: string; status: string };
        seen.push(`${e.model}:${e.status}`);
      }
      assert.ok(seen.includes(`${a}:released`) && seen.includes(`${b}:released`), seen.join(', '));

      const done = await waitForBatch(app, res.body.id);
      assert.deepEqual(done.counts, { released: 2, rejected: 2 });
      const bVersion = await waitForVersion(app.url, b, 1);
      assert.deepEqual(bVersion.labels, { via: 'metadata-part' });
      assert.equal(bVersion.batchId, res.body.id);
    });

    it('creates versions from presigned uploads, alone or in a JSON batch; an upload makes one version only', async () => {
      const model = uniqueName('pre');
      const start = await api<{ id: string; url: string; method: string }>(`${app.url}/api/v1/uploads`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}',
      });
      assert.equal(start.status, 201, JSON.stringify(start.body));
      const notYet = await api<{ error: { code: string } }>(`${app.url}/api/v1/models/${model}/versions`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ upload: start.body.id }),
      });
      assert.equal(notYet.status, 404);
      const put = await fetch(start.body.url, { method: 'PUT', body: new Uint8Array(await tarOf(pythonModel, true)) });
      assert.equal(put.status, 200, await put.text());
      const created = await api<{ version: number; payload: { format: string } }>(`${app.url}/api/v1/models/${model}/versions`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ upload: start.body.id, metadata: { description: 'presigned' } }),
      });
      assert.equal(created.status, 202, JSON.stringify(created.body));
      assert.equal(created.body.payload.format, 'tar+gzip');
      const again = await api<{ error: { code: string } }>(`${app.url}/api/v1/models/${model}/versions`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ upload: start.body.id }),
      });
      assert.equal(again.status, 409);
      assert.equal((await waitForVersion(app.url, model, 1)).status, 'released');

      // A JSON batch of presigned uploads, one of them never uploaded.
      const ids: string[] = [];
      for (let i = 0; i < 2; i++) {
        const u = await api<{ id: string; url: string }>(`${app.url}/api/v1/uploads`, { method: 'POST' });
        ids.push(u.body.id);
        if (i === 0) assert.equal((await fetch(u.body.url, { method: 'PUT', body: new Uint8Array(await tarOf(pythonModel)) })).status, 200);
      }
      const batchModel = uniqueName('jb');
      const batch = await api<BatchView>(`${app.url}/api/v1/batches`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ items: ids.map((upload) => ({ model: batchModel, upload })) }),
      });
      assert.equal(batch.status, 202, JSON.stringify(batch.body));
      assert.equal(batch.body.items[1]!.error?.code, 'NOT_FOUND');
      const done = await waitForBatch(app, batch.body.id);
      assert.deepEqual(done.counts, { released: 1, rejected: 1 });
    });

    it('replays a creating POST with the same Idempotency-Key and refuses the key for another request', async () => {
      const model = uniqueName('idem');
      const body = await tarOf(pythonModel);
      const key = uniqueName('key');
      const send = (b: Buffer, k = key) => api<{ version: number; error?: { code: string } }>(`${app.url}/api/v1/models/${model}/versions`, {
        method: 'POST', headers: { 'content-type': 'application/x-tar', 'idempotency-key': k }, body: new Uint8Array(b),
      });
      const first = await send(body);
      assert.equal(first.status, 202);
      const replay = await send(body);
      assert.equal(replay.status, 202);
      assert.equal(replay.headers.get('idempotent-replayed'), 'true');
      assert.equal(replay.body.version, first.body.version);
      const different = await send(Buffer.concat([body, Buffer.alloc(1024)]));
      assert.equal(different.status, 409);
      assert.equal(different.body.error?.code, 'IDEMPOTENCY_KEY_REUSED');
      const list = await api<{ total: number }>(`${app.url}/api/v1/models/${model}/versions`);
      assert.equal(list.body.total, 1, 'the retry created nothing new');
      // A request that failed does not hold its key.
      const badKey = uniqueName('key');
      assert.equal((await send(Buffer.from('not a tar at all, not a tar at all '.repeat(20)), badKey)).status, 422);
      assert.equal((await send(body, badKey)).status, 202);
      const upload = await uploadTar(app.url, model, body);
      assert.equal(upload.body.version, 3);
    });
  });
}
