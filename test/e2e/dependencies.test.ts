import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../support/app.js';
import { api, uploadTar, waitForVersion, type PresentedVersion } from '../support/client.js';
import { startPackageIndex, type PackageIndex } from '../support/package-index.js';
import { makeTar } from '../support/tar.js';
import { uniqueName } from '../support/unique.js';
import { DT, PREDICT, decodeResponse, docker, grpcCall, infer, predictRequest, startRuntime, tensor } from '../runtime/support.js';

const servingYaml = (name: string) => `kind: Model
name: ${name}
model-type: python:3.11
payload: [src/, requirements.txt]
contract:
  predict:
    inputs:
      x: {shape: [-1], type: float32}
    outputs:
      y: {shape: [-1], type: float32}
`;
// The model's code imports a package that only its requirements.txt brings (and that package one of its own).
const funcMain = `import numpy as np
import affine

def predict(x):
    return {"y": np.asarray(affine.apply(x), dtype=np.float32)}
`;

/**
 * A Python model whose func_main.py imports a package from its requirements.txt, served by a PEP 503
 * index over loopback: uploaded through the API, built on the Python runtime with the dependency
 * layer, released, run with docker, and asked over gRPC and HTTP.
 */
describe('end to end: a Python model with requirements answers predictions', () => {
  let app: TestApp;
  let index: PackageIndex;
  const password = `pw-${uniqueName('e2e')}`;
  const cleanups: (() => void)[] = [];

  before(async () => {
    index = await startPackageIndex({ auth: { username: 'ci', password } });
    await index.addWheel({ name: 'affine', version: '1.0', requires: ['scales>=2'], files: {
      'affine/__init__.py': 'from scales import FACTOR, OFFSET\n\ndef apply(xs):\n    return [FACTOR * float(x) + OFFSET for x in xs]\n',
    } });
    await index.addWheel({ name: 'scales', version: '2.0', files: { 'scales/__init__.py': 'FACTOR = 2.0\nOFFSET = 1.0\n' } });
    app = await startTestApp({ target: 'registry', env: { MLL_PIP_INDEX_URL: index.url } });
  });
  after(async () => {
    for (const fn of cleanups.reverse()) fn();
    await app?.stop();
    await index?.close();
  });

  const upload = async (model: string, requirements: string) => {
    const res = await uploadTar(app.url, model, await makeTar([
      { name: 'serving.yaml', body: servingYaml(model) },
      { name: 'requirements.txt', body: requirements },
      { name: 'src/func_main.py', body: funcMain },
    ]));
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.version as number;
  };

  it('installs the requirements at build time, releases, and the image answers gRPC Predict and HTTP infer', async () => {
    const model = uniqueName('deps');
    const v1 = await upload(model, 'affine==1.0\n');
    const done = await waitForVersion(app.url, model, v1, { timeoutMs: 180_000 });
    assert.equal(done.status, 'released', JSON.stringify(done.error));
    const deps = done.image?.dependencies;
    assert.deepEqual(deps?.packages.map((p) => `${p.name} ${p.version}`), ['affine 1.0', 'scales 2.0']);
    assert.deepEqual(deps?.python, { version: '3.11', platform: 'linux/amd64', from: 'runtime-label' });
    assert.equal(deps?.layer?.reused, false);
    assert.equal(done.image?.base?.matched, 'python', 'the record says which MLL_RUNTIMES entry chose the runtime');

    const ref = `${done.image!.reference.replace(/:\d+$/, '')}@${done.image!.digest}`;
    docker(['pull', '-q', ref]);
    cleanups.push(() => { try { docker(['rmi', '-f', ref]); } catch { /* gone */ } });
    const rt = await startRuntime(ref, []);
    cleanups.push(() => rt.remove());

    const http = await infer(rt, model, { inputs: [{ name: 'x', shape: [3], datatype: 'FP32', data: [1, 2, 3.5] }] });
    assert.equal(http.status, 200, `${JSON.stringify(http.body)}\n${rt.logs()}`);
    assert.deepEqual(http.body.outputs, [{ name: 'y', datatype: 'FP32', shape: [3], data: [3, 5, 8] }]);
    const grpc = await grpcCall(rt.grpc, PREDICT, predictRequest('predict', { x: tensor(DT.FLOAT, [3], { float_val: [1, 2, 3.5] }) }));
    assert.equal(grpc.code, 0, `${grpc.message}\n${rt.logs()}`);
    assert.deepEqual(decodeResponse(grpc.body!).y, { dtype: DT.FLOAT, tensor_shape: { dim: [{ size: 3 }] }, float_val: [3, 5, 8] });

    // A new version with the same requirements reuses the layer: pip does not run, the digest is the same.
    const asked = index.requests.length;
    const v2 = await upload(model, '# same packages\naffine==1.0\n');
    const again = await waitForVersion(app.url, model, v2, { timeoutMs: 120_000 });
    assert.equal(again.status, 'released', JSON.stringify(again.error));
    assert.equal(again.image?.dependencies?.layer?.reused, true);
    assert.equal(again.image?.dependencies?.layer?.digest, deps?.layer?.digest);
    assert.equal(index.requests.length, asked, 'the index was not asked again');

    // The index credentials are in none of what the service shows.
    const events = await api<{ items: { message?: string }[] }>(`${app.url}/api/v1/models/${model}/versions/${v1}/events`);
    assert.ok(events.body.items.some((e) => /^pip: /.test(e.message ?? '')), 'pip\'s progress is on the version');
    assert.doesNotMatch(JSON.stringify([done, again, events.body]), new RegExp(password));
  });

  it('fails a version whose requirement cannot be resolved, with pip\'s reason, and leaves the others alone', async () => {
    const model = uniqueName('deps-bad');
    const version = await upload(model, 'affine==1.0\nno-such-package>=1\n');
    const failed = await waitForVersion(app.url, model, version, { timeoutMs: 120_000 });
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error?.code, 'DEPENDENCY_UNRESOLVABLE');
    assert.match(failed.error!.message, /"no-such-package>=1" is not on the package index/);
    assert.equal((failed as PresentedVersion).stages.build?.attempts, 1, 'a permanent failure, not retried');
    // The extract that ran before it in the same job is written with the failure.
    assert.ok(failed.contract && failed.stages.extract?.finishedAt, 'the extract before the failed build is recorded');
    const durable = await app.running.services.catalog.getDurable(model, version);
    assert.deepEqual([durable.status, durable.contractDigest], ['failed', failed.contractDigest]);
    assert.doesNotMatch(JSON.stringify(failed), new RegExp(password));
  });
});
