import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { unsupportedRoutes } from '../../src/api/hydrosphere/unsupported.js';
import { signStoreUrl } from '../../src/storage/fs-presign.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { tarOf } from '../support/client.js';
import { OpenApiChecker } from '../support/openapi-check.js';
import { repoRoot } from '../support/paths.js';
import { makeTar } from '../support/tar.js';
import { uniqueName } from '../support/unique.js';
import { startReceiver, type Receiver } from '../webhooks/receiver.js';
import { hydrosphereTarball, requestsMultipart } from '../hydrosphere/wire.js';

const pythonModel = path.join(repoRoot, 'test', 'fixtures', 'models', 'python-tokenizer');
const admin = `mll_${randomBytes(6).toString('hex')}_${randomBytes(32).toString('base64url')}`;
const jsonHeaders = { 'content-type': 'application/json' };

type Version = { model: string; version: number; status: string; url: string };

/** The events of a finished server-sent event stream: its `event:` and `data:` lines. */
function sseEvents(text: string): { event: string; data: string }[] {
  return text.split(/\n\n+/).map((block) => {
    const lines = block.split('\n');
    const event = lines.find((l) => l.startsWith('event:'))?.slice(6).trim() ?? 'message';
    const data = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n');
    return { event, data };
  }).filter((e) => e.data !== '');
}

/**
 * Every operation of the served OpenAPI document is called on a real app (real Redis, fs store,
 * real pipeline), for its success answer and its main errors, and every answer is validated
 * against the document: an undocumented status, media type or body shape fails the test.
 */
