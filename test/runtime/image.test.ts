import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type { Contract } from '../../src/contract/index.js';
import { services } from '../support/services.js';
import {
  DT, PREDICT, decodeResponse, docker, fetchWithin, grpcCall, infer, logsOf, predictRequest, pull, startRuntime, tensor, waitExit, writeModelDir,
  type RunningRuntime,
} from './support.js';

// RUNTIME.md's verified exchange: model linear (y = 2x + 1), signature predict, x = [1, 2, 3.5] -> y = [3, 5, 8].
const REQUEST = Buffer.from('0a110a066c696e6561721a0770726564696374121b0a0178121608011204120208032a0c0000803f0000004000006040', 'hex');
const ANSWER = '0a1b0a0179121608011204120208032a0c000040400000a04000000041';

const vector = (name: string, dtype: 'float' | 'double') => ({ name, dtype, shape: [-1] });
const linear: Contract = {
  framework: 'python',
  signatures: [
    { name: 'apredict', inputs: [vector('x', 'float')], outputs: [vector('y', 'float')] },
    { name: 'fails', inputs: [vector('x', 'float')], outputs: [vector('y', 'float')] },
    { name: 'predict', inputs: [vector('x', 'float')], outputs: [vector('y', 'float')] },
    {
      name: 'shapes',
      inputs: [{ name: 'm', dtype: 'double', shape: [-1, 2] }, { name: 's', dtype: 'int64', shape: [] }],
      outputs: [{ name: 'total', dtype: 'double', shape: [] }],
    },
  ],
};

const values2020 = `import asyncio

def predict(x):
    return {"y": x * 2 + 1}

async def apredict(x):
    await asyncio.sleep(0.01)
    return {"y": x * 2 + 1}

def shapes(m, s):
    with open("/tmp/calls", "a") as f:
        f.write("shapes\\n")
    return {"total": float(m.sum()) * s}

def fails(x):
    raise ValueError("x is not welcome")
`;

const tensors2018 = `import asyncio
import hydro_serving_grpc as hs

def predict(x):
    y = [2 * v + 1 for v in x.float_val]
    shape = hs.TensorShapeProto(dim=[hs.TensorShapeProto.Dim(size=len(y))])
    return hs.PredictResponse(outputs={"y": hs.TensorProto(dtype=hs.DT_FLOAT, tensor_shape=shape, float_val=y)})

async def apredict(x):
    await asyncio.sleep(0.01)
    return predict(x)

def shapes(m, s):
    return hs.PredictResponse(outputs={"total": hs.TensorProto(dtype=hs.DT_DOUBLE, tensor_shape=hs.TensorShapeProto(), double_val=[sum(m.double_val) * s.int64_val[0]])})

def fails(x):
    return {"y": [1.0]}
`;

const xs = (...values: number[]) => ({ inputs: [{ name: 'x', shape: [values.length], datatype: 'FP32', data: values }] });

