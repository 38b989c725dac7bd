import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../support/app.js';
import { tarOf, uploadMultipart, waitForVersion } from '../support/client.js';
import { startPackageIndex, type PackageIndex } from '../support/package-index.js';
import { services } from '../support/services.js';
import { uniqueName } from '../support/unique.js';
import { DT, PREDICT, decodeResponse, docker, grpcCall, infer, predictRequest, pull, startRuntime, tensor, type RunningRuntime } from '../runtime/support.js';

/**
 * The whole way, as a user meets it: a Python model (serving.yaml, func_main.py, requirements.txt
 * naming packages of a local index) is uploaded, built on ML Lambda's runtime with its dependency
 * layer, pushed and released; the released image is run with docker and answers over gRPC and HTTP.
 */

// RUNTIME.md's verified exchange: signature predict, x = [1, 2, 3.5] -> y = [3, 5, 8].
const REQUEST = Buffer.from('0a110a066c696e6561721a0770726564696374121b0a0178121608011204120208032a0c0000803f0000004000006040', 'hex');
const ANSWER = '0a1b0a0179121608011204120208032a0c000040400000a04000000041';

const servingYaml = (name: string, payload: string[], contract: string) =>
  `kind: Model\nname: "${name}"\nmodel-type: "python:3.11"\npayload:\n${payload.map((p) => `  - "${p}"\n`).join('')}contract:\n${contract}`;

const linearContract = ['predict', 'apredict'].map((s) => `  ${s}:\n    inputs:\n      x: {shape: [-1], type: float}\n    outputs:\n      y: {shape: [-1], type: float}\n`).join('');

const values2020 = `import asyncio

from scaler import FACTOR, OFFSET


def predict(x):
    return {"y": x * FACTOR + OFFSET}


async def apredict(x):
    await asyncio.sleep(0)
    return {"y": x * FACTOR + OFFSET}
`;

const tensors2018 = `import hydro_serving_grpc as hs

from scaler import FACTOR, OFFSET


def predict(x):
    y = [v * FACTOR + OFFSET for v in x.float_val]
    shape = hs.TensorShapeProto(dim=[hs.TensorShapeProto.Dim(size=len(y))])
    return hs.PredictResponse(outputs={"y": hs.TensorProto(dtype=hs.DT_FLOAT, tensor_shape=shape, float_val=y)})


async def apredict(x):
    return predict(x)
`;