describe('the OpenAPI document describes the real answers of every route', () => {
  let app: TestApp;
  let oa: OpenApiChecker;
  let anonymous: OpenApiChecker;
  let readOnly: OpenApiChecker;
  let receiver: Receiver;
  let model: string;
  let released: Version;

  before(async () => {
    receiver = await startReceiver();
    app = await startTestApp({ env: { MLL_AUTH: 'tokens', MLL_BOOTSTRAP_TOKEN: admin, MLL_WEBHOOK_ALLOW_PRIVATE: 'true', MLL_WEBHOOK_BACKOFF_MS: '50' } });
    const res = await fetch(`${app.url}/api/v1/openapi.json`);
    assert.equal(res.status, 200);
    const doc = (await res.json()) as Record<string, unknown>;
    oa = new OpenApiChecker(doc, app.url, `Bearer ${admin}`);
    anonymous = new OpenApiChecker(doc, app.url);
    const read = await oa.call<{ token: string }>({ method: 'post', path: '/api/v1/tokens', headers: jsonHeaders, body: JSON.stringify({ name: uniqueName('ro'), scopes: ['read'] }) }, 201);
    readOnly = new OpenApiChecker(doc, app.url, `Bearer ${read.body.token}`);
    model = uniqueName('oa');
  });
  after(async () => {
    await app?.stop();
    await receiver?.close();
  });

  /** Polls a version through the document until it is released or failed. */
  const finished = async (name: string, version: number): Promise<Version> => {
    for (let i = 0; i < 1200; i++) {
      const v = await oa.call<Version>({ method: 'get', path: '/api/v1/models/{name}/versions/{version}', params: { name, version } }, 200);
      if (v.body.status === 'released' || v.body.status === 'failed') return v.body;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${name}:${version} did not finish`);
  };

  const merge = () => {
    const all = new Map<string, Set<number>>();
    for (const checker of [oa, anonymous, readOnly]) {
      for (const [op, statuses] of checker.seen) all.set(op, new Set([...(all.get(op) ?? []), ...statuses]));
    }
    return all;
  };

  it('refuses answers the document does not describe (the checker itself)', () => {
    assert.throws(() => oa.check('get', '/healthz', 418, 'application/json', '{"status":"ok"}'), /418 is not documented/);
    assert.throws(() => oa.check('get', '/healthz', 200, 'text/html', 'ok'), /"text\/html" is not documented/);
    assert.throws(() => oa.check('get', '/healthz', 200, 'application/json', '{"status":"fine"}'), /does not match the document/);
    assert.throws(() => oa.check('get', '/api/v1/models/{name}', 404, 'application/json', '{"error":{"code":"NO_SUCH_CODE","message":"x"}}'), /does not match the document/);
  });

  it('serves itself, health, readiness and metrics as documented', async () => {
    await anonymous.call({ method: 'get', path: '/api/v1/openapi.json' }, 200);
    await anonymous.call({ method: 'get', path: '/healthz' }, 200);
    await anonymous.call({ method: 'get', path: '/readyz' }, 200);
    await oa.call({ method: 'get', path: '/metrics' }, 200);
    await anonymous.call({ method: 'get', path: '/metrics' }, 401);
  });

  it('uploads versions every documented way and refuses bad uploads with documented errors', async () => {
    const tar = await tarOf(pythonModel);
    const first = await oa.call<Version>({
      method: 'post', path: '/api/v1/models/{name}/versions', params: { name: model }, query: { description: 'raw', labels: '{"via":"query"}' },
      headers: { 'content-type': 'application/x-tar' }, body: new Uint8Array(tar),
    }, 202);
    const form = new FormData();
    form.append('metadata', JSON.stringify({ labels: { via: 'multipart' } }));
    form.append('payload', new Blob([new Uint8Array(tar)]), 'model.tar');
    await oa.call({ method: 'post', path: '/api/v1/models/{name}/versions', params: { name: model }, body: form }, 202);
    const upload = await oa.call<{ id: string; url: string }>({ method: 'post', path: '/api/v1/uploads', headers: jsonHeaders, body: '{"expiresIn": 600}' }, 201);
    await anonymous.call({ method: 'put', path: '/api/v1/store/{key}', params: { key: upload.body.url.slice(`${app.url}/api/v1/store/`.length) }, body: new Uint8Array(await tarOf(pythonModel, true)) }, 200);
    await oa.call({ method: 'post', path: '/api/v1/models/{name}/versions', params: { name: model }, headers: jsonHeaders, body: JSON.stringify({ upload: upload.body.id }) }, 202);
    await oa.call({ method: 'post', path: '/api/v1/models/{name}/versions', params: { name: model }, headers: jsonHeaders, body: JSON.stringify({ upload: upload.body.id }) }, 409);

    await oa.call({ method: 'post', path: '/api/v1/uploads', headers: jsonHeaders, body: '{"expiresIn": 1}' }, 400);
    await oa.call({ method: 'post', path: '/api/v1/models/{name}/versions', params: { name: 'Not A Name' }, headers: { 'content-type': 'application/x-tar' }, body: new Uint8Array(tar) }, 400);
    await oa.call({ method: 'post', path: '/api/v1/models/{name}/versions', params: { name: model }, headers: { 'content-type': 'text/plain' }, body: 'hello' }, 415);
    await oa.call({ method: 'post', path: '/api/v1/models/{name}/versions', params: { name: model }, headers: jsonHeaders, body: '{"nope": 1}' }, 400);
    await oa.call({
      method: 'post', path: '/api/v1/models/{name}/versions', params: { name: model },
      headers: { 'content-type': 'application/x-tar' }, body: new Uint8Array(await makeTar([{ name: '../escape', body: 'x' }])),
    }, 422);
    await readOnly.call({ method: 'post', path: '/api/v1/models/{name}/versions', params: { name: model }, headers: { 'content-type': 'application/x-tar' }, body: new Uint8Array(tar) }, 403);
    await anonymous.call({ method: 'post', path: '/api/v1/models/{name}/versions', params: { name: model }, headers: { 'content-type': 'application/x-tar' }, body: new Uint8Array(tar) }, 401);

    released = await finished(model, first.body.version);
    assert.equal(released.status, 'released');
  });

  it('reads models, versions, contracts and events as documented', async () => {
    await oa.call({ method: 'get', path: '/api/v1/models', query: { q: model.slice(0, 6), limit: '1' } }, 200);
    await oa.call({ method: 'get', path: '/api/v1/models/{name}', params: { name: model } }, 200);
    await oa.call({ method: 'get', path: '/api/v1/models/{name}', params: { name: uniqueName('none') } }, 404);
    await oa.call({ method: 'get', path: '/api/v1/models/{name}', params: { name: 'Bad Name' } }, 400);
    await anonymous.call({ method: 'get', path: '/api/v1/models/{name}', params: { name: model } }, 401);
    await oa.call({ method: 'get', path: '/api/v1/models/{name}/versions', params: { name: model }, query: { limit: '1' } }, 200);
    await oa.call({ method: 'get', path: '/api/v1/models/{name}/versions', params: { name: uniqueName('none') } }, 404);
    await oa.call({ method: 'get', path: '/api/v1/models/{name}/versions', params: { name: model }, query: { before: 'x' } }, 400);

    const one = await oa.call({ method: 'get', path: '/api/v1/models/{name}/versions/{version}', params: { name: model, version: released.version } }, 200);
    await oa.call({ method: 'get', path: '/api/v1/models/{name}/versions/{version}', params: { name: model, version: released.version }, headers: { 'if-none-match': one.headers.get('etag')!, 'cache-control': 'max-age=0' } }, 304);
    await oa.call({ method: 'get', path: '/api/v1/models/{name}/versions/{version}', params: { name: model, version: 999 } }, 404);
    await oa.call({ method: 'get', path: '/api/v1/models/{name}/versions/{version}', params: { name: model, version: 'zero' } }, 400);

    await oa.call({ method: 'get', path: '/api/v1/models/{name}/versions/{version}/contract', params: { name: model, version: released.version } }, 200);
    await oa.call({ method: 'get', path: '/api/v1/models/{name}/versions/{version}/contract', params: { name: model, version: released.version }, headers: { accept: 'application/x-protobuf' } }, 200);
    await oa.call({ method: 'get', path: '/api/v1/models/{name}/versions/{version}/contract', params: { name: model, version: 999 } }, 404);
    // A version that fails at extract has no contract.
    const broken = uniqueName('oab');
    const failed = await oa.call<Version>({
      method: 'post', path: '/api/v1/models/{name}/versions', params: { name: broken },
      headers: { 'content-type': 'application/x-tar' }, body: new Uint8Array(await makeTar([{ name: 'README', body: 'no model here' }])),
    }, 202);
    assert.equal((await finished(broken, failed.body.version)).status, 'failed');
    await oa.call({ method: 'get', path: '/api/v1/models/{name}/versions/{version}/contract', params: { name: broken, version: failed.body.version } }, 409);

    const events = await oa.call<{ items: { id: string }[] }>({ method: 'get', path: '/api/v1/models/{name}/versions/{version}/events', params: { name: model, version: released.version } }, 200);
    assert.ok(events.body.items.length > 0);
    await oa.call({ method: 'get', path: '/api/v1/models/{name}/versions/{version}/events', params: { name: model, version: released.version }, query: { after: events.body.items[0]!.id } }, 200);
    const sse = await oa.call<string>({ method: 'get', path: '/api/v1/models/{name}/versions/{version}/events', params: { name: model, version: released.version }, headers: { accept: 'text/event-stream' } }, 200);
    assert.match(sse.body, /event: end/);
    // Each event of the stream is a VersionEvent, as in the JSON form.
    const streamed = sseEvents(sse.body).filter((e) => e.event !== 'end');
    assert.ok(streamed.length > 0);
    for (const e of streamed) oa.checkComponent('VersionEvent', JSON.parse(e.data));
    await oa.call({ method: 'get', path: '/api/v1/models/{name}/versions/{version}/events', params: { name: model, version: 999 } }, 404);
  });

  it('runs batches as documented', async () => {
    const tar = await tarOf(pythonModel);
    const form = new FormData();
    form.append(uniqueName('oabatch'), new Blob([new Uint8Array(tar)]), 'a.tar');
    form.append('Not A Name', new Blob([new Uint8Array(tar)]), 'b.tar');
    const batch = await oa.call<{ id: string }>({ method: 'post', path: '/api/v1/batches', body: form }, 202);
    const upload = await oa.call<{ id: string }>({ method: 'post', path: '/api/v1/uploads' }, 201);
    await oa.call({ method: 'post', path: '/api/v1/batches', headers: jsonHeaders, body: JSON.stringify({ items: [{ model: uniqueName('oajb'), upload: upload.body.id }] }) }, 202);
    await oa.call({ method: 'post', path: '/api/v1/batches', headers: jsonHeaders, body: '{"items": []}' }, 400);
    await oa.call({ method: 'post', path: '/api/v1/batches', headers: { 'content-type': 'text/plain' }, body: 'x' }, 415);

    let view = await oa.call<{ done: boolean }>({ method: 'get', path: '/api/v1/batches/{id}', params: { id: batch.body.id } }, 200);
    for (let i = 0; i < 900 && !view.body.done; i++) {
      await new Promise((r) => setTimeout(r, 100));
      view = await oa.call<{ done: boolean }>({ method: 'get', path: '/api/v1/batches/{id}', params: { id: batch.body.id } }, 200);
    }
    assert.ok(view.body.done);
    await oa.call({ method: 'get', path: '/api/v1/batches/{id}', params: { id: batch.body.id }, headers: { 'if-none-match': view.headers.get('etag')!, 'cache-control': 'max-age=0' } }, 304);
    await oa.call({ method: 'get', path: '/api/v1/batches/{id}', params: { id: 'nope' } }, 404);
    await oa.call({ method: 'get', path: '/api/v1/batches/{id}/events', params: { id: batch.body.id } }, 200);
    const sse = await oa.call<string>({ method: 'get', path: '/api/v1/batches/{id}/events', params: { id: batch.body.id }, headers: { accept: 'text/event-stream' } }, 200);
    const items = sseEvents(sse.body).filter((e) => e.event === 'item');
    assert.ok(items.length > 0);
    for (const e of items) oa.checkComponent('BatchEvent', JSON.parse(e.data));
    await oa.call({ method: 'get', path: '/api/v1/batches/{id}/events', params: { id: 'nope' } }, 404);
  });

  it('serves the fs store routes as documented', async () => {
    const upload = await oa.call<{ url: string }>({ method: 'post', path: '/api/v1/uploads' }, 201);
    const key = upload.body.url.slice(`${app.url}/api/v1/store/`.length);
    await anonymous.call({ method: 'put', path: '/api/v1/store/{key}', params: { key }, body: new Uint8Array(await tarOf(pythonModel)) }, 200);
    await anonymous.call({ method: 'put', path: '/api/v1/store/{key}', params: { key: key.replace(/signature=[^&]+/, 'signature=bad') }, body: 'x' }, 403);
    const objectKey = decodeURIComponent(key.split('?')[0]!);
    const signed = signStoreUrl(app.url, app.running.services.storeUrlSecret, 'GET', objectKey, Math.floor(Date.now() / 1000) + 60);
    await anonymous.call({ method: 'get', path: '/api/v1/store/{key}', params: { key: signed.slice(`${app.url}/api/v1/store/`.length) } }, 200);
    await anonymous.call({ method: 'get', path: '/api/v1/store/{key}', params: { key: signed.slice(`${app.url}/api/v1/store/`.length).replace(/signature=[^&]+/, 'signature=bad') } }, 403);
    const missing = signStoreUrl(app.url, app.running.services.storeUrlSecret, 'GET', `${objectKey}-missing`, Math.floor(Date.now() / 1000) + 60);
    await anonymous.call({ method: 'get', path: '/api/v1/store/{key}', params: { key: missing.slice(`${app.url}/api/v1/store/`.length) } }, 404);
  });

  it('manages tokens and refuses what the scope does not allow, as documented', async () => {
    const created = await oa.call<{ id: string }>({ method: 'post', path: '/api/v1/tokens', headers: jsonHeaders, body: JSON.stringify({ name: uniqueName('tk'), scopes: ['write'], expiresInDays: 1 }) }, 201);
    await oa.call({ method: 'post', path: '/api/v1/tokens', headers: jsonHeaders, body: '{"name": ""}' }, 400);
    await readOnly.call({ method: 'post', path: '/api/v1/tokens', headers: jsonHeaders, body: '{}' }, 403);
    await anonymous.call({ method: 'get', path: '/api/v1/tokens' }, 401);
    await oa.call({ method: 'get', path: '/api/v1/tokens' }, 200);
    await oa.call({ method: 'delete', path: '/api/v1/tokens/{id}', params: { id: created.body.id } }, 200);
    await oa.call({ method: 'delete', path: '/api/v1/tokens/{id}', params: { id: 'nosuchtoken1' } }, 404);
    await oa.call({ method: 'post', path: '/api/v1/admin/reindex' }, 200);
    await readOnly.call({ method: 'post', path: '/api/v1/admin/reindex' }, 403);
    await anonymous.call({ method: 'post', path: '/api/v1/admin/reindex' }, 401);
  });

  it('manages webhooks and their deliveries as documented', async () => {
    const created = await oa.call<{ id: string }>({ method: 'post', path: '/api/v1/webhooks', headers: jsonHeaders, body: JSON.stringify({ url: receiver.url, models: [`${model}*`], description: 'openapi test' }) }, 201);
    const id = created.body.id;
    await oa.call({ method: 'post', path: '/api/v1/webhooks', headers: jsonHeaders, body: '{"url": "not a url"}' }, 400);
    await oa.call({ method: 'post', path: '/api/v1/webhooks', headers: { 'content-type': 'text/plain' }, body: 'x' }, 415);
    await oa.call({ method: 'get', path: '/api/v1/webhooks' }, 200);
    await oa.call({ method: 'get', path: '/api/v1/webhooks/{id}', params: { id } }, 200);
    await oa.call({ method: 'get', path: '/api/v1/webhooks/{id}', params: { id: 'wh_00000000000000000000' } }, 404);

    // A release of the model makes a delivery to the receiver.
    const v = await oa.call<Version>({
      method: 'post', path: '/api/v1/models/{name}/versions', params: { name: model }, headers: { 'content-type': 'application/x-tar' }, body: new Uint8Array(await tarOf(pythonModel)),
    }, 202);
    let items: { id: string; status: string }[] = [];
    for (let i = 0; i < 900 && !items.some((d) => d.status === 'delivered'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      items = (await oa.call<{ items: { id: string; status: string }[] }>({ method: 'get', path: '/api/v1/webhooks/{id}/deliveries', params: { id } }, 200)).body.items;
    }
    assert.ok(items.some((d) => d.status === 'delivered'), `no delivery for ${model}:${v.body.version}: ${JSON.stringify(items)}`);
    // A batch of the model's prefix completes: a batch.completed event.
    const form = new FormData();
    form.append(`${model}-wb`, new Blob([new Uint8Array(await tarOf(pythonModel))]), 'a.tar');
    await oa.call({ method: 'post', path: '/api/v1/batches', body: form }, 202);
    const bodies = async () => receiver.requests.map((r) => JSON.parse(r.body.toString('utf8')) as { type: string });
    for (let i = 0; i < 900 && !(await bodies()).some((b) => b.type === 'batch.completed'); i++) await new Promise((r) => setTimeout(r, 100));
    const sent = await bodies();
    assert.deepEqual([...new Set(sent.map((b) => b.type))].sort(), ['batch.completed', 'version.released']);
    for (const body of sent) oa.checkComponent('WebhookEvent', body);
    // The webhooks section of the document points at the same schema.
    const webhooks = oa.doc.webhooks as Record<string, { post: { requestBody: { content: Record<string, { schema: { $ref: string } }> } } }>;
    assert.equal(webhooks['batch.completed']!.post.requestBody.content['application/json']!.schema.$ref, '#/components/schemas/WebhookEvent');
    await oa.call({ method: 'get', path: '/api/v1/webhooks/{id}/deliveries', params: { id: 'wh_00000000000000000000' } }, 404);
    await oa.call({ method: 'post', path: '/api/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver', params: { id, deliveryId: items[0]!.id } }, 202);
    await oa.call({ method: 'post', path: '/api/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver', params: { id, deliveryId: 'dlv_000000000000000000000000' } }, 404);
    await oa.call({ method: 'delete', path: '/api/v1/webhooks/{id}', params: { id } }, 204);
    await oa.call({ method: 'delete', path: '/api/v1/webhooks/{id}', params: { id } }, 404);
  });

  it('answers the Hydrosphere routes as documented', async () => {
    const payload = await hydrosphereTarball({
      'src/func_main.py': await fs.readFile(path.join(pythonModel, 'src', 'func_main.py'), 'utf8'),
      'requirements.txt': await fs.readFile(path.join(pythonModel, 'requirements.txt'), 'utf8'),
      'serving.yaml': await fs.readFile(path.join(pythonModel, 'serving.yaml'), 'utf8'),
    });
    const multipart = (parts: Parameters<typeof requestsMultipart>[0]) => {
      const m = requestsMultipart(parts);
      return { headers: { 'content-type': m.contentType }, body: new Uint8Array(m.body) };
    };
    const v1name = uniqueName('oahs1');
    const build = await oa.call<{ id: number }>({
      method: 'post', path: '/api/v1/model/upload',
      ...multipart([{ name: 'model_name', value: v1name }, { name: 'model_type', value: 'python:3.6' }, { name: 'payload', file: payload, filename: 'filename' }]),
    }, 200);
    await oa.call({ method: 'post', path: '/api/v1/model/upload', ...multipart([{ name: 'model_name', value: 'has space' }, { name: 'payload', file: payload, filename: 'filename' }]) }, 400);
    // Polled as the 2018 CLI does until it finished: a finished build has its modelVersion.
    let polled = await oa.call<{ status: string; modelVersion: unknown }>({ method: 'get', path: '/api/v1/model/build/{id}', params: { id: build.body.id } }, 200);
    for (let i = 0; i < 900 && !['Finished', 'Failed'].includes(polled.body.status); i++) {
      await new Promise((r) => setTimeout(r, 100));
      polled = await oa.call({ method: 'get', path: '/api/v1/model/build/{id}', params: { id: build.body.id } }, 200);
    }
    assert.equal(polled.body.status, 'Finished', JSON.stringify(polled.body));
    assert.ok(polled.body.modelVersion);
    await oa.call({ method: 'get', path: '/api/v1/model/build/{id}', params: { id: 'x' } }, 400);
    await oa.call({ method: 'get', path: '/api/v1/model/build/{id}', params: { id: 999999999 } }, 404);

    const v2name = uniqueName('oahs2');
    const mv = await oa.call<{ id: number; modelVersion: number }>({
      method: 'post', path: '/api/v2/model/upload',
      ...multipart([
        { name: 'metadata', value: JSON.stringify({ name: v2name, runtime: { name: 'hydrosphere/serving-runtime-python-3.7', tag: '3.0.0' }, installCommand: null, metadata: { team: 'oa' }, monitoringConfiguration: { batchSize: 10 } }) },
        { name: 'payload', file: payload, filename: 'filename' },
      ]),
    }, 200);
    await oa.call({ method: 'post', path: '/api/v2/model/upload', ...multipart([{ name: 'payload', file: payload, filename: 'filename' }]) }, 400);
    await oa.call({ method: 'get', path: '/api/v2/model/version' }, 200);
    await oa.call({ method: 'get', path: '/api/v2/model/version/{name}/{version}', params: { name: v2name, version: mv.body.modelVersion } }, 200);
    await oa.call({ method: 'get', path: '/api/v2/model/version/{name}/{version}', params: { name: v2name, version: 99 } }, 404);
    const logs = await oa.call<string>({ method: 'get', path: '/api/v2/model/version/{id}/logs', params: { id: mv.body.id }, headers: { accept: 'text/event-stream' } }, 200);
    assert.match(logs.body, /EndOfStream/);
    await oa.call({ method: 'get', path: '/api/v2/model/version/{id}/logs', params: { id: 999999999 } }, 404);
    await oa.call({ method: 'get', path: '/api/v2/events', headers: { accept: 'text/event-stream' }, headOnly: true }, 200);
    await anonymous.call({ method: 'get', path: '/api/v2/events', headOnly: true }, 401);

    for (const r of unsupportedRoutes) {
      await oa.call({ method: r.method, path: r.path.replace(/:(\w+)/g, '{$1}'), params: { id: '1' }, headers: r.method === 'get' ? {} : jsonHeaders, body: r.method === 'get' ? undefined : '{}' }, 501);
    }
  });

  it('exercised every operation of the document, each with a success answer', () => {
    const seen = merge();
    const missing = oa.operations().filter((op) => ![...(seen.get(op) ?? [])].some((s) => s < 300 || s === 501));
    assert.deepEqual(missing, [], 'operations never answered with success');
    // The JSON request bodies were held to the document too.
    assert.deepEqual([...new Set([...oa.requestsChecked, ...readOnly.requestsChecked])].sort(), [
      'post /api/v1/batches', 'post /api/v1/models/{name}/versions', 'post /api/v1/tokens', 'post /api/v1/uploads', 'post /api/v1/webhooks',
    ]);
  });
});
