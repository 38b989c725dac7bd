import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { runCli } from '../../src/cli/cli.js';
import { repoRoot } from '../support/paths.js';
import { ownModel, sharedModel, withTemp, writeTree } from './helpers.js';

/**
 * `mll contract`: the CLI's own entry (runCli) called in this process with captured stdout and
 * stderr, exit code checked. One case runs it as users do, a separate process, to hold the
 * process's own streams clean (the HDF5 reader must print nothing).
 */

type Run = { code: number; stdout: string; stderr: string };

function collector(): { stream: Writable; text(): string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

async function mll(...args: string[]): Promise<Run> {
  const stdout = collector();
  const stderr = collector();
  const code = await runCli([process.execPath, 'mll', ...args], { stdout: stdout.stream, stderr: stderr.stream, env: { ...process.env, NO_COLOR: '1' } });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

const run = promisify(execFile);
const main = path.join(repoRoot, 'src', 'cli', 'main.ts');

async function mllProcess(...args: string[]): Promise<Run> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', main, ...args], { cwd: repoRoot, env: { ...process.env, NO_COLOR: '1' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function expected(model: string): unknown {
  const json = JSON.parse(readFileSync(path.join(path.dirname(model), 'expected.json'), 'utf8')) as Record<string, unknown>;
  delete json.notes;
  return json;
}

describe('mll contract', () => {
  test('--json prints exactly the JSON form on stdout and nothing else', async () => {
    const model = sharedModel('tensorflow', 'half_plus_two_cpu');
    const { code, stdout, stderr } = await mll('contract', model, '--json');
    assert.equal(code, 0, stderr);
    assert.deepEqual(JSON.parse(stdout), expected(model));
    assert.equal(stderr, '');
  });

  test('--json before the command, and a single model file', async () => {
    const model = sharedModel('onnx', 'sequence_model8_symbolic');
    const { code, stdout } = await mll('--json', 'contract', path.join(model, 'model.onnx'));
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(stdout), expected(model));
  });

  test('a Keras .h5 prints no HDF5 diagnostics (a separate process: its own stdout and stderr)', async () => {
    const model = ownModel('keras', 'keras_functional_two_inputs');
    const { code, stdout, stderr } = await mllProcess('contract', model, '--json');
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(stdout), expected(model));
    assert.equal(stderr, '');
  });

  test('human output: model-type and a table per signature', async () => {
    const { code, stdout } = await mll('contract', ownModel('onnx', 'onnx_symbolic_and_scalars'));
    assert.equal(code, 0);
    assert.match(stdout, /^model-type {2}onnx:13$/m);
    assert.match(stdout, /^signature infer$/m);
    assert.match(stdout, /in +tokens +int64 +\[batch, seq\]/);
    assert.match(stdout, /in +temperature +float +scalar/);
    assert.match(stdout, /in +anything +float +unknown rank/);
  });

  test('a contract the binary form cannot hold: printed, with a warning on stderr', async () => {
    const { code, stdout, stderr } = await mll('contract', ownModel('onnx', 'onnx_every_dtype'), '--json');
    assert.equal(code, 0);
    assert.ok(JSON.parse(stdout));
    assert.match(stderr, /warning: the version would fail: signature infer, input e0 has type unsupported:UNDEFINED/);
  });

  test('failure: non-zero exit, the error on stderr, nothing on stdout', async () => {
    await withTemp(async (dir) => {
      await writeTree(dir, { 'model.pkl': 'x' });
      const json = await mll('contract', dir, '--json', '--name', 'iris');
      assert.notEqual(json.code, 0);
      assert.equal(json.stdout, '');
      // With --json the error may be JSON ({"error": {code, message}}) or the plain line.
      const message = json.stderr.trimStart().startsWith('{')
        ? (JSON.parse(json.stderr) as { error: { code: string; message: string } }).error
        : { code: /^error: ([A-Z_]+):/.exec(json.stderr)?.[1], message: json.stderr };
      assert.equal(message.code, 'CONTRACT_REQUIRED');
      assert.match(message.message, /name: "iris"/);
      const human = await mll('contract', dir, '--name', 'iris');
      assert.notEqual(human.code, 0);
      assert.equal(human.stdout, '');
      assert.match(human.stderr, /^error: CONTRACT_REQUIRED: /);
      assert.doesNotMatch(human.stderr, /Usage:/);
    });
    const missing = await mll('contract', '/nonexistent/model');
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /INVALID_MODEL: \/nonexistent\/model does not exist/);
  });
});

describe('mll contract on Hydrosphere folders', () => {
  const corpus = path.join(repoRoot, 'test', 'fixtures', 'serving-yaml');

  test('says which dialect it recognised, the contract file, the mapped name, and shows records by path', async () => {
    const early = await mll('contract', path.join(corpus, '2018a-field-name', 'model'));
    assert.equal(early.code, 0, early.stderr);
    assert.match(early.stdout, /^source {6}serving\.yaml \(contract from serving_metadata\/contract\.prototxt\)$/m);
    assert.match(early.stdout, /^dialect {5}Hydrosphere 2018a \(a model: map; the contract in a protobuf text file\)$/m);
    assert.match(early.stdout, /^name {8}ssd-detector-[0-9a-f]{8} \(serving\.yaml says "ssd\.Detector"\)$/m);
    assert.match(early.stdout, /^ {2}out {2}box\.score +float +scalar$/m);
    const late = await mll('contract', path.join(corpus, '2019plus-one-signature', 'model'));
    assert.equal(late.code, 0, late.stderr);
    assert.match(late.stdout, /^dialect {5}Hydrosphere 2019\+ \(one-signature contract\)$/m);
    assert.match(late.stdout, /^ {2}in {3}card\.limits\.daily +double +scalar/m);
    assert.match(late.stderr, /warning: serving\.yaml: contract\.inputs\.merchant\.profile "real" is not a data profile/);
  });

  test('--json: the contract of a 2019+ folder, exactly', async () => {
    const { code, stdout } = await mll('--json', 'contract', path.join(corpus, '2019-transitional', 'model'));
    assert.equal(code, 0);
    const want = JSON.parse(readFileSync(path.join(corpus, '2019-transitional', 'expected.json'), 'utf8')) as { contract: unknown };
    assert.deepEqual(JSON.parse(stdout), want.contract);
  });

  test('a refused install-command exits 1 with the part and what to do', async () => {
    const { code, stderr } = await mll('contract', path.join(corpus, 'install-command-refused', 'model'));
    assert.equal(code, 1);
    assert.match(stderr, /INVALID_SERVING_YAML: .*install-command: expected pip install steps only \(only pip install steps are run, and this one runs apt; put Python packages in requirements\.txt/s);
  });
});