describe('the Python runtime image', () => {
  const image = () => services.baseImages().python;
  const dirs: string[] = [];
  const containers: RunningRuntime[] = [];
  let v2020: RunningRuntime;
  let v2018: RunningRuntime;

  before(async () => {
    pull(image());
    const dir2020 = await writeModelDir('linear', linear, { 'src/func_main.py': values2020 });
    const dir2018 = await writeModelDir('linear', linear, { 'src/func_main.py': tensors2018 });
    dirs.push(dir2020, dir2018);
    v2020 = await startRuntime(image(), ['-v', `${dir2020}:/model:ro`]);
    v2018 = await startRuntime(image(), ['-v', `${dir2018}:/model:ro`]);
    containers.push(v2020, v2018);
  });
  after(async () => {
    for (const c of containers) c.remove();
    for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
  });

  it('starts and answers its health checks (start time reported)', async (t) => {
    t.diagnostic(`ready ${Math.round(v2020.readyAfterMs)} ms and ${Math.round(v2018.readyAfterMs)} ms after docker start`);
    for (const rt of [v2020, v2018]) {
      assert.equal((await fetchWithin(`${rt.http}/v2/health/live`)).status, 200);
      assert.deepEqual(await (await fetchWithin(`${rt.http}/v2/health/ready`)).json(), { ready: true });
    }
    assert.match(v2020.logs(), /ready in \d+ ms: model linear, signatures apredict, fails, predict, shapes \(2020 calling convention\)/);
    assert.match(v2018.logs(), /\(2018 calling convention\)/);
    const meta = await (await fetchWithin(`${v2020.http}/v2/models/shapes`)).json() as Record<string, unknown>;
    assert.deepEqual(meta.inputs, [{ name: 'm', datatype: 'FP64', shape: [-1, 2] }, { name: 's', datatype: 'INT64', shape: [] }]);
  });

  it('answers the RUNTIME.md wire exchange byte for byte, in both calling conventions', async () => {
    for (const rt of [v2020, v2018]) {
      const answer = await grpcCall(rt.grpc, PREDICT, REQUEST);
      assert.equal(answer.code, 0, answer.message);
      assert.equal(answer.body?.toString('hex'), ANSWER);
    }
  });

  it('calls sync and async functions through both faces', async () => {
    for (const rt of [v2020, v2018]) {
      for (const sig of ['predict', 'apredict']) {
        const http = await infer(rt, sig, xs(0, 1.5));
        assert.equal(http.status, 200, JSON.stringify(http.body));
        assert.deepEqual(http.body.outputs, [{ name: 'y', datatype: 'FP32', shape: [2], data: [1, 4] }]);
        const grpc = await grpcCall(rt.grpc, PREDICT, predictRequest(sig, { x: tensor(DT.FLOAT, [2], { float_val: [0, 1.5] }) }));
        assert.equal(grpc.code, 0, grpc.message);
        assert.deepEqual(decodeResponse(grpc.body!).y!.float_val, [1, 4]);
      }
      const total = await grpcCall(rt.grpc, PREDICT, predictRequest('shapes', {
        m: tensor(DT.DOUBLE, [2, 2], { double_val: [1, 2, 3, 4] }), s: tensor(DT.INT64, [], { int64_val: [3] }),
      }));
      assert.equal(total.code, 0, total.message);
      assert.deepEqual(decodeResponse(total.body!).total, { dtype: DT.DOUBLE, tensor_shape: {}, double_val: [30] });
    }
    const named = await infer(v2020, 'linear', { parameters: { signature: 'predict' }, ...xs(1) });
    assert.deepEqual(named.body.outputs, [{ name: 'y', datatype: 'FP32', shape: [1], data: [3] }]);
  });

  it('refuses a wrong dtype, shape or input name before calling the function (INVALID_ARGUMENT / 400 naming the field)', async () => {
    const calls = () => docker(['exec', v2020.id, 'sh', '-c', 'cat /tmp/calls 2>/dev/null || true']).split('\n').filter(Boolean).length;
    const callsBefore = calls();
    const m = tensor(DT.DOUBLE, [1, 2], { double_val: [1, 2] });
    const s = tensor(DT.INT64, [], { int64_val: [2] });
    const grpcCases: [Record<string, ReturnType<typeof tensor>>, RegExp][] = [
      [{ m: tensor(DT.FLOAT, [1, 2], { float_val: [1, 2] }), s }, /^input m: dtype is DT_FLOAT but the contract says DT_DOUBLE$/],
      [{ m: tensor(DT.DOUBLE, [2], { double_val: [1, 2] }), s }, /^input m: expected shape \[-1, 2\] \(2 dims\), got \[2\]$/],
      [{ m: tensor(DT.DOUBLE, [1, 3], { double_val: [1, 2, 3] }), s }, /^input m: dim 1 is 3 but the contract says 2/],
      [{ m, s: tensor(DT.INT64, [1], { int64_val: [2] }) }, /^input s: expected a scalar \(shape \[\]\), got shape \[1\]$/],
      [{ m: tensor(DT.DOUBLE, [2, 2], { double_val: [1, 2] }), s }, /^input m: shape \[2, 2\] holds 4 values, but 2 were sent$/],
      [{ m, s, q: s }, /^unknown input 'q': signature shapes takes m, s$/],
      [{ m }, /^missing input 's': signature shapes takes m, s$/],
    ];
    for (const [inputs, message] of grpcCases) {
      const answer = await grpcCall(v2020.grpc, PREDICT, predictRequest('shapes', inputs));
      assert.equal(answer.code, 3, `INVALID_ARGUMENT for ${JSON.stringify(Object.keys(inputs))}: ${answer.message}`);
      assert.match(answer.message, message);
    }
    const unknownSig = await grpcCall(v2020.grpc, PREDICT, predictRequest('nope', { m, s }));
    assert.equal(unknownSig.code, 3);
    assert.match(unknownSig.message, /^nope signature is not present in the model \(it has: apredict, fails, predict, shapes\)$/);

    const good = { name: 's', shape: [], datatype: 'INT64', data: [2] };
    const mJson = { name: 'm', shape: [1, 2], datatype: 'FP64', data: [1, 2] };
    const httpCases: [unknown[], RegExp][] = [
      [[{ ...mJson, datatype: 'FP32' }, good], /^input m: datatype is 'FP32' but the contract says FP64 \(double\)$/],
      [[{ ...mJson, shape: [2] }, good], /^input m: expected shape \[-1, 2\] \(2 dims\), got \[2\]$/],
      [[mJson, { ...good, shape: [1] }], /^input s: expected a scalar/],
      [[mJson, good, { ...good, name: 'q' }], /^unknown input 'q'/],
      [[mJson], /^missing input 's'/],
      [[mJson, { ...good, data: [2.5] }], /^input s: data must hold whole numbers for datatype INT64$/],
    ];
    for (const [inputs, message] of httpCases) {
      const res = await infer(v2020, 'shapes', { inputs });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.match(String(res.body.error), message);
    }
    assert.equal((await infer(v2020, 'nope', { inputs: [] })).status, 404);
    assert.equal(calls(), callsBefore, 'the function never ran');
    assert.equal((await infer(v2020, 'shapes', { inputs: [mJson, good] })).status, 200);
    assert.equal(calls(), callsBefore + 1);
  });

  it('answers UNKNOWN / 500 when the function raises, and OUT_OF_RANGE when a 2018 function returns no PredictResponse', async () => {
    const raised = await grpcCall(v2020.grpc, PREDICT, predictRequest('fails', { x: tensor(DT.FLOAT, [1], { float_val: [1] }) }));
    assert.equal(raised.code, 2);
    assert.equal(raised.message, 'func_main.fails raised ValueError: x is not welcome');
    const http = await infer(v2020, 'fails', xs(1));
    assert.equal(http.status, 500);
    assert.equal(http.body.error, 'func_main.fails raised ValueError: x is not welcome');
    assert.match(v2020.logs(), /Traceback[\s\S]*ValueError: x is not welcome/);
    const notResponse = await grpcCall(v2018.grpc, PREDICT, predictRequest('fails', { x: tensor(DT.FLOAT, [1], { float_val: [1] }) }));
    assert.equal(notResponse.code, 11);
    assert.match(notResponse.message, /returned dict; a function that uses hydro_serving_grpc must return hs\.PredictResponse/);
  });

  it('stops gracefully and promptly on SIGTERM', async (t) => {
    const dir = await writeModelDir('linear', linear, { 'src/func_main.py': values2020 });
    dirs.push(dir);
    const rt = await startRuntime(image(), ['-v', `${dir}:/model:ro`]);
    containers.push(rt);
    const started = performance.now();
    docker(['kill', '--signal', 'TERM', rt.id]);
    assert.equal(await waitExit(rt.id, 10_000), 0, rt.logs());
    t.diagnostic(`exited ${Math.round(performance.now() - started)} ms after SIGTERM`);
    assert.match(rt.logs(), /SIGTERM: stopping[\s\S]*stopped/);
  });

  it('exits with a clear message when there is no contract, or func_main cannot serve it', async () => {
    const bare = docker(['create', image()]).trim();
    try {
      docker(['start', bare]);
      assert.equal(await waitExit(bare), 2);
      assert.match(logsOf(bare), /cannot start: no model contract at \/model\/contract\.protobin/);
    } finally {
      docker(['rm', '-f', bare]);
    }
    const cases: [string, RegExp][] = [
      ['import nltk\n', /importing func_main\.py failed: ModuleNotFoundError: No module named 'nltk'/],
      ['def predict(y):\n    return {}\n\ndef shapes(m, s):\n    return {}\n',
        /func_main\.py has no function 'apredict' .*; func_main\.py has no function 'fails' .*; func_main\.predict takes no parameter 'x'/],
    ];
    for (const [source, message] of cases) {
      const dir = await writeModelDir('linear', linear, { 'src/func_main.py': source });
      dirs.push(dir);
      const rt = await startRuntime(image(), ['-v', `${dir}:/model:ro`], { waitReady: false });
      containers.push(rt);
      assert.equal(await waitExit(rt.id), 1);
      assert.match(rt.logs(), message);
    }
  });
});
