import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../support/app.js';
import { repoRoot } from '../support/paths.js';
import { services } from '../support/services.js';
import { uniqueName } from '../support/unique.js';
import { DT, PREDICT, decodeResponse, docker, grpcCall, predictRequest, tensor } from '../runtime/support.js';
import { json, mll, show, tempDir } from './support.js';

const servingYaml = (name: string) => `kind: Model
name: "${name}"
model-type: "python:3.11"
payload:
  - "src/"
contract:
  predict:
    inputs:
      x: {shape: [-1], type: float}
    outputs:
      y: {shape: [-1], type: float}
  greet:
    inputs:
      name: {shape: scalar, type: string}
    outputs:
      greeting: {shape: scalar, type: string}
`;

const funcMain = `def predict(x):
    return {"y": x * 2 + 1}


async def greet(name):
    return {"greeting": "hello " + name}
`;

// RUNTIME.md's request: signature predict, x = [1, 2, 3.5].
const REQUEST = Buffer.from('0a110a066c696e6561721a0770726564696374121b0a0178121608011204120208032a0c0000803f0000004000006040', 'hex');

interface RunJson {
  model: string;
  version: number;
  container: string;
  grpc: string;
  http: string;
  signatures: string[];
  alreadyRunning: boolean;
  detached: boolean;
}

const containersOf = (model: string, version?: number) => docker([
  'ps', '-aq', '--filter', `label=ai.mll.run.model=${model}`, ...(version ? ['--filter', `label=ai.mll.run.version=${version}`] : []),
]).split('\n').filter(Boolean);

