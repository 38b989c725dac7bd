import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeContract } from '../../src/contract/binary.js';
import type { Contract } from '../../src/contract/types.js';
import { modelNameFromHydrosphere } from '../../src/domain/model-name.js';
import { getJson } from '../../src/storage/object-store.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { api } from '../support/client.js';
import { repoRoot } from '../support/paths.js';
import { uniqueName } from '../support/unique.js';
import { assertCli2ModelVersion, assertHydrosdk2ModelVersion, assertHydrosdk3ModelVersion, assertV1ModelBuild } from './clients.js';
import { hydrosphereTarball, requestsCall, requestsUpload, sseConnect, type SseEvent, type WireResponse } from './wire.js';

const fixture = path.join(repoRoot, 'test', 'fixtures', 'models', 'python-tokenizer');
const admin = `mll_${randomBytes(6).toString('hex')}_${randomBytes(32).toString('base64url')}`;

type Mv = {
  id: number; status: string; model: { id: number; name: string }; modelVersion: number;
  image: { name: string; tag: string; sha256: string | null } | null;
  modelContract: { modelName: string; predict: { signatureName: string; inputs: { name: string; dtype: string }[] } };
  modelSignature: { signatureName: string; inputs: { name: string; dtype: string; shape?: { dims: number[] } }[] };
  metadata: Record<string, string>;
  monitoringConfiguration: { batchSize: number };
  runtime: { name: string; tag: string };
  installCommand: string | null;
};
type Build = { id: number; status: string; statusText: string | null; model: { name: string }; version: number; modelVersion: { imageSHA256: string } | null };

/** The tokenize signature as our contract (what the clients' own contract forms say). */
const tokenize: Contract = {
  framework: 'python',
  signatures: [{
    name: 'tokenize',
    inputs: [{ name: 'text', dtype: 'string', shape: [-1], profile: 'text' }],
    outputs: [{ name: 'tokens', dtype: 'string', shape: [-1, -1], profile: 'text' }],
  }],
};

/** The payload as every hs client packs it: each entry by its base name at the root, directories included, gzip. */
async function payload(extra: Record<string, string> = {}): Promise<Buffer> {
  return hydrosphereTarball({
    'src/func_main.py': await fs.readFile(path.join(fixture, 'src', 'func_main.py'), 'utf8'),
    'requirements.txt': await fs.readFile(path.join(fixture, 'requirements.txt'), 'utf8'),
    ...extra,
  });
}

const v2Contract = {
  modelName: 'x',
  predict: {
    signatureName: 'tokenize',
    inputs: [{ name: 'text', profile: 'TEXT', shape: { dim: [{ size: -1, name: '' }], unknownRank: false }, dtype: 'DT_STRING' }],
    outputs: [{ name: 'tokens', profile: 'TEXT', shape: { dim: [{ size: -1, name: '' }, { size: -1, name: '' }], unknownRank: false }, dtype: 'DT_STRING' }],
  },
};
const v3Signature = {
  signatureName: 'tokenize',
  inputs: [{ name: 'text', profile: 'TEXT', shape: { dims: [-1] }, dtype: 'DT_STRING' }],
  outputs: [{ name: 'tokens', profile: 'TEXT', shape: { dims: [-1, -1] }, dtype: 'DT_STRING' }],
};

/**
 * `registry`: the S3 store and a full release to a registry on a runtime base; the refusals and
 * failures do not depend on where payloads and images go, so they run once (fs store, OCI layout).
 */