describe('a Python model uploaded, built on the runtime with its requirements, released, run with docker', () => {
  let index: PackageIndex;
  let app: TestApp;
  let tmp: string;
  const containers: RunningRuntime[] = [];
  const images: string[] = [];

  before(async () => {
    index = await startPackageIndex();
    // scaler needs offset: pip resolves the dependency from the index into /model/lib.
    await index.addWheel({ name: 'scaler', version: '1.0', files: { 'scaler/__init__.py': 'from offset import OFFSET\nFACTOR = 2\n' }, requires: ['offset>=1'] });
    await index.addWheel({ name: 'offset', version: '1.0', files: { 'offset/__init__.py': 'OFFSET = 1\n' } });
    app = await startTestApp({ target: 'registry', env: { MLL_PIP_INDEX_URL: index.url } });
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'mll-e2e-rt-'));
  });
  after(async () => {
    for (const c of containers) c.remove();
    for (const image of images) {
      try {
        docker(['rmi', '-f', image]);
      } catch {
        /* gone */
      }
    }
    await app?.stop();
    await index?.close();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  async function release(files: Record<string, string | Buffer>): Promise<{ name: string; image: string }> {
    const name = uniqueName('e2ert');
    const dir = path.join(tmp, name);
    for (const [rel, content] of Object.entries({ ...files, 'serving.yaml': String(files['serving.yaml']).replaceAll('NAME', name) })) {
      await fs.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
      await fs.writeFile(path.join(dir, rel), content);
    }
    const res = await uploadMultipart(app.url, name, await tarOf(dir));
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const v = await waitForVersion(app.url, name, 1, { timeoutMs: 180_000 });
    assert.equal(v.status, 'released', JSON.stringify(v.error));
    assert.equal(v.image?.modelOnly, false);
    const image = `${v.image!.reference.replace(/:[^:/]+$/, '')}@${v.image!.digest}`;
    pull(image);
    images.push(image);
    return { name, image };
  }

  for (const [convention, funcMain] of [['2020 (values in, dict out)', values2020], ['2018 (TensorProto in, PredictResponse out)', tensors2018]] as const) {
    it(`answers over gRPC and HTTP, sync and async, in the ${convention} convention, with its requirements installed`, async () => {
      const { image } = await release({
        'serving.yaml': servingYaml('NAME', ['src/', 'requirements.txt'], linearContract),
        'src/func_main.py': funcMain,
        'requirements.txt': 'scaler==1.0\n',
      });
      assert.match(docker(['run', '--rm', image, 'ls', '/model/lib']), /offset\n[\s\S]*scaler\n/, 'the dependency layer is under /model/lib');
      const rt = await startRuntime(image, []);
      containers.push(rt);
      const answer = await grpcCall(rt.grpc, PREDICT, REQUEST);
      assert.equal(answer.code, 0, answer.message);
      assert.equal(answer.body?.toString('hex'), ANSWER);
      const async = await grpcCall(rt.grpc, PREDICT, predictRequest('apredict', { x: tensor(DT.FLOAT, [2], { float_val: [0, 10] }) }));
      assert.deepEqual(decodeResponse(async.body!).y!.float_val, [1, 21], async.message);
      for (const sig of ['predict', 'apredict']) {
        const http = await infer(rt, sig, { inputs: [{ name: 'x', shape: [3], datatype: 'FP32', data: [1, 2, 3.5] }] });
        assert.deepEqual(http.body.outputs, [{ name: 'y', datatype: 'FP32', shape: [3], data: [3, 5, 8] }], JSON.stringify(http.body));
      }
      const wrong = await infer(rt, 'predict', { inputs: [{ name: 'x', shape: [1], datatype: 'INT64', data: [1] }] });
      assert.equal(wrong.status, 400);
      assert.equal(wrong.body.error, "input x: datatype is 'INT64' but the contract says FP32 (float)");
    });
  }

  it('serves a scikit-learn model trained here, uploaded pickled, with the answers of the process that trained it', async () => {
    const sklearnApp = await startTestApp({ target: 'registry', env: { MLL_RUNTIMES: `python=${services.sklearnBase()}` } });
    const previous = app;
    app = sklearnApp;
    try {
      const dir = path.join(tmp, 'train');
      await fs.mkdir(dir, { recursive: true });
      // Trained, pickled and its expected answers taken in the image that will serve it.
      docker(['run', '--rm', '-v', `${dir}:/work`, services.sklearnBase(), 'python3', '-c', [
        'import json, pickle',
        'from sklearn.datasets import make_classification',
        'from sklearn.ensemble import RandomForestClassifier',
        'X, y = make_classification(n_samples=200, n_features=4, n_informative=3, n_redundant=1, random_state=3)',
        'model = RandomForestClassifier(n_estimators=10, random_state=3).fit(X, y)',
        'pickle.dump(model, open("/work/model.pkl", "wb"))',
        'json.dump({"x": X[:5].tolist(), "label": model.predict(X[:5]).tolist(), "proba": model.predict_proba(X[:5]).tolist()}, open("/work/expected.json", "w"))',
      ].join('\n')]);
      const expected = JSON.parse(await fs.readFile(path.join(dir, 'expected.json'), 'utf8')) as { x: number[][]; label: number[]; proba: number[][] };
      const { image } = await release({
        'serving.yaml': servingYaml('NAME', ['src/', 'model.pkl'],
          '  predict:\n    inputs:\n      x: {shape: [-1, 4], type: double}\n    outputs:\n      label: {shape: [-1], type: int64}\n      proba: {shape: [-1, 2], type: double}\n'),
        'src/func_main.py': 'import os, pickle\n\nwith open(os.path.join(os.path.dirname(__file__), "..", "model.pkl"), "rb") as f:\n    MODEL = pickle.load(f)\n\n\ndef predict(x):\n    return {"label": MODEL.predict(x), "proba": MODEL.predict_proba(x)}\n',
        'model.pkl': await fs.readFile(path.join(dir, 'model.pkl')),
      });
      const rt = await startRuntime(image, []);
      containers.push(rt);
      const http = await infer(rt, 'predict', { inputs: [{ name: 'x', shape: [5, 4], datatype: 'FP64', data: expected.x }] });
      assert.deepEqual(http.body.outputs, [
        { name: 'label', datatype: 'INT64', shape: [5], data: expected.label },
        { name: 'proba', datatype: 'FP64', shape: [5, 2], data: expected.proba.flat() },
      ], JSON.stringify(http.body));
      const grpc = await grpcCall(rt.grpc, PREDICT, predictRequest('predict', { x: tensor(DT.DOUBLE, [5, 4], { double_val: expected.x.flat() }) }));
      assert.deepEqual(decodeResponse(grpc.body!).label!.int64_val, expected.label, grpc.message);
    } finally {
      app = previous;
      await sklearnApp.stop();
    }
  });
});
