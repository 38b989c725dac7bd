import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeContract, inspectModel, type Contract } from '../../src/contract/index.js';
import { repoRoot } from '../support/paths.js';
import { services } from '../support/services.js';
import { DT, PREDICT, decodeResponse, docker, grpcCall, infer, predictRequest, pull, startRuntime, tensor, writeModelDir, type RunningRuntime } from './support.js';

describe('models served by the Python runtime', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  describe('the python_tokenizer fixture (2020 convention, a sync and an async function)', () => {
    let rt: RunningRuntime;
    before(async () => {
      const image = services.baseImages().python;
      pull(image);
      const model = path.join(repoRoot, 'test', 'fixtures', 'contract', 'python', 'python_tokenizer', 'model');
      const { contract } = await inspectModel(model);
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mll-rt-tok-'));
      cleanups.push(() => fs.rm(dir, { recursive: true, force: true }));
      await fs.writeFile(path.join(dir, 'contract.protobin'), encodeContract('tokenizer', contract));
      rt = await startRuntime(image, ['-v', `${model}:/model/files:ro`, '-v', `${dir}/contract.protobin:/model/contract.protobin:ro`]);
      cleanups.push(() => rt.remove());
    });

    it('tokenizes and counts over HTTP', async () => {
      const text = { name: 'text', shape: [], datatype: 'BYTES', data: ['Hello, wide wörld'] };
      const tokens = await infer(rt, 'tokenize', { inputs: [text] });
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
      assert.deepEqual(tokens.body.outputs, [{ name: 'tokens', datatype: 'BYTES', shape: [3], data: ['Hello', 'wide', 'wörld'] }]);
      const count = await infer(rt, 'tokenizer', { parameters: { signature: 'count' }, inputs: [text] });
      assert.deepEqual(count.body.outputs, [{ name: 'n', datatype: 'INT64', shape: [], data: [3] }]);
      const ambiguous = await infer(rt, 'tokenizer', { inputs: [text] });
      assert.equal(ambiguous.status, 400);
      assert.match(String(ambiguous.body.error), /several signatures \(count, tokenize\)/);
    });

    it('tokenizes and counts over gRPC', async () => {
      const text = tensor(DT.STRING, [], { string_val: [Buffer.from('Hello, wide wörld')] });
      const tokens = await grpcCall(rt.grpc, PREDICT, predictRequest('tokenize', { text }));
      assert.equal(tokens.code, 0, tokens.message);
      const out = decodeResponse(tokens.body!).tokens!;
      assert.deepEqual(out.tensor_shape, { dim: [{ size: 3 }] });
      assert.deepEqual(out.string_val!.map((b) => Buffer.from(b).toString()), ['Hello', 'wide', 'wörld']);
      const count = await grpcCall(rt.grpc, PREDICT, predictRequest('count', { text }));
      assert.equal(count.code, 0, count.message);
      assert.deepEqual(decodeResponse(count.body!).n, { dtype: DT.INT64, tensor_shape: {}, int64_val: [3] });
    });
  });

  describe('a scikit-learn model trained here (runtime-python-sklearn)', () => {
    const contract: Contract = {
      framework: 'python',
      signatures: [{
        name: 'predict',
        inputs: [{ name: 'x', dtype: 'double', shape: [-1, 4] }],
        outputs: [{ name: 'label', dtype: 'int64', shape: [-1] }, { name: 'proba', dtype: 'double', shape: [-1, 2] }],
      }],
    };
    const funcMain = [
      'import os, pickle',
      '',
      'with open(os.path.join(os.path.dirname(__file__), "..", "model.pkl"), "rb") as f:',
      '    MODEL = pickle.load(f)',
      '',
      'def predict(x):',
      '    return {"label": MODEL.predict(x), "proba": MODEL.predict_proba(x)}',
      '',
    ].join('\n');
    // Trained and pickled in the same image that serves it; the expected answers come from the
    // model in that process, before pickling.
    const train = [
      'import json, pickle',
      'from sklearn.datasets import make_classification',
      'from sklearn.linear_model import LogisticRegression',
      'X, y = make_classification(n_samples=300, n_features=4, n_informative=3, n_redundant=1, random_state=7)',
      'model = LogisticRegression().fit(X, y)',
      'pickle.dump(model, open("/work/files/model.pkl", "wb"))',
      'q = X[:6]',
      'json.dump({"x": q.tolist(), "label": model.predict(q).tolist(), "proba": model.predict_proba(q).tolist()}, open("/work/expected.json", "w"))',
    ].join('\n');
    let rt: RunningRuntime;
    let expected: { x: number[][]; label: number[]; proba: number[][] };

    before(async () => {
      const image = services.sklearnBase();
      pull(image);
      const dir = await writeModelDir('classifier', contract, { 'src/func_main.py': funcMain });
      cleanups.push(() => fs.rm(dir, { recursive: true, force: true }));
      docker(['run', '--rm', '-v', `${dir}:/work`, image, 'python3', '-c', train]);
      expected = JSON.parse(await fs.readFile(path.join(dir, 'expected.json'), 'utf8')) as typeof expected;
      rt = await startRuntime(image, ['-v', `${dir}:/model:ro`]);
      cleanups.push(() => rt.remove());
    });

    it('answers what the model answered in the process that trained it, over HTTP and gRPC', async () => {
      assert.ok(new Set(expected.label).size === 2, 'both classes appear in the sample');
      const http = await infer(rt, 'predict', { inputs: [{ name: 'x', shape: [6, 4], datatype: 'FP64', data: expected.x }] });
      assert.equal(http.status, 200, JSON.stringify(http.body));
      assert.deepEqual(http.body.outputs, [
        { name: 'label', datatype: 'INT64', shape: [6], data: expected.label },
        { name: 'proba', datatype: 'FP64', shape: [6, 2], data: expected.proba.flat() },
      ]);
      const grpc = await grpcCall(rt.grpc, PREDICT, predictRequest('predict', { x: tensor(DT.DOUBLE, [6, 4], { double_val: expected.x.flat() }) }));
      assert.equal(grpc.code, 0, grpc.message);
      const out = decodeResponse(grpc.body!);
      assert.deepEqual(out.label!.int64_val, expected.label);
      assert.deepEqual(out.proba!.double_val, expected.proba.flat());
    });
  });
});