function describeSuite(target: 'oci-layout' | 'registry') {
  const onLayout = target === 'oci-layout' ? it : it.skip;
  const store = target === 'registry' ? 'minio' : 'fs';
  describe(`Hydrosphere clients upload unchanged (${store} store, ${target})`, () => {
    let app: TestApp;
    let hs: string;
    before(async () => {
      app = await startTestApp({ target, store, env: { MLL_AUTH: 'tokens', MLL_BOOTSTRAP_TOKEN: admin } });
      hs = `http://hs:${admin}@${new URL(app.url).host}`;
    });
    after(() => app?.stop());

    const ours = (model: string, version: number) =>
      api<Record<string, unknown> & { status: string; client?: { origin?: { id?: string } }; displayName?: string; labels: Record<string, string>; warnings: { code: string }[]; image: { digest: string } | null }>(
        `${app.url}/api/v1/models/${model}/versions/${version}`, { headers: { authorization: `Bearer ${admin}` } });

    /** hs 0.1.x: `await_upload`, GET the build every 5 s (here 0.1 s) until Finished (exit 0) or Failed (exit 1). */
    async function v1Loop(id: number): Promise<Build> {
      for (let i = 0; i < 1200; i++) {
        const res = await requestsCall(hs, 'GET', `/api/v1/model/build/${id}`);
        assert.equal(res.status, 200, res.text);
        assertV1ModelBuild(res.json);
        const build = res.json as Build;
        if (build.status === 'Finished' || build.status === 'Failed') return build;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('the build never finished');
    }

    /** hs 2.x: read the logs SSE to its end, then GET name/version every 10 s (here 0.1 s) while Assembling. */
    async function cli2Loop(mv: Mv): Promise<{ final: Mv; logs: SseEvent[] }> {
      const stream = await sseConnect(hs, `/api/v2/model/version/${mv.id}/logs`);
      assert.equal(stream.status, 200);
      const logs: SseEvent[] = [];
      for await (const e of stream.events) logs.push(e);
      for (let i = 0; i < 1200; i++) {
        const res = await requestsCall(hs, 'GET', `/api/v2/model/version/${mv.model.name}/${mv.modelVersion}`);
        assert.equal(res.status, 200, res.text);
        assertCli2ModelVersion(res.json);
        const final = res.json as Mv;
        if (final.status !== 'Assembling') return { final, logs };
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('still Assembling');
    }

    /** hydrosdk's lock_till_released: open /api/v2/events, find the version in the list, wait for its ModelUpdate. */
    async function sdkLock(id: number, check: (mv: unknown) => void): Promise<Mv> {
      const stream = await sseConnect(hs, '/api/v2/events');
      assert.equal(stream.status, 200);
      try {
        const list = await requestsCall(hs, 'GET', '/api/v2/model/version');
        assert.equal(list.status, 200);
        const all = list.json as Mv[];
        all.forEach(check);
        const found = all.find((mv) => mv.id === id);
        assert.ok(found, `version ${id} is in the list`);
        if (found.status !== 'Assembling') return found;
        for await (const e of stream.events) {
          if (e.event !== 'ModelUpdate') continue;
          const data = JSON.parse(e.data) as Mv;
          if (data.id !== id) continue;
          check(data);
          return data;
        }
        throw new Error('the event stream ended');
      } finally {
        stream.close();
      }
    }

    it('v1: hs upload (2018) — text parts, binary model_contract, payload "filename"; ModelBuild polled until Finished', async () => {
      const name = uniqueName('hs1');
      const res = await requestsUpload(hs, '/api/v1/model/upload', [
        { name: 'model_description', value: 'a tokenizer, uploaded the 2018 way' },
        { name: 'model_contract', value: Buffer.from(encodeContract(name, tokenize)) },
        { name: 'model_type', value: 'python:3.6' },
        { name: 'model_name', value: name },
        { name: 'payload', file: await payload(), filename: 'filename' },
      ]);
      assert.equal(res.status, 200, res.text);
      assertV1ModelBuild(res.json);
      const started = res.json as Build;
      assert.equal(started.status, 'Pending');
      assert.equal(started.modelVersion, null);
      assert.equal(started.model.name, name);
      const build = await v1Loop(started.id);
      assert.equal(build.status, 'Finished', JSON.stringify(build));
      const record = await ours(name, build.version);
      assert.equal(record.body.status, 'released');
      assert.equal(record.body.client?.origin?.id, String(started.id), 'the version record names its Hydrosphere id');
      assert.equal(record.body.description, 'a tokenizer, uploaded the 2018 way');
      assert.equal(`sha256:${build.modelVersion!.imageSHA256}`, record.body.image!.digest);
      assert.deepEqual((record.body.contract as Contract).signatures.map((s) => s.name), ['tokenize'], 'the contract sent in model_contract');
    });

    it('v2: hs apply 2.x — metadata then payload, a name with upper case and dots; logs SSE, then polled until Released', async () => {
      const name = `Census.${uniqueName('Hs2')}`;
      const res = await requestsUpload(hs, '/api/v2/model/upload', [
        {
          name: 'metadata', value: JSON.stringify({
            contract: { ...v2Contract, modelName: name },
            runtime: { name: 'hydrosphere/serving-runtime-python-3.6', tag: '2.1.0' },
            name,
            installCommand: 'pip install -r requirements.txt',
            metadata: { team: 'census', 'git.branch': 'main' },
            monitoring_configuration: { batch_size: 50 },
          }),
        },
        { name: 'payload', file: await payload(), filename: 'filename' },
      ]);
      assert.equal(res.status, 200, res.text);
      assertCli2ModelVersion(res.json);
      assertHydrosdk2ModelVersion(res.json);
      const mv = res.json as Mv;
      assert.equal(mv.status, 'Assembling');
      assert.equal(mv.model.name, name, 'the name as the client wrote it');
      assert.equal(mv.monitoringConfiguration.batchSize, 50);
      assert.deepEqual(mv.runtime, { name: 'hydrosphere/serving-runtime-python-3.6', tag: '2.1.0' });
      assert.equal(mv.installCommand, 'pip install -r requirements.txt');
      const { final, logs } = await cli2Loop(mv);
      assert.equal(final.status, 'Released', JSON.stringify(final));
      assert.equal(final.id, mv.id);
      assertHydrosdk2ModelVersion(final);
      assert.equal(logs.at(-1)!.event, 'EndOfStream');
      assert.ok(logs.filter((e) => e.event === 'Log').length >= 3);
      assert.deepEqual(final.metadata, { team: 'census', 'git.branch': 'main' });
      assert.equal(final.modelContract.predict.signatureName, 'tokenize');
      const model = modelNameFromHydrosphere(name);
      assert.notEqual(model, name);
      const record = await ours(model, final.modelVersion);
      assert.equal(record.body.displayName, name);
      assert.deepEqual(record.body.labels, { team: 'census', 'git.branch': 'main' });
    });

    it('v3: hydrosdk 3 — payload then metadata with modelSignature; lock_till_released on /api/v2/events; hs 3.x reads the logs', async () => {
      const name = uniqueName('hs3');
      const res = await requestsUpload(hs, '/api/v2/model/upload', [
        { name: 'payload', file: await payload(), filename: 'filename' },
        {
          name: 'metadata', value: JSON.stringify({
            name,
            runtime: { name: 'hydrosphere/serving-runtime-python-3.7', tag: '3.0.0' },
            modelSignature: v3Signature,
            installCommand: null,
            metadata: { 'hydrosphere.sdk.version': '3.0.3', 'git.is-dirty': 'False' },
            monitoringConfiguration: { batchSize: 10 },
          }),
        },
      ]);
      assert.equal(res.status, 200, res.text);
      assertHydrosdk3ModelVersion(res.json);
      const mv = res.json as Mv;
      assert.equal(mv.modelSignature.signatureName, 'tokenize');
      const logs = await sseConnect(hs, `/api/v2/model/version/${mv.id}/logs`);
      const lines: SseEvent[] = [];
      for await (const e of logs.events) lines.push(e);
      assert.equal(lines.at(-1)!.event, 'EndOfStream');
      const released = await sdkLock(mv.id, assertHydrosdk3ModelVersion);
      assert.equal(released.status, 'Released');
      assert.equal(released.monitoringConfiguration.batchSize, 10);
      assert.deepEqual(released.modelSignature.inputs.map((f) => [f.name, f.dtype, f.shape?.dims]), [['text', 'DT_STRING', [-1]]]);
    });

    onLayout('v2: hydrosdk 2 — payload then metadata with contract; lock_till_released reads the whole list', async () => {
      const name = uniqueName('sdk2');
      const res = await requestsUpload(hs, '/api/v2/model/upload', [
        { name: 'payload', file: await payload(), filename: 'filename' },
        {
          name: 'metadata', value: JSON.stringify({
            name, runtime: { name: 'hydrosphere/serving-runtime-python-3.6', tag: '2.4.0', sha256: null },
            contract: { ...v2Contract, modelName: name }, installCommand: null, metadata: null,
          }),
        },
      ]);
      assert.equal(res.status, 200, res.text);
      assertHydrosdk2ModelVersion(res.json);
      const mv = res.json as Mv;
      assert.equal(mv.monitoringConfiguration.batchSize, 100, "Hydrosphere's default");
      const released = await sdkLock(mv.id, assertHydrosdk2ModelVersion);
      assert.equal(released.status, 'Released');
    });

    onLayout('v1: a model_type without a version (hs upload of a folder whose serving.yaml says just "python") is that framework, not dropped', async () => {
      const name = uniqueName('hs1bare');
      const res = await requestsUpload(hs, '/api/v1/model/upload', [
        { name: 'model_contract', value: Buffer.from(encodeContract(name, tokenize)) },
        { name: 'model_type', value: 'python' },
        { name: 'model_name', value: name },
        { name: 'payload', file: await payload(), filename: 'filename' },
      ]);
      assert.equal(res.status, 200, res.text);
      const build = await v1Loop((res.json as Build).id);
      assert.equal(build.status, 'Finished', JSON.stringify(build));
      const record = await ours(name, build.version);
      assert.equal(record.body.modelType, 'python:unknown', 'the framework the client said, its version unknown (it was unknown:unknown)');
      assert.deepEqual((record.body.contract as Contract).signatures.map((s) => s.name), ['tokenize']);
    });

    onLayout('shows a failed build as Failed in each protocol', async () => {
      // A SavedModel that is not one: extract fails reading it (INVALID_MODEL).
      const broken = await hydrosphereTarball({ 'saved_model.pb': 'not a protobuf at all \u0000\u0001', 'variables/variables.index': '' });
      const v2name = uniqueName('hsfail');
      const v2 = await requestsUpload(hs, '/api/v2/model/upload', [
        { name: 'metadata', value: JSON.stringify({ name: v2name, runtime: { name: 'hydrosphere/serving-runtime-tensorflow-1.13.1', tag: '2.4.0' }, modelSignature: v3Signature }) },
        { name: 'payload', file: broken, filename: 'filename' },
      ]);
      assert.equal(v2.status, 200, v2.text);
      const mv = v2.json as Mv;
      const { final, logs } = await cli2Loop(mv);
      assert.equal(final.status, 'Failed');
      assertHydrosdk2ModelVersion(final);
      assert.ok(logs.some((e) => /^failed: /.test(e.data)), logs.map((e) => e.data).join('\n'));
      const sdk = await sdkLock(mv.id, assertHydrosdk3ModelVersion);
      assert.equal(sdk.status, 'Failed');

      const v1name = uniqueName('hsfail1');
      const v1 = await requestsUpload(hs, '/api/v1/model/upload', [
        { name: 'model_contract', value: Buffer.from(encodeContract(v1name, tokenize)) },
        { name: 'model_type', value: 'tensorflow:1.15' },
        { name: 'model_name', value: v1name },
        { name: 'payload', file: broken, filename: 'filename' },
      ]);
      assert.equal(v1.status, 200, v1.text);
      const build = await v1Loop((v1.json as Build).id);
      assert.equal(build.status, 'Failed');
      assert.match(build.statusText ?? '', /saved_model\.pb/);
    });

    onLayout('refuses bad requests with the status and message the clients print, and leaves nothing behind', async () => {
      const name = uniqueName('hsbad');
      const good = await payload();
      const store = app.running.services.store;
      const uploadKeys = async () => {
        const out: string[] = [];
        for await (const info of store.list('uploads/')) out.push(info.key);
        return out;
      };
      const before = await uploadKeys();
      const v2 = (metadata: unknown, file: Buffer = good) => requestsUpload(hs, '/api/v2/model/upload', [
        { name: 'metadata', value: typeof metadata === 'string' ? metadata : JSON.stringify(metadata) },
        { name: 'payload', file, filename: 'filename' },
      ]);
      const expectError = (res: WireResponse, status: number, code: string, pattern: RegExp) => {
        assert.equal(res.status, status, res.text);
        const body = res.json as { error: { code: string; message: string } };
        assert.equal(body.error.code, code, res.text);
        assert.match(body.error.message, pattern);
      };
      expectError(await v2('{not json'), 400, 'INVALID_METADATA', /not valid JSON/);
      expectError(await v2({ runtime: { name: 'r', tag: '1' } }), 400, 'INVALID_METADATA', /"name".*missing/);
      expectError(await v2({ name, modelSignature: { signatureName: 'p', inputs: [{ name: 'x', dtype: 'DT_NOPE', shape: { dims: [] } }], outputs: [] } }), 400, 'INVALID_METADATA', /modelSignature/);
      expectError(await v2({ name, installCommand: 'apt-get install -y libgomp1' }), 400, 'INVALID_METADATA', /installCommand cannot be used/);
      expectError(await v2({ name, metadata: { 'bad key!': 'x' } }), 400, 'INVALID_METADATA', /bad key!/);
      expectError(await v2({ name, runtime: 'not an object' }), 400, 'INVALID_METADATA', /metadata.runtime/);
      expectError(await v2({ name, modelSignature: v3Signature }, Buffer.from('this is not a tar archive at all, just text'.repeat(20))), 422, 'INVALID_ARCHIVE', /./);
      expectError(await requestsUpload(hs, '/api/v2/model/upload', [{ name: 'metadata', value: JSON.stringify({ name }) }]), 400, 'BAD_REQUEST', /no "payload" file part/);
      expectError(await requestsUpload(hs, '/api/v2/model/upload', [{ name: 'payload', value: 'text instead of a file' }]), 400, 'BAD_REQUEST', /must be a file part/);
      expectError(await requestsUpload(hs, '/api/v1/model/upload', [{ name: 'model_type', value: 'python:3.6' }, { name: 'payload', file: good, filename: 'filename' }]), 400, 'INVALID_METADATA', /model_name part is missing/);
      expectError(await requestsUpload(hs, '/api/v1/model/upload', [{ name: 'model_name', value: name }, { name: 'model_contract', value: Buffer.from([0xff, 0xff, 0xff, 0x01]) }, { name: 'payload', file: good, filename: 'filename' }]), 400, 'INVALID_METADATA', /model_contract/);
      expectError(await requestsUpload(hs, '/api/v1/model/upload', [{ name: 'model_name', value: 'has space' }, { name: 'payload', file: good, filename: 'filename' }]), 400, 'INVALID_MODEL_NAME', /has space/);
      expectError(await requestsUpload(hs, '/api/v1/model/upload', [{ name: 'model_name', value: name }, { name: 'surprise', value: 'x' }, { name: 'payload', file: good, filename: 'filename' }]), 400, 'BAD_REQUEST', /Unexpected part "surprise"/);
      expectError(await requestsCall(hs, 'POST', '/api/v2/model/upload', { body: good, headers: { 'Content-Type': 'application/gzip' } }), 415, 'UNSUPPORTED_MEDIA_TYPE', /multipart/);
      // Nothing was kept: no version, no payload object, no id record.
      assert.deepEqual(await uploadKeys(), before);
      assert.equal((await ours(name, 1)).status, 404);
      const ids: string[] = [];
      for await (const info of store.list('hydrosphere-ids/ids/')) {
        const record = await getJson<{ version?: number | null }>(store, info.key);
        if (record.version === null) ids.push(info.key);
      }
      assert.deepEqual(ids, [], 'no id is left claimed by an upload that did not become a version');
    });
  });
}

describeSuite('oci-layout');
describeSuite('registry');
