import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { redisKeys } from '../../src/catalog/redis-keys.js';
import type { VersionRecord } from '../../src/domain/version.js';
import type { Delivery, DeliveryAttempt } from '../../src/webhooks/types.js';
import { verify } from '../../src/webhooks/signature.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { api, tarOf, uploadMultipart, waitForVersion, type PresentedVersion } from '../support/client.js';
import { repoRoot } from '../support/paths.js';
import { uniqueName } from '../support/unique.js';
import { closedPort, startReceiver, type Receiver } from './receiver.js';

type DeliveryView = Delivery & { attempts: DeliveryAttempt[] };
interface EndpointView { id: string; url: string; enabled: boolean; disabledReason: string | null; secret?: string; models: string[] | null; events: string[] }

const imageDigest = `sha256:${'ab'.repeat(32)}`;

/** Takes a version through the catalogue to a terminal status, as the stages would. */
async function finishVersion(app: TestApp, model: string, status: 'released' | 'failed', version = 1, batchId: string | null = null): Promise<void> {
  const { catalog } = app.running.services;
  const now = new Date().toISOString();
  const record: VersionRecord = {
    model, version, status: 'queued', createdAt: now, updatedAt: now, description: null, labels: {}, modelType: 'python:3.11',
    payload: { key: `uploads/${model}-${version}`, digest: `sha256:${'0'.repeat(64)}`, size: 1, format: 'tar' },
    stages: {}, contract: null, contractDigest: null, tree: null, image: null, warnings: [], error: null, diff: null, batchId,
  };
  await catalog.create(record);
  await catalog.update(model, version, (r) => {
    r.status = status;
    if (status === 'released') {
      r.image = { reference: `reg.example/${model}:${version}`, repository: `reg.example/${model}`, tag: String(version), digest: imageDigest, base: null, modelOnly: true, builder: 'oci', target: 'oci-layout' };
    } else {
      r.error = { code: 'INVALID_MODEL', message: 'the model files cannot be read' };
    }
  }, { type: 'status', status });
}

async function register(app: TestApp, input: Record<string, unknown>) {
  return api<EndpointView & { error?: { code: string; message: string } }>(`${app.url}/api/v1/webhooks`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(input),
  });
}

