import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../support/app.js';
import { api, retryPastConflicts, tarOf } from '../support/client.js';
import { repoRoot } from '../support/paths.js';
import { uniqueName } from '../support/unique.js';

const pythonModel = path.join(repoRoot, 'test', 'fixtures', 'models', 'python-tokenizer');

/** A request body as it goes on the wire: its content type and bytes. */
async function encoded(form: FormData): Promise<{ type: string; bytes: Buffer }> {
  const r = new Response(form);
  return { type: r.headers.get('content-type')!, bytes: Buffer.from(await r.arrayBuffer()) };
}

/** Sends the head and half the body of a POST over a raw socket, then closes the connection. */
async function sendHalfAndCut(url: string, route: string, type: string, bytes: Buffer, key: string): Promise<void> {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(`POST ${route} HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: ${type}\r\nContent-Length: ${bytes.length}\r\nIdempotency-Key: ${key}\r\n\r\n`);
  socket.write(bytes.subarray(0, Math.floor(bytes.length / 2)));
  await new Promise((resolve) => setTimeout(resolve, 300));
  socket.destroy();
}

describe('an upload whose connection is cut midway ends at once: the retry with the same Idempotency-Key goes ahead', () => {
  let app: TestApp;
  let tar: Buffer;
  before(async () => {
    app = await startTestApp();
    tar = await tarOf(pythonModel);
  });
  after(() => app?.stop());

  const cases: { name: string; route: (model: string) => string; body: (model: string) => Promise<{ type: string; bytes: Buffer }> }[] = [
    { name: 'a tar body', route: (m) => `/api/v1/models/${m}/versions`, body: async () => ({ type: 'application/x-tar', bytes: tar }) },
    {
      name: 'a multipart upload',
      route: (m) => `/api/v1/models/${m}/versions`,
      body: async () => {
        const form = new FormData();
        form.append('payload', new Blob([new Uint8Array(tar)]), 'model.tar');
        return encoded(form);
      },
    },
    {
      name: 'a multipart batch',
      route: () => '/api/v1/batches',
      body: async (m) => {
        const form = new FormData();
        form.append(m, new Blob([new Uint8Array(tar)]), `${m}.tar`);
        form.append(`${m}-b`, new Blob([new Uint8Array(tar)]), `${m}-b.tar`);
        return encoded(form);
      },
    },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const model = uniqueName('cut');
      const { type, bytes } = await c.body(model);
      const key = `cut-${model}`;
      await sendHalfAndCut(app.url, c.route(model), type, bytes, key);
      const started = Date.now();
      const { answer } = await retryPastConflicts(() => api(`${app.url}${c.route(model)}`, { method: 'POST', headers: { 'content-type': type, 'idempotency-key': key }, body: new Uint8Array(bytes) }), 100);
      assert.equal(answer.status, 202, JSON.stringify(answer.body));
      // The cut request answered (with its error) within moments, freeing the key; not after a lapse.
      assert.ok(Date.now() - started < 5_000, `the key was held ${Date.now() - started} ms after the cut`);
      const list = await api<{ total: number }>(`${app.url}/api/v1/models/${model}/versions`);
      assert.equal(list.body.total, 1, 'one version');
    });
  }
});
