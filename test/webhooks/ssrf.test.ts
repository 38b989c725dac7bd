import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { VersionRecord } from '../../src/domain/version.js';
import { createHttpSink, type Resolver } from '../../src/webhooks/http-sink.js';
import { generateSecret } from '../../src/webhooks/signature.js';
import type { Delivery, DeliveryAttempt } from '../../src/webhooks/types.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { api } from '../support/client.js';
import { uniqueName } from '../support/unique.js';
import { startReceiver, type Receiver } from './receiver.js';

/** A resolver that answers like a rebinding DNS server: `name` now points at loopback. */
const rebinding = (name: string, address = '127.0.0.1'): Resolver => (hostname, _options, callback) => {
  if (hostname === name) callback(null, [{ address, family: address.includes(':') ? 6 : 4 }]);
  else callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), []);
};

const body = Buffer.from('{"type":"version.released"}');

describe('webhook targets are checked when connecting (sink)', () => {
  let rx: Receiver;
  before(async () => {
    rx = await startReceiver();
  });
  after(async () => rx.close());

  it('refuses a name that now resolves to loopback (DNS rebinding), before any byte is sent', async () => {
    const sink = createHttpSink({ policy: { allowPrivate: false }, resolve: rebinding('hooks.rebind.example') });
    try {
      await assert.rejects(
        sink.send({ url: `http://hooks.rebind.example:${rx.port}/hooks`, headers: {}, body, timeoutMs: 2000 }),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, 'WEBHOOK_TARGET_BLOCKED');
          assert.match(err.message, /hooks\.rebind\.example resolves to 127\.0\.0\.1 \(loopback\)/);
          return true;
        },
      );
      assert.equal(rx.requests.length, 0);
    } finally {
      sink.close();
    }
  });

  it('refuses every blocked form: IPv6 loopback, link-local metadata, IPv4-mapped, literals', async () => {
    const cases: Array<[string, Resolver | undefined, RegExp]> = [
      [`http://v6.rebind.example:${rx.port}/`, rebinding('v6.rebind.example', '::1'), /::1 \(loopback\)/],
      [`http://meta.rebind.example:${rx.port}/`, rebinding('meta.rebind.example', '169.254.169.254'), /link-local/],
      [`http://mapped.rebind.example:${rx.port}/`, rebinding('mapped.rebind.example', '::ffff:127.0.0.1'), /loopback \(embedded in IPv6\)/],
      [`http://127.0.0.1:${rx.port}/`, undefined, /127\.0\.0\.1 \(loopback\)/],
      [`http://[::ffff:7f00:1]:${rx.port}/`, undefined, /loopback/],
      [`http://0.0.0.0:${rx.port}/`, undefined, /unspecified/],
    ];
    for (const [url, resolve, reason] of cases) {
      const sink = createHttpSink({ policy: { allowPrivate: false }, ...(resolve ? { resolve } : {}) });
      try {
        await assert.rejects(sink.send({ url, headers: {}, body, timeoutMs: 2000 }), reason, url);
      } finally {
        sink.close();
      }
    }
    assert.equal(rx.requests.length, 0);
  });

  it('connects to the address the checked lookup returned (allowed when private targets are)', async () => {
    const sink = createHttpSink({ policy: { allowPrivate: true }, resolve: rebinding('ok.rebind.example') });
    try {
      const res = await sink.send({ url: `http://ok.rebind.example:${rx.port}/hooks`, headers: { 'webhook-id': 'evt_1' }, body, timeoutMs: 2000 });
      assert.equal(res.status, 204);
      const [req] = await rx.waitFor(1);
      assert.equal(req!.headers.host, `ok.rebind.example:${rx.port}`);
      assert.ok(req!.body.equals(body));
    } finally {
      sink.close();
      rx.requests.length = 0;
    }
  });

  it('times out a receiver that does not answer', async () => {
    const server = http.createServer(() => { /* never answers */ });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const sink = createHttpSink({ policy: { allowPrivate: true } });
    try {
      const started = Date.now();
      await assert.rejects(
        sink.send({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, headers: {}, body, timeoutMs: 300 }),
        (err: Error) => err.name === 'TimeoutError' && /no answer within 300 ms/.test(err.message),
      );
      assert.ok(Date.now() - started < 2000);
    } finally {
      sink.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('does not follow redirects', async () => {
    const redirecting = await startReceiver(() => ({ status: 307, headers: { location: 'http://169.254.169.254/latest' } }));
    const sink = createHttpSink({ policy: { allowPrivate: true } });
    try {
      const res = await sink.send({ url: redirecting.url, headers: {}, body, timeoutMs: 2000 });
      assert.equal(res.status, 307);
      assert.equal(redirecting.requests.length, 1);
    } finally {
      sink.close();
      await redirecting.close();
    }
  });
});

describe('webhook targets when private targets are not allowed (service)', () => {
  let app: TestApp;
  let rx: Receiver;
  before(async () => {
    app = await startTestApp({ env: { MLL_WEBHOOK_ATTEMPTS: '3', MLL_WEBHOOK_BACKOFF_MS: '50', MLL_WEBHOOK_TIMEOUT_MS: '2000' } });
    rx = await startReceiver();
  });
  after(async () => {
    await rx?.close();
    await app?.stop();
  });

  it('refuses loopback URLs at registration with a clear 400', async () => {
    assert.equal(app.config.webhookAllowPrivate, false);
    for (const url of [`http://localhost:${rx.port}/hooks`, rx.url, `http://[::1]:${rx.port}/`, 'http://169.254.169.254/latest/meta-data']) {
      const res = await api<{ error: { code: string; message: string } }>(`${app.url}/api/v1/webhooks`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url }),
      });
      assert.equal(res.status, 400, url);
      assert.equal(res.body.error.code, 'INVALID_WEBHOOK_URL');
      assert.match(res.body.error.message, /public addresses unless MLL_WEBHOOK_ALLOW_PRIVATE=true/);
    }
  });

  it('refuses at connect time a URL that resolves to 127.0.0.1 now, whatever it did at registration', async () => {
    const model = uniqueName('whssrf');
    const { webhooks, catalog } = app.running.services;
    // As if `localhost` had resolved to a public address when it was registered (DNS rebinding).
    const now = new Date().toISOString();
    const id = `wh_${'1'.repeat(8)}${Date.now().toString(16).padStart(12, '0').slice(-12)}`;
    await webhooks.repository.saveEndpoint({
      id, url: `http://localhost:${rx.port}/hooks`, events: ['version.released'], models: [model], description: null,
      secret: generateSecret(), enabled: true, disabledReason: null, createdAt: now, updatedAt: now,
    });
    const record: VersionRecord = {
      model, version: 1, status: 'queued', createdAt: now, updatedAt: now, description: null, labels: {}, modelType: null,
      payload: { key: `uploads/${model}`, digest: `sha256:${'0'.repeat(64)}`, size: 1, format: 'tar' },
      stages: {}, contract: null, contractDigest: null, tree: null, image: null, warnings: [], error: null, diff: null, batchId: null,
    };
    await catalog.create(record);
    await catalog.update(model, 1, (r) => {
      r.status = 'released';
    });
    const deadline = Date.now() + 10_000;
    let items: Array<Delivery & { attempts: DeliveryAttempt[] }> = [];
    while (Date.now() < deadline) {
      items = (await api<{ items: typeof items }>(`${app.url}/api/v1/webhooks/${id}/deliveries`)).body.items;
      if (items.length === 1 && items[0]!.status !== 'pending') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(items.length, 1, JSON.stringify(items));
    const [delivery] = items;
    assert.equal(delivery!.status, 'failed');
    assert.equal(delivery!.outcome, 'failed', 'a refused target is final, not retried');
    assert.equal(delivery!.attempts.length, 1);
    assert.equal(delivery!.attempts[0]!.statusCode, null);
    assert.match(delivery!.attempts[0]!.error!, /localhost resolves to (127\.0\.0\.1|::1) \(loopback\)/);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(rx.requests.length, 0, 'nothing reached the loopback receiver');
  });
});