async function deliveries(app: TestApp, endpointId: string): Promise<DeliveryView[]> {
  const res = await api<{ items: DeliveryView[] }>(`${app.url}/api/v1/webhooks/${endpointId}/deliveries`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.items;
}

/** Polls an endpoint's deliveries until `done` holds for them. */
async function waitForDeliveries(app: TestApp, endpointId: string, done: (items: DeliveryView[]) => boolean, timeoutMs = 15_000): Promise<DeliveryView[]> {
  const deadline = Date.now() + timeoutMs;
  let items: DeliveryView[] = [];
  while (Date.now() < deadline) {
    items = await deliveries(app, endpointId);
    if (done(items)) return items;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`deliveries did not settle in time: ${JSON.stringify(items, null, 1)}`);
}

const settled = (n = 1) => (items: DeliveryView[]) => items.length === n && items.every((d) => d.status !== 'pending');

describe('webhooks (real Redis, real receivers on loopback)', () => {
  let app: TestApp;
  const receivers: Receiver[] = [];
  const receiver = async (...args: Parameters<typeof startReceiver>) => {
    const r = await startReceiver(...args);
    receivers.push(r);
    return r;
  };

  before(async () => {
    app = await startTestApp({
      env: {
        MLL_WEBHOOK_ALLOW_PRIVATE: 'true', MLL_WEBHOOK_ATTEMPTS: '3', MLL_WEBHOOK_BACKOFF_MS: '50',
        MLL_WEBHOOK_BACKOFF_MAX_MS: '5000', MLL_WEBHOOK_TIMEOUT_MS: '2000',
      },
    });
  });
  after(async () => {
    await Promise.all(receivers.map((r) => r.close()));
    await app?.stop();
  });

  it('signs each delivery so the receiver verifies it with the secret; the secret is never shown again', async () => {
    const model = uniqueName('whsig');
    const rx = await receiver();
    const created = await register(app, { url: rx.url, models: [model], events: ['version.released'] });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const secret = created.body.secret!;
    assert.match(secret, /^whsec_/);
    assert.equal(created.headers.get('location'), `${app.url}/api/v1/webhooks/${created.body.id}`);

    await finishVersion(app, model, 'released');
    const [req] = await rx.waitFor(1);
    assert.equal(req!.method, 'POST');
    assert.equal(req!.path, '/hooks');
    assert.equal(req!.headers['content-type'], 'application/json');
    assert.deepEqual(verify(secret, req!.headers as Record<string, string>, req!.body), { ok: true });
    assert.equal(verify(`whsec_${Buffer.alloc(32, 7).toString('base64')}`, req!.headers as Record<string, string>, req!.body).ok, false);
    const event = JSON.parse(req!.body.toString('utf8')) as { type: string; timestamp: string; data: Record<string, unknown> };
    assert.equal(event.type, 'version.released');
    assert.ok(!Number.isNaN(Date.parse(event.timestamp)));
    assert.equal(event.data.model, model);
    assert.equal(event.data.version, 1);
    assert.equal(event.data.status, 'released');
    assert.equal(event.data.imageDigest, imageDigest);
    assert.equal(event.data.url, `${app.url}/api/v1/models/${model}/versions/1`);
    assert.ok(Math.abs(Number(req!.headers['webhook-timestamp']) - Date.now() / 1000) < 60);

    const [delivery] = await waitForDeliveries(app, created.body.id, settled());
    assert.equal(req!.headers['webhook-id'], delivery!.eventId);
    assert.equal(delivery!.status, 'delivered');

    const shown = [
      await api(`${app.url}/api/v1/webhooks/${created.body.id}`),
      await api(`${app.url}/api/v1/webhooks`),
      await api(`${app.url}/api/v1/webhooks/${created.body.id}/deliveries`),
    ];
    for (const res of shown) {
      assert.equal(res.status, 200);
      const text = JSON.stringify(res.body);
      assert.ok(!text.includes(secret.slice(6)), 'the secret must not appear after creation');
      assert.ok(!/"secret"/.test(text));
    }
  });

  it('accepts a caller-chosen secret, refuses bad input with one error shape', async () => {
    const rx = await receiver();
    const chosen = `whsec_${Buffer.alloc(24, 3).toString('base64')}`;
    const ok = await register(app, { url: rx.url, secret: chosen, models: [uniqueName('whsecret')] });
    assert.equal(ok.status, 201);
    assert.equal(ok.body.secret, chosen);
    const bad: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ url: 'ftp://example.com/x' }, 'INVALID_WEBHOOK_URL', /only http and https/],
      [{ url: 'https://u:p@example.com/x' }, 'INVALID_WEBHOOK_URL', /credentials/],
      [{ url: rx.url, events: ['version.deleted'] }, 'BAD_REQUEST', /events/],
      [{ url: rx.url, models: ['Not A Model'] }, 'BAD_REQUEST', /models/],
      [{ url: rx.url, secret: 'whsec_c2hvcnQ=' }, 'BAD_REQUEST', /24–64 bytes/],
      [{ url: rx.url, color: 'blue' }, 'BAD_REQUEST', /color/],
    ];
    for (const [input, code, message] of bad) {
      const res = await register(app, input);
      assert.equal(res.status, 400, JSON.stringify(input));
      assert.equal(res.body.error?.code, code);
      assert.match(res.body.error!.message, message);
    }
    const notFound = await api<{ error: { code: string } }>(`${app.url}/api/v1/webhooks/wh_00000000000000000000`);
    assert.equal(notFound.status, 404);
    assert.equal(notFound.body.error.code, 'WEBHOOK_NOT_FOUND');
    const del = await api(`${app.url}/api/v1/webhooks/${ok.body.id}`, { method: 'DELETE' });
    assert.equal(del.status, 204);
    assert.equal((await api(`${app.url}/api/v1/webhooks/${ok.body.id}`)).status, 404);
  });

  it('honours Idempotency-Key on registration: a retry gets the same endpoint, nothing new is created', async () => {
    const rx = await receiver();
    const input = JSON.stringify({ url: rx.url, models: [uniqueName('whidem')] });
    const key = uniqueName('idem');
    const post = () => api<EndpointView>(`${app.url}/api/v1/webhooks`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: input });
    const first = await post();
    const again = await post();
    assert.equal(first.status, 201);
    assert.equal(first.headers.get('cache-control'), 'no-store');
    assert.equal(again.status, 201);
    assert.equal(again.body.id, first.body.id);
    const all = await api<{ items: EndpointView[] }>(`${app.url}/api/v1/webhooks`);
    assert.equal(all.body.items.filter((e) => e.url === rx.url).length, 1);
  });

  it('retries a receiver that fails twice: three attempts recorded, one delivery, same webhook-id', async () => {
    const model = uniqueName('whretry');
    const rx = await receiver((_req, i) => (i === 0 ? { status: 500, body: 'boom' } : i === 1 ? { status: 503 } : { status: 200 }));
    const created = await register(app, { url: rx.url, models: [model] });
    await finishVersion(app, model, 'released');
    const requests = await rx.waitFor(3);
    const [delivery, ...others] = await waitForDeliveries(app, created.body.id, settled());
    assert.equal(others.length, 0);
    assert.equal(delivery!.status, 'delivered');
    assert.equal(delivery!.outcome, 'delivered');
    assert.deepEqual(delivery!.attempts.map((a) => a.attempt), [1, 2, 3]);
    assert.deepEqual(delivery!.attempts.map((a) => a.statusCode), [500, 503, 200]);
    assert.deepEqual(delivery!.attempts.map((a) => a.outcome), ['retrying', 'retrying', 'delivered']);
    assert.match(delivery!.attempts[0]!.error!, /answered 500: boom/);
    assert.ok(delivery!.attempts[0]!.nextAttemptAt);
    assert.equal(delivery!.attempts[2]!.error, null);
    for (const a of delivery!.attempts) assert.ok(a.durationMs >= 0 && a.durationMs < 2000);
    assert.equal(new Set(requests.map((r) => r.headers['webhook-id'])).size, 1, 'webhook-id is stable across retries');
    assert.equal(requests[0]!.headers['webhook-id'], delivery!.eventId);
    assert.equal(new Set(requests.map((r) => r.body.toString('hex'))).size, 1, 'the same bytes on every attempt');
    for (const r of requests) assert.deepEqual(verify(created.body.secret!, r.headers as Record<string, string>, r.body), { ok: true });
    assert.equal(rx.requests.length, 3);

    const metrics = await api<string>(`${app.url}/metrics`);
    assert.match(metrics.body, /mll_webhook_deliveries_total\{outcome="retrying"\} [1-9]/);
    assert.match(metrics.body, /mll_webhook_deliveries_total\{outcome="delivered"\} [1-9]/);
  });

  it('redelivers on request: same event id and body, a new attempt with trigger redeliver', async () => {
    const model = uniqueName('whredo');
    const rx = await receiver();
    const created = await register(app, { url: rx.url, models: [model] });
    await finishVersion(app, model, 'failed');
    await rx.waitFor(1);
    const [first] = await waitForDeliveries(app, created.body.id, settled());
    assert.equal(JSON.parse(rx.requests[0]!.body.toString()).type, 'version.failed');

    const redo = await api<DeliveryView>(`${app.url}/api/v1/webhooks/${created.body.id}/deliveries/${first!.id}/redeliver`, { method: 'POST' });
    assert.equal(redo.status, 202, JSON.stringify(redo.body));
    assert.equal(redo.body.status, 'pending');
    await rx.waitFor(2);
    const [after] = await waitForDeliveries(app, created.body.id, (items) => items[0]?.attempts.length === 2 && items[0].status === 'delivered');
    assert.equal(after!.id, first!.id);
    assert.equal(after!.redeliveries, 1);
    assert.deepEqual(after!.attempts.map((a) => [a.attempt, a.trigger, a.outcome]), [[1, 'event', 'delivered'], [2, 'redeliver', 'delivered']]);
    const [a, b] = rx.requests;
    assert.equal(a!.headers['webhook-id'], b!.headers['webhook-id']);
    assert.ok(a!.body.equals(b!.body));
    assert.deepEqual(verify(created.body.secret!, b!.headers as Record<string, string>, b!.body), { ok: true });

    const unknown = await api<{ error: { code: string } }>(`${app.url}/api/v1/webhooks/${created.body.id}/deliveries/dlv_${'0'.repeat(24)}/redeliver`, { method: 'POST' });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'WEBHOOK_NOT_FOUND');
  });

  it('gives up on an unreachable receiver after the configured attempts', async () => {
    const model = uniqueName('whdown');
    const created = await register(app, { url: `http://127.0.0.1:${await closedPort()}/hooks`, models: [model] });
    await finishVersion(app, model, 'released');
    const [delivery] = await waitForDeliveries(app, created.body.id, settled());
    assert.equal(delivery!.status, 'failed');
    assert.equal(delivery!.outcome, 'gave_up');
    assert.deepEqual(delivery!.attempts.map((a) => a.outcome), ['retrying', 'retrying', 'gave_up']);
    for (const a of delivery!.attempts) {
      assert.equal(a.statusCode, null);
      assert.match(a.error!, /connection refused/);
    }
    assert.equal(delivery!.attempts[2]!.nextAttemptAt, null);
    const metrics = await api<string>(`${app.url}/metrics`);
    assert.match(metrics.body, /mll_webhook_deliveries_total\{outcome="gave_up"\} [1-9]/);
  });

  it('honours Retry-After on 429', async () => {
    const model = uniqueName('wh429');
    const rx = await receiver((_req, i) => (i === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 }));
    const created = await register(app, { url: rx.url, models: [model] });
    await finishVersion(app, model, 'released');
    const [first, second] = await rx.waitFor(2);
    const gap = second!.at - first!.at;
    // The configured backoff is 50 ms; only Retry-After explains a wait of a second.
    assert.ok(gap >= 950, `retried after ${gap} ms, before the 1 s Retry-After`);
    assert.ok(gap < 4000, `retried after ${gap} ms`);
    const [delivery] = await waitForDeliveries(app, created.body.id, settled());
    assert.deepEqual(delivery!.attempts.map((a) => [a.statusCode, a.outcome]), [[429, 'retrying'], [200, 'delivered']]);
    const planned = Date.parse(delivery!.attempts[0]!.nextAttemptAt!) - Date.parse(delivery!.attempts[0]!.at);
    assert.ok(planned >= 1000, `next attempt planned ${planned} ms after the first`);
  });

  it('disables the endpoint when the receiver answers 410 Gone', async () => {
    const model = uniqueName('wh410');
    const rx = await receiver(() => ({ status: 410 }));
    const created = await register(app, { url: rx.url, models: [model] });
    await finishVersion(app, model, 'released', 1);
    const [delivery] = await waitForDeliveries(app, created.body.id, settled());
    assert.equal(delivery!.outcome, 'disabled');
    assert.deepEqual(delivery!.attempts.map((a) => [a.statusCode, a.outcome]), [[410, 'disabled']]);
    const endpoint = await api<EndpointView>(`${app.url}/api/v1/webhooks/${created.body.id}`);
    assert.equal(endpoint.body.enabled, false);
    assert.match(endpoint.body.disabledReason!, /410 Gone/);

    await finishVersion(app, model, 'released', 2);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await deliveries(app, created.body.id)).length, 1, 'a disabled endpoint gets no new deliveries');
    assert.equal(rx.requests.length, 1);
    const redo = await api<{ error: { code: string; message: string } }>(`${app.url}/api/v1/webhooks/${created.body.id}/deliveries/${delivery!.id}/redeliver`, { method: 'POST' });
    assert.equal(redo.status, 409);
    assert.match(redo.body.error.message, /disabled/);
  });

  it('treats other 4xx answers as final', async () => {
    const model = uniqueName('wh400');
    const rx = await receiver(() => ({ status: 400, body: 'unknown event' }));
    const created = await register(app, { url: rx.url, models: [model] });
    await finishVersion(app, model, 'released');
    const [delivery] = await waitForDeliveries(app, created.body.id, settled());
    assert.equal(delivery!.outcome, 'failed');
    assert.deepEqual(delivery!.attempts.map((a) => [a.statusCode, a.outcome]), [[400, 'failed']]);
    assert.match(delivery!.error!, /answered 400: unknown event/);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(rx.requests.length, 1);
  });

  it('sends only the events and models an endpoint asked for', async () => {
    const tag = uniqueName('whf');
    const [exact, other, prefixed] = [`${tag}-exact`, `${tag}-other`, `${tag}-pre-1`];
    const rxExact = await receiver();
    const rxPrefix = await receiver();
    const rxFailedOnly = await receiver();
    const a = await register(app, { url: rxExact.url, models: [exact] });
    const b = await register(app, { url: rxPrefix.url, models: [`${tag}-pre-*`] });
    const c = await register(app, { url: rxFailedOnly.url, models: [exact, other, prefixed], events: ['version.failed'] });
    await finishVersion(app, exact, 'released');
    await finishVersion(app, other, 'released');
    await finishVersion(app, prefixed, 'failed');
    await waitForDeliveries(app, a.body.id, settled(1));
    await waitForDeliveries(app, b.body.id, settled(1));
    await waitForDeliveries(app, c.body.id, settled(1));
    await new Promise((r) => setTimeout(r, 300));
    const seen = (rx: Receiver) => rx.requests.map((r) => {
      const e = JSON.parse(r.body.toString()) as { type: string; data: { model: string } };
      return `${e.type} ${e.data.model}`;
    });
    assert.deepEqual(seen(rxExact), [`version.released ${exact}`]);
    assert.deepEqual(seen(rxPrefix), [`version.failed ${prefixed}`]);
    assert.deepEqual(seen(rxFailedOnly), [`version.failed ${prefixed}`]);
  });

  it('emits batch.completed for the batches code, once per key', async () => {
    const model = uniqueName('whbatch');
    const rx = await receiver();
    const created = await register(app, { url: rx.url, models: [model], events: ['batch.completed'] });
    const summary = { id: uniqueName('batch'), done: true, counts: { released: 1, failed: 0 }, items: [{ model, version: 1, status: 'released' }] };
    const { webhooks } = app.running.services;
    const first = await webhooks.emit('batch.completed', summary, { models: [model], key: summary.id });
    const again = await webhooks.emit('batch.completed', summary, { models: [model], key: summary.id });
    assert.equal(first.deliveries.length, 1);
    assert.equal(again.eventId, first.eventId);
    assert.deepEqual(again.deliveries, [], 'a repeated emit with the same key delivers nothing new');
    const [req] = await rx.waitFor(1);
    const event = JSON.parse(req!.body.toString()) as { type: string; data: unknown };
    assert.equal(event.type, 'batch.completed');
    assert.deepEqual(event.data, summary);
    assert.equal(req!.headers['webhook-id'], first.eventId);
    await waitForDeliveries(app, created.body.id, settled(1));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(rx.requests.length, 1);
  });

  it('sends batch.completed once a batch is finished, to endpoints matching one of its models', async () => {
    const tag = uniqueName('whb');
    const [good, bad, refused] = [`${tag}-good`, `${tag}-bad`, `${tag}-refused`];
    const rx = await receiver();
    const rxOther = await receiver();
    const created = await register(app, { url: rx.url, models: [bad], events: ['batch.completed'] });
    await register(app, { url: rxOther.url, models: [`${tag}-unrelated`], events: ['batch.completed'] });
    const id = randomUUID();
    await app.running.services.batches.save({
      id, createdAt: new Date().toISOString(), sealed: true,
      items: [
        { index: 0, model: good, version: 1, error: null },
        { index: 1, model: bad, version: 1, error: null },
        { index: 2, model: refused, version: null, error: { code: 'INVALID_ARCHIVE', message: 'not a tar' } },
      ],
    });
    await finishVersion(app, good, 'released', 1, id);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(rx.requests.length, 0, 'nothing is sent while an item is still running');
    await finishVersion(app, bad, 'failed', 1, id);
    const [req] = await rx.waitFor(1);
    const event = JSON.parse(req!.body.toString()) as { type: string; data: { id: string; done: boolean; counts: Record<string, number>; items: Array<{ model: string; status: string }> } };
    assert.equal(event.type, 'batch.completed');
    assert.equal(event.data.id, id);
    assert.equal(event.data.done, true);
    assert.deepEqual(event.data.items.map((i) => [i.model, i.status]), [[good, 'released'], [bad, 'failed'], [refused, 'rejected']]);
    const [delivery] = await waitForDeliveries(app, created.body.id, settled(1));
    assert.equal(delivery!.eventType, 'batch.completed');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(rx.requests.length, 1);
    assert.equal(rxOther.requests.length, 0);
  });

  it('sends version.released with the image digest when an upload goes through every stage', async () => {
    const model = uniqueName('whe2e');
    const rx = await receiver();
    const created = await register(app, { url: rx.url, models: [model] });
    const upload = await uploadMultipart(app.url, model, await tarOf(path.join(repoRoot, 'test', 'fixtures', 'models', 'python-tokenizer')));
    assert.equal(upload.status, 202, JSON.stringify(upload.body));
    const done = await waitForVersion(app.url, model, upload.body.version, { timeoutMs: 60_000 });
    assert.equal(done.status, 'released', JSON.stringify(done.error));
    const [req] = await rx.waitFor(1);
    assert.deepEqual(verify(created.body.secret!, req!.headers as Record<string, string>, req!.body), { ok: true });
    const event = JSON.parse(req!.body.toString()) as { type: string; data: PresentedVersion & { imageDigest: string } };
    assert.equal(event.type, 'version.released');
    assert.equal(event.data.version, done.version);
    assert.match(event.data.imageDigest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(event.data.imageDigest, done.image?.digest);
    assert.deepEqual(event.data.contract, done.contract);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(rx.requests.length, 1, 'one event for the release, none for the intermediate stages');
  });

  it('keeps endpoints in the object store: a lost Redis index is rebuilt', async () => {
    const rx = await receiver();
    const created = await register(app, { url: rx.url, models: [uniqueName('whdurable')], description: 'survives Redis' });
    const { redis, config } = app.running.services;
    const k = redisKeys(config.prefix);
    await redis.del(k.webhookEndpoints(), k.webhookEndpointsIndexed());
    const list = await api<{ items: EndpointView[] }>(`${app.url}/api/v1/webhooks`);
    assert.ok(list.body.items.some((e) => e.id === created.body.id), 'the endpoint is listed again after Redis lost its index');
    const one = await api<EndpointView & { description: string }>(`${app.url}/api/v1/webhooks/${created.body.id}`);
    assert.equal(one.body.description, 'survives Redis');
  });
});