describe('mll run and mll predict (a released Python model on the real runtime, in Docker)', () => {
  let app: TestApp;
  let tmp: { dir: string; remove(): Promise<void> };
  const name = uniqueName('runpy');
  let dir: string;
  const env = () => ({ DOCKER_HOST: services.dockerHost() });

  before(async () => {
    app = await startTestApp({ target: 'registry' });
    tmp = await tempDir('run');
    dir = path.join(tmp.dir, name);
    await fs.mkdir(path.join(dir, 'src'), { recursive: true });
    await fs.writeFile(path.join(dir, 'serving.yaml'), servingYaml(name));
    await fs.writeFile(path.join(dir, 'src', 'func_main.py'), funcMain);
    for (let i = 0; i < 2; i++) {
      const up = await mll(['upload', dir, '--wait'], { server: app.url });
      assert.equal(up.code, 0, show(up));
    }
  });
  after(async () => {
    try {
      for (const id of containersOf(name)) docker(['rm', '-f', id]);
      for (const line of docker(['images', '--no-trunc', '--format', '{{.ID}} {{.Repository}}']).split('\n')) {
        const [id, repository] = line.split(' ');
        if (id && repository?.endsWith(`/${name}`)) docker(['rmi', '-f', id]);
      }
    } finally {
      await app?.stop();
      await tmp?.remove();
    }
  });

  it('run --detach starts the version, waits until it is ready and prints where it answers', async () => {
    const r = await mll(['--json', 'run', name, '1', '--detach'], { server: app.url, env: env(), timeoutMs: 180_000 });
    assert.equal(r.code, 0, show(r));
    const out = json<RunJson>(r);
    assert.equal(out.model, name);
    assert.equal(out.version, 1);
    assert.deepEqual(out.signatures, ['greet', 'predict']);
    assert.match(out.grpc, /^127\.0\.0\.1:\d+$/);
    assert.match(out.http, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual(containersOf(name, 1), [out.container.slice(0, 12)]);
    assert.equal((await fetch(`${out.http}/v2/health/ready`)).status, 200);
    // The whole way: uploaded, built on the runtime, pushed, pulled, run; gRPC answers the RUNTIME.md exchange.
    const answer = await grpcCall(out.grpc, PREDICT, REQUEST);
    assert.equal(answer.code, 0, answer.message);
    assert.deepEqual(decodeResponse(answer.body!).y!.float_val, [3, 5, 8]);
    const greet = await grpcCall(out.grpc, PREDICT, predictRequest('greet', { name: tensor(DT.STRING, [], { string_val: [Buffer.from('grpc')] }) }));
    assert.equal(Buffer.from(decodeResponse(greet.body!).greeting!.string_val![0]!).toString(), 'hello grpc');

    const again = await mll(['run', name, '1', '--detach'], { server: app.url, env: env() });
    assert.equal(again.code, 0, show(again));
    assert.match(again.stdout, new RegExp(`${name}:1 is already running \\(container ${out.container.slice(0, 12)}`));
    assert.equal(containersOf(name, 1).length, 1, 'no second container');
  });

  it('predict sends the inputs by the contract and prints the outputs', async () => {
    const r = await mll(['predict', name, '1', '--signature', 'predict', '--input', 'x=1,2,3.5'], { server: app.url, env: env() });
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, 'y (FP32 [3]): [3,5,8]\n');
    const g = await mll(['--json', 'predict', name, '1', '-s', 'greet', '--input', 'name=wide, wide world'], { server: app.url, env: env() });
    assert.equal(g.code, 0, show(g));
    assert.deepEqual(json<{ outputs: unknown[] }>(g).outputs, [{ name: 'greeting', datatype: 'BYTES', shape: [], data: ['hello wide, wide world'] }]);
  });

  it('predict reports bad input: usage errors before sending, the runtime\'s 400 naming the field after', async () => {
    const several = await mll(['predict', name, '1', '--input', 'x=1'], { server: app.url, env: env() });
    assert.equal(several.code, 2, show(several));
    assert.match(several.stderr, /several signatures \(greet, predict\); choose one with --signature/);
    const notNumber = await mll(['predict', name, '1', '-s', 'predict', '--input', 'x=1,two'], { server: app.url, env: env() });
    assert.equal(notNumber.code, 2, show(notNumber));
    assert.match(notNumber.stderr, /--input x: "two" is not a number/);
    const shape = await mll(['predict', name, '1', '-s', 'predict', '--input', 'x=1,2', '--shape', 'x=1x2'], { server: app.url, env: env() });
    assert.equal(shape.code, 1, show(shape));
    assert.match(shape.stderr, /INVALID_INPUT: the runtime answered 400: input x: expected shape \[-1\] \(1 dims\), got \[1, 2\]/);
  });

  it('run in the foreground keeps it running until Ctrl-C, then stops and removes it', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src', 'cli', 'main.ts'), 'run', name, '2'], {
      cwd: repoRoot, env: { ...process.env, ...env(), MLL_SERVER: app.url }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const deadline = Date.now() + 120_000;
    while (!stdout.includes('Ctrl-C stops it.')) {
      assert.ok(Date.now() < deadline && child.exitCode === null, `mll run did not get ready\nstdout: ${stdout}\nstderr: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(stdout, new RegExp(`^${name}:2 is running \\(container [0-9a-f]{12}, image 127\\.0\\.0\\.1:\\d+/.*/${name}@sha256:[0-9a-f]{64}\\)`));
    assert.match(stdout, /curl -sS http:\/\/127\.0\.0\.1:\d+\/v2\/models\/greet\/infer -H 'content-type: application\/json' \\\n {4}-d '\{"inputs":\[\{"name":"name","shape":\[\],"datatype":"BYTES","data":\["text"\]\}\]\}'/);
    assert.match(stdout, new RegExp(`mll --server ${app.url} predict ${name} 2 --signature greet --input name='some text'`));
    assert.equal(containersOf(name, 2).length, 1);
    const p = await mll(['predict', name, '2', '-s', 'predict', '--input', 'x=0'], { server: app.url, env: env() });
    assert.equal(p.stdout, 'y (FP32 [1]): [1]\n', show(p));
    child.kill('SIGINT');
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /stopped and removed container [0-9a-f]{12}/);
    assert.match(stderr, /SIGTERM: stopping/, 'the runtime log was shown, to its graceful stop');
    assert.deepEqual(containersOf(name, 2), []);
  });

  it('says clearly when a version is not released, not running, model-only, or there is no Docker engine', async () => {
    const noEngine = await mll(['run', name, '1'], { server: app.url, env: { DOCKER_HOST: 'unix:///tmp/no-such-docker.sock' } });
    assert.equal(noEngine.code, 3, show(noEngine));
    assert.match(noEngine.stderr, /DOCKER_UNAVAILABLE: no Docker engine answers at unix:\/\/\/tmp\/no-such-docker\.sock \(ENOENT\); start Docker, or set DOCKER_HOST to one/);

    const broken = uniqueName('runbroken');
    const brokenDir = path.join(tmp.dir, broken);
    await fs.mkdir(path.join(brokenDir, 'src'), { recursive: true });
    await fs.writeFile(path.join(brokenDir, 'serving.yaml'), servingYaml(broken));
    await fs.writeFile(path.join(brokenDir, 'src', 'func_main.py'), 'def predict(x):\n    return {}\n');
    assert.equal((await mll(['upload', brokenDir, '--wait'], { server: app.url })).code, 1);
    const failed = await mll(['run', broken, '1'], { server: app.url, env: env() });
    assert.equal(failed.code, 1, show(failed));
    assert.match(failed.stderr, new RegExp(`VERSION_NOT_RELEASED: version 1 of ${broken} is failed \\([\\s\\S]*greet[\\s\\S]*\\); only released versions run`));
    const none = await mll(['run', broken], { server: app.url, env: env() });
    assert.match(none.stderr, new RegExp(`VERSION_NOT_RELEASED: model ${broken} has no released version yet`));

    const notRunning = await mll(['predict', name, '2', '-s', 'predict', '--input', 'x=1'], { server: app.url, env: env() });
    assert.equal(notRunning.code, 1, show(notRunning));
    assert.match(notRunning.stderr, new RegExp(`NOT_RUNNING: ${name}:2 is not running on the Docker engine at .*; start it with mll run ${name} 2 --detach`));

    const plain = await startTestApp(); // no MLL_RUNTIMES: model-only images in an OCI layout
    try {
      const up = await mll(['upload', dir, '--wait'], { server: plain.url });
      assert.equal(up.code, 0, show(up));
      const modelOnly = await mll(['run', name, '1'], { server: plain.url, env: env() });
      assert.equal(modelOnly.code, 1, show(modelOnly));
      assert.match(modelOnly.stderr, /MODEL_ONLY_IMAGE: version 1 of .* is a model-only image with no runtime to serve it \(No runtime image is configured for framework "python"/);
    } finally {
      await plain.stop();
    }
  });
});
