import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../support/app.js';
import { api, tarOf } from '../support/client.js';
import { repoRoot } from '../support/paths.js';
import { makeTar } from '../support/tar.js';
import { uniqueName } from '../support/unique.js';
import { assertCli2ModelVersion, assertHydrosdk2ModelVersion, assertHydrosdk3ModelVersion, assertV1ModelBuild } from './clients.js';
import { requestsCall, sseConnect, type SseEvent } from './wire.js';

const pythonModel = path.join(repoRoot, 'test', 'fixtures', 'models', 'python-tokenizer');
const admin = `mll_${randomBytes(6).toString('hex')}_${randomBytes(32).toString('base64url')}`;

type Mv = { id: number; status: string; model: { id: number; name: string }; modelVersion: number; image: { name: string; tag: string; sha256: string } | null };

describe('Hydrosphere follow-up routes on versions (any route made them), with Basic auth', () => {
  let app: TestApp;
  let hs: string;
  const upload = async (model: string, body: Buffer) => {
    const res = await api<{ version: number }>(`${app.url}/api/v1/models/${model}/versions`, {
      method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/x-tar' }, body: new Uint8Array(body),
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.version;
  };
  const get = async <T>(p: string) => {
    const res = await requestsCall(hs, 'GET', p);
    assert.equal(res.status, 200, `${p}: ${res.text}`);
    return res.json as T;
  };
  /** The 2.x CLI's wait: GET name/version until it is not Assembling (every 10 s there; faster here). */
  const cli2Wait = async (name: string, version: number) => {
    for (let i = 0; i < 600; i++) {
      const mv = await get<Mv>(`/api/v2/model/version/${name}/${version}`);
      assertCli2ModelVersion(mv);
      if (mv.status !== 'Assembling') return mv;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('still Assembling');
  };

  before(async () => {
    // Extract pauses a little so a test can see a version while it is Assembling.
    app = await startTestApp({ env: { MLL_AUTH: 'tokens', MLL_BOOTSTRAP_TOKEN: admin, MLL_FAILPOINTS: 'extract-mid=sleep:1500' } });
    const url = new URL(app.url);
    hs = `http://hs:${admin}@${url.host}`;
  });
  after(() => app?.stop());

  it('shows a version uploaded through our own API as a ModelVersion and a ModelBuild, with one id that stays', async () => {
    const model = uniqueName('hsread');
    const version = await upload(model, await tarOf(pythonModel));
    const first = await get<Mv>(`/api/v2/model/version/${model}/${version}`);
    assertHydrosdk2ModelVersion(first);
    assertHydrosdk3ModelVersion(first);
    assert.equal(first.status, 'Assembling');
    assert.equal(first.model.name, model);
    assert.equal(first.modelVersion, version);
    const again = await get<Mv>(`/api/v2/model/version/${model}/${version}`);
    assert.equal(again.id, first.id, 'the id is given once');
    assert.equal(again.model.id, first.model.id);
    const pending = await get<Record<string, unknown>>(`/api/v1/model/build/${first.id}`);
    assertV1ModelBuild(pending);
    assert.ok(['Pending', 'Running'].includes(String(pending.status)));

    const released = await cli2Wait(model, version);
    assert.equal(released.status, 'Released');
    assertHydrosdk2ModelVersion(released);
    assertHydrosdk3ModelVersion(released);
    assert.ok(released.image && released.image.name.length > 0 && released.image.tag.length > 0, JSON.stringify(released.image));
    assert.match(released.image!.sha256, /^[0-9a-f]{64}$/);
    const record = await api<{ image: { digest: string } }>(`${app.url}/api/v1/models/${model}/versions/${version}`, { headers: { authorization: `Bearer ${admin}` } });
    assert.equal(`sha256:${released.image!.sha256}`, record.body.image.digest, 'the image digest is the version\'s');
    const contract = (released as unknown as { modelSignature: { signatureName: string; inputs: { name: string; dtype: string; shape: { dims: number[] } }[] } }).modelSignature;
    assert.equal(contract.signatureName, 'count');
    assert.deepEqual(contract.inputs.map((f) => [f.name, f.dtype, f.shape.dims]), [['text', 'DT_STRING', []]]);

    const build = await get<{ status: string; modelVersion: { imageSHA256: string; modelVersion: number } }>(`/api/v1/model/build/${first.id}`);
    assertV1ModelBuild(build);
    assert.equal(build.status, 'Finished');
    assert.equal(build.modelVersion.imageSHA256, released.image!.sha256);

    const list = await get<Mv[]>('/api/v2/model/version');
    const mine = list.filter((mv) => mv.model.name === model);
    assert.deepEqual(mine.map((mv) => [mv.id, mv.modelVersion, mv.status]), [[first.id, version, 'Released']]);
    for (const mv of list) {
      assertHydrosdk2ModelVersion(mv);
      assertHydrosdk3ModelVersion(mv);
    }
  });

  it('lists versions uploaded through our own API that no Hydrosphere route has shown yet, each with its own id that stays', async () => {
    const model = uniqueName('hslist');
    const first = await upload(model, await tarOf(pythonModel));
    const second = await upload(model, await tarOf(pythonModel));
    // hydrosdk's ModelVersion.list / find_by_id: the whole list, nothing looked up by name before.
    const list = await get<Mv[]>('/api/v2/model/version');
    for (const mv of list) {
      assertHydrosdk2ModelVersion(mv);
      assertHydrosdk3ModelVersion(mv);
    }
    const mine = list.filter((mv) => mv.model.name === model).sort((a, b) => a.modelVersion - b.modelVersion);
    assert.deepEqual(mine.map((mv) => mv.modelVersion), [first, second]);
    const ids = list.map((mv) => mv.id);
    assert.equal(new Set(ids).size, ids.length, 'no id is given twice');
    assert.deepEqual([...ids].sort((a, b) => a - b), ids, 'oldest id first');
    assert.ok(!ids.includes(mine[0]!.model.id), 'model and version ids come from one counter');
    const byName = await get<Mv>(`/api/v2/model/version/${model}/${second}`);
    assert.equal(byName.id, mine[1]!.id, 'the id the list gave is the version\'s');
    const again = (await get<Mv[]>('/api/v2/model/version')).filter((mv) => mv.model.name === model);
    assert.deepEqual(again.map((mv) => mv.id).sort(), mine.map((mv) => mv.id).sort(), 'listing again gives no new ids');
    const build = await get<{ id: number; version: number }>(`/api/v1/model/build/${mine[0]!.id}`);
    assert.equal(build.version, first);
  });

  it('streams the build log as Log events numbered from 0, ends with EndOfStream and closes; Last-Event-ID resumes', async () => {
    const model = uniqueName('hslogs');
    const version = await upload(model, await tarOf(pythonModel));
    const { id } = await get<Mv>(`/api/v2/model/version/${model}/${version}`);
    const stream = await sseConnect(hs, `/api/v2/model/version/${id}/logs`);
    assert.equal(stream.status, 200);
    assert.match(stream.contentType, /^text\/event-stream/);
    const events: SseEvent[] = [];
    for await (const e of stream.events) events.push(e); // until the server closes, as the CLI reads it
    const logs = events.filter((e) => e.event === 'Log');
    assert.deepEqual(logs.map((e) => e.id), logs.map((_, i) => String(i)));
    assert.ok(logs.some((e) => /released/.test(e.data)), logs.map((e) => e.data).join('\n'));
    assert.equal(events.at(-1)!.event, 'EndOfStream');
    const resumed = await sseConnect(hs, `/api/v2/model/version/${id}/logs`, { 'Last-Event-ID': '1' });
    const rest: SseEvent[] = [];
    for await (const e of resumed.events) rest.push(e);
    assert.deepEqual(rest.filter((e) => e.event === 'Log').map((e) => e.data), logs.slice(2).map((e) => e.data));
  });

  it('announces the release on /api/v2/events as hydrosdk waits for it: connect, look the version up, read ModelUpdate', async () => {
    const model = uniqueName('hsevents');
    const version = await upload(model, await tarOf(pythonModel));
    const { id } = await get<Mv>(`/api/v2/model/version/${model}/${version}`);
    const stream = await sseConnect(hs, '/api/v2/events');
    assert.equal(stream.status, 200);
    // hydrosdk's lock_till_released: find_by_id reads the whole list after connecting.
    const listed = (await get<Mv[]>('/api/v2/model/version')).find((mv) => mv.id === id);
    assert.equal(listed?.status, 'Assembling');
    let update: Mv | undefined;
    for await (const e of stream.events) {
      if (e.event !== 'ModelUpdate') continue;
      const data = JSON.parse(e.data) as Mv;
      if (data.id !== id) continue;
      update = data;
      break;
    }
    stream.close();
    assert.equal(update?.status, 'Released', 'the first ModelUpdate of the version is its release');
    assertHydrosdk2ModelVersion(update);
    assertHydrosdk3ModelVersion(update);
  });

  it('shows a failed build as Failed in every protocol, with the reason', async () => {
    const model = uniqueName('hsfail');
    const broken = await makeTar([
      { name: 'serving.yaml', body: 'kind: Model\nname: x\nmodel-type: python:3.11\npayload: [src/]\ncontract:\n  nowhere:\n    inputs: {a: {shape: scalar, type: int64}}\n    outputs: {b: {shape: scalar, type: int64}}\n' },
      { name: 'src/func_main.py', body: 'def predict(a):\n    return a\n' },
    ]);
    // Listening before the upload: extract fails at once, and the stream does not replay what it missed.
    const events = await sseConnect(hs, '/api/v2/events');
    const version = await upload(model, broken);
    const { id } = await get<Mv>(`/api/v2/model/version/${model}/${version}`);
    const failed = await cli2Wait(model, version);
    assert.equal(failed.status, 'Failed');
    assertHydrosdk2ModelVersion(failed);
    let update: Mv | undefined;
    for await (const e of events.events) {
      if (e.event === 'ModelUpdate' && (JSON.parse(e.data) as Mv).id === id) {
        update = JSON.parse(e.data) as Mv;
        break;
      }
    }
    events.close();
    assert.equal(update?.status, 'Failed');
    const build = await get<{ status: string; statusText: string; modelVersion: unknown }>(`/api/v1/model/build/${id}`);
    assertV1ModelBuild(build);
    assert.equal(build.status, 'Failed');
    assert.match(build.statusText, /nowhere/);
    const logs = await sseConnect(hs, `/api/v2/model/version/${id}/logs`);
    const lines: SseEvent[] = [];
    for await (const e of logs.events) lines.push(e);
    assert.ok(lines.some((e) => e.event === 'Log' && /^failed: .*nowhere/s.test(e.data)), lines.map((e) => e.data).join('\n'));
    assert.equal(lines.at(-1)!.event, 'EndOfStream');
  });

  it('answers unknown and malformed ids with 404 and 400 in our error shape', async () => {
    const missing = await requestsCall(hs, 'GET', '/api/v1/model/build/999999999');
    assert.equal(missing.status, 404);
    assert.match((missing.json as { error: { message: string } }).error.message, /No model build with id 999999999/);
    assert.equal((await requestsCall(hs, 'GET', '/api/v2/model/version/999999999/logs')).status, 404);
    const bad = await requestsCall(hs, 'GET', '/api/v1/model/build/abc');
    assert.equal(bad.status, 400);
    assert.equal((bad.json as { error: { code: string } }).error.code, 'BAD_REQUEST');
    assert.equal((await requestsCall(hs, 'GET', `/api/v2/model/version/${uniqueName('nope')}/1`)).status, 404);
  });
});
