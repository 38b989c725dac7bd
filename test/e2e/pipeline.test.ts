import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { decodeContract } from '../../src/contract/index.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { api, tarOf, uploadMultipart, uploadTar, waitForVersion, type PresentedVersion } from '../support/client.js';
import { repoRoot, requireSharedFixtures } from '../support/paths.js';
import { startPrivateRegistry, type PrivateRegistry } from '../support/registry.js';
import { services } from '../support/services.js';
import { makeTar } from '../support/tar.js';
import { uniqueName } from '../support/unique.js';

const exec = promisify(execFile);
const docker = (...args: string[]) => exec('docker', ['-H', services.dockerHost(), ...args], { maxBuffer: 16 << 20, encoding: 'buffer' });
const pythonModel = path.join(repoRoot, 'test', 'fixtures', 'models', 'python-tokenizer');

/**
 * One upload becomes a released, pullable image version, through every stage, on real Redis,
 * a real S3 server, a real Docker engine and a real registry (started by scripts/services/*).
 */
describe('end to end on real services (S3 store, registry target)', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ store: 'minio', target: 'registry' });
  });
  after(async () => {
    await app?.stop();
  });

  it('releases a TensorFlow SavedModel uploaded as tar.gz: manifest digest matches, the image runs and holds the contract', async () => {
    const model = uniqueName('tf');
    const dir = path.join(requireSharedFixtures(), 'tensorflow', 'half_plus_two_cpu', 'model');
    const res = await uploadTar(app.url, model, await tarOf(dir, true), { gzip: true });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.version, 1);
    assert.equal(res.body.status, 'queued');
    assert.equal(res.headers.get('location'), res.body.url);

    const done = await waitForVersion(app.url, model, 1, { timeoutMs: 90_000 });
    assert.equal(done.status, 'released', JSON.stringify(done.error));
    assert.match(done.modelType ?? '', /^tensorflow:1\.14/);
    for (const stage of ['extract', 'build', 'push'] as const) {
      assert.ok(done.stages[stage]?.startedAt && done.stages[stage]?.finishedAt, `stage ${stage} has timestamps`);
    }
    assert.deepEqual(done.contract?.signatures.map((s) => s.name), ['classify_x_to_y', 'regress_x2_to_y3', 'regress_x_to_y', 'regress_x_to_y2', 'serving_default']);
    assert.equal(done.image?.reference, `${app.registry}/${model}:1`);

    // The registry serves the manifest whose bytes hash to the recorded digest.
    const [host, ...ns] = app.registry!.split('/');
    const manifest = await fetch(`http://${host}/v2/${[...ns, model].join('/')}/manifests/1`, {
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
    });
    assert.equal(manifest.status, 200);
    const bytes = Buffer.from(await manifest.arrayBuffer());
    assert.equal(`sha256:${createHash('sha256').update(bytes).digest('hex')}`, done.image?.digest);

    // The image runs, and its contract.protobin decodes to the contract the API returns.
    const ref = `${done.image!.reference.replace(/:1$/, '')}@${done.image!.digest}`;
    await docker('pull', ref);
    const { stdout } = await docker('run', '--rm', ref, 'cat', '/model/contract.protobin');
    const served = await api<{ signatures: unknown[] }>(`${app.url}/api/v1/models/${model}/versions/1/contract`);
    assert.equal(served.status, 200);
    const decoded = decodeContract(stdout as unknown as Buffer);
    assert.equal(decoded.modelName, model);
    assert.deepEqual(decoded.contract.signatures, served.body.signatures);
    const binary = await fetch(`${app.url}/api/v1/models/${model}/versions/1/contract`, { headers: { accept: 'application/x-protobuf' } });
    assert.equal(binary.headers.get('content-type'), 'application/x-protobuf');
    assert.deepEqual(Buffer.from(await binary.arrayBuffer()), stdout);
    const files = await docker('run', '--rm', ref, 'ls', '/model/files', '/model/files/variables');
    assert.match(files.stdout.toString(), /saved_model\.pb/);
    assert.match(files.stdout.toString(), /variables\.index/);
    await docker('rmi', ref).catch(() => undefined);
  });

  it('releases a Python model with serving.yaml uploaded as multipart, with its metadata', async () => {
    const model = uniqueName('py');
    const res = await uploadMultipart(app.url, model, await tarOf(pythonModel), { labels: { team: 'search' }, description: 'tokenizer' });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const done = await waitForVersion(app.url, model, 1, { timeoutMs: 90_000 });
    assert.equal(done.status, 'released', JSON.stringify(done.error));
    assert.equal(done.modelType, 'python:3.11');
    assert.deepEqual(done.labels, { team: 'search' });
    assert.equal(done.description, 'tokenizer');
    assert.deepEqual(done.contract?.signatures.map((s) => s.name), ['count', 'tokenize']);
    assert.equal(done.tree?.files, 2, 'only the payload entries (src/func_main.py, requirements.txt) go into the image');
    const ref = `${done.image!.reference.replace(/:1$/, '')}@${done.image!.digest}`;
    await docker('pull', ref);
    const { stdout } = await docker('run', '--rm', ref, 'cat', '/model/files/src/func_main.py');
    assert.match(stdout.toString(), /def tokenize/);
    const inspect = JSON.parse((await docker('inspect', ref)).stdout.toString()) as { Config: { Labels: Record<string, string> } }[];
    const labels = inspect[0]!.Config.Labels;
    assert.ok(Object.values(labels).includes(model), `labels name the model: ${JSON.stringify(labels)}`);
    await docker('rmi', ref).catch(() => undefined);
  });

  it('gives 50 concurrent uploads of one model 50 distinct consecutive version numbers', async () => {
    const model = uniqueName('many');
    const body = await makeTar([{ name: 'serving.yaml', body: 'kind: Model\n' }]);
    const results = await Promise.all(Array.from({ length: 50 }, () => uploadTar(app.url, model, body)));
    for (const r of results) assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.deepEqual(results.map((r) => r.body.version).sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 1));
  });

  describe('bad input: a clear error, the right status, other versions untouched', () => {
    let model: string;
    let good: number;
    before(async () => {
      model = uniqueName('bad');
      const res = await uploadMultipart(app.url, model, await tarOf(pythonModel));
      good = res.body.version;
    });

    const refused = async (body: Buffer, status: number, code: string, message: RegExp, contentType = 'application/x-tar') => {
      const res = await api<{ error: { code: string; message: string } }>(`${app.url}/api/v1/models/${model}/versions`, {
        method: 'POST', headers: { 'content-type': contentType }, body: new Uint8Array(body),
      });
      assert.equal(res.status, status, JSON.stringify(res.body));
      assert.equal(res.body.error.code, code);
      assert.match(res.body.error.message, message);
    };

    it('refuses a payload that is not a tar', () => refused(Buffer.from('hello, this is not an archive at all '.repeat(30)), 422, 'INVALID_ARCHIVE', /not a tar archive/));
    it('refuses a tar with ../x', async () => refused(await makeTar([{ name: '../x', body: 'x' }]), 422, 'UNSAFE_ARCHIVE', /"\.\.\/x" contains "\.\."/));
    it('refuses an absolute path', async () => refused(await makeTar([{ name: '/etc/cron.d/x', body: 'x' }]), 422, 'UNSAFE_ARCHIVE', /absolute path/));
    it('refuses a symlink out of the root', async () => refused(await makeTar([{ name: 'link', type: 'symlink', linkname: '../../../etc/passwd' }]), 422, 'UNSAFE_ARCHIVE', /outside the model root/));
    it('refuses an empty upload', () => refused(Buffer.alloc(0), 400, 'EMPTY_PAYLOAD', /empty/));
    it('refuses a wrong content type', () => refused(Buffer.from('{}'), 415, 'UNSUPPORTED_MEDIA_TYPE', /not accepted/, 'text/plain'));
    it('refuses an invalid model name', async () => {
      const res = await uploadTar(app.url, 'Bad..Name', await makeTar([{ name: 'a', body: 'a' }]));
      assert.equal(res.status, 400);
      assert.equal(res.body.error?.code, 'INVALID_MODEL_NAME');
    });

    const failsWith = async (files: { name: string; body: string }[], code: string, message: RegExp) => {
      const res = await uploadTar(app.url, model, await makeTar(files));
      assert.equal(res.status, 202, JSON.stringify(res.body));
      const done = await waitForVersion(app.url, model, res.body.version, { timeoutMs: 60_000 });
      assert.equal(done.status, 'failed');
      assert.equal(done.error?.code, code, JSON.stringify(done.error));
      assert.match(done.error!.message, message);
      assert.equal(done.stages.extract?.attempts, 1, 'bad input fails at once, without retries');
    };

    it('fails a version whose serving.yaml is malformed, saying where', () =>
      failsWith([{ name: 'serving.yaml', body: 'kind: Model\nname: x\nmodel-type: python:3.11\ncontract: [1, 2\n' }], 'INVALID_SERVING_YAML', /serving\.yaml/));
    it('fails a version whose serving.yaml lists a missing payload entry', () =>
      failsWith([
        { name: 'serving.yaml', body: 'kind: Model\nname: x\nmodel-type: python:3.11\npayload:\n  - src/\n  - weights.bin\ncontract:\n  f:\n    inputs:\n      a: {shape: [-1], type: float}\n    outputs:\n      b: {shape: [-1], type: float}\n' },
        { name: 'src/func_main.py', body: 'def f(a):\n  return a\n' },
      ], 'PAYLOAD_ENTRY_MISSING', /weights\.bin/));

    it('left the good version alone and spent no version numbers on refused uploads', async () => {
      const v = await waitForVersion(app.url, model, good, { timeoutMs: 90_000 });
      assert.equal(v.status, 'released', JSON.stringify(v.error));
      const list = await api<{ items: { version: number }[]; total: number }>(`${app.url}/api/v1/models/${model}/versions`);
      assert.deepEqual(list.body.items.map((i) => i.version), [3, 2, 1]);
    });
  });
});

describe('a transient fault: the registry is down when the push starts', () => {
  let registry: PrivateRegistry;
  let app: TestApp;
  before(async () => {
    registry = await startPrivateRegistry();
    const base = services.baseImages();
    app = await startTestApp({
      target: 'registry',
      env: {
        MLL_REGISTRY: `${registry.host}/e2e`,
        MLL_REGISTRY_INSECURE: 'true',
        MLL_RUNTIMES: `python=${base.python}`,
        MLL_STAGE_ATTEMPTS: '10',
        MLL_STAGE_BACKOFF_MS: '300',
      },
    });
  });
  after(async () => {
    await app?.stop();
    await registry?.dispose();
  });

  it('retries the push with backoff and releases once the registry is back', async () => {
    await registry.stop();
    const model = uniqueName('flaky');
    const res = await uploadMultipart(app.url, model, await tarOf(pythonModel));
    assert.equal(res.status, 202);
    // Wait until the push has failed at least once, then bring the registry back.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const v = await api<PresentedVersion>(`${app.url}/api/v1/models/${model}/versions/1`);
      if ((v.body.stages.push?.attempts ?? 0) >= 2) break;
      assert.notEqual(v.body.status, 'failed', JSON.stringify(v.body.error));
      assert.ok(Date.now() < deadline, 'the push was never retried');
      await new Promise((r) => setTimeout(r, 100));
    }
    await registry.start();
    const done = await waitForVersion(app.url, model, 1, { timeoutMs: 60_000 });
    assert.equal(done.status, 'released', JSON.stringify(done.error));
    assert.ok(done.stages.push!.attempts >= 2);
    const events = await api<{ items: { type: string; message?: string }[] }>(`${app.url}/api/v1/models/${model}/versions/1/events`);
    assert.ok(events.body.items.some((e) => e.type === 'log' && /attempt \d+ of \d+ failed/.test(e.message ?? '')), 'the retry is visible in the events');
    const manifest = await fetch(`http://${registry.host}/v2/e2e/${model}/manifests/1`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(manifest.headers.get('docker-content-digest'), done.image?.digest);
  });
});
