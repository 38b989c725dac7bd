import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { inspectModel } from '../../src/contract/index.js';
import { topLevelFunctions } from '../../src/contract/python-source.js';
import { parseServingYaml, type YamlIssue } from '../../src/contract/serving-yaml.js';
import { rejectsWith, sharedModel, withTemp, writeTree } from './helpers.js';

/** serving.yaml: every rule of CONTRACT.md gives an issue with file, path, expected and found. */

const valid = `kind: Model
name: "tokenizer"
model-type: "python:3.6"
payload:
  - "src/"
  - "./requirements.txt"
  - "nltk_data"
contract:
  tokenize:
    inputs:
      x:
        shape: [-1, 1]
        type: string
        profile: text
    outputs:
      y:
        shape: [-1, 1]
        type: string
        profile: text
`;

const validFiles = {
  'src/func_main.py': 'import os\n\ndef tokenize(x):\n    return x\n',
  'requirements.txt': 'nltk\n',
  'nltk_data/corpus.txt': 'words\n',
};

function issuesOf(text: string): YamlIssue[] {
  try {
    parseServingYaml(text);
  } catch (err) {
    const e = err as { code?: string; details?: unknown };
    assert.equal(e.code, 'INVALID_SERVING_YAML');
    return e.details as YamlIssue[];
  }
  assert.fail('expected INVALID_SERVING_YAML');
}

function issueAt(text: string, p: string): YamlIssue {
  const issues = issuesOf(text);
  const found = issues.find((i) => i.path === p);
  assert.ok(found, `no issue at ${p}; issues: ${JSON.stringify(issues)}`);
  assert.equal(found.file, 'serving.yaml');
  assert.ok(found.expected.length > 0 && found.found.length > 0);
  return found;
}

describe('serving.yaml: a valid document', () => {
  test('parses and normalises the payload (folders end with /)', async () => {
    await withTemp(async (dir) => {
      await writeTree(dir, { 'serving.yaml': valid, ...validFiles });
      const got = await inspectModel(dir);
      assert.equal(got.modelType, 'python:3.6');
      assert.deepEqual(got.warnings, []);
      assert.ok(got.servingYaml);
      assert.equal(got.servingYaml.name, 'tokenizer');
      assert.equal(got.servingYaml.modelType, 'python:3.6');
      assert.deepEqual(got.servingYaml.payload, ['src/', 'requirements.txt', 'nltk_data/']);
      assert.equal(got.servingYaml.raw, valid);
      assert.deepEqual(got.contract, {
        framework: 'python',
        signatures: [{
          name: 'tokenize',
          inputs: [{ name: 'x', dtype: 'string', shape: [-1, 1], profile: 'text' }],
          outputs: [{ name: 'y', dtype: 'string', shape: [-1, 1], profile: 'text' }],
        }],
      });
    });
  });

  test('scalar shapes, several signatures sorted by name, fields in document order (also number-like names)', () => {
    const { doc } = parseServingYaml(`kind: Model
name: m
model-type: "python:3.9"
contract:
  zeta:
    inputs: {b: {shape: scalar, type: int64}, a: {shape: [], type: bool}, "10": {shape: [3], type: double}, "2": {shape: [-1], type: half}}
    outputs: {out: {shape: [1, 2, 3], type: float, profile: numerical}}
  alpha:
    inputs: {x: {shape: [-1], type: bfloat16}}
    outputs: {y: {shape: [-1], type: uint64}}
`);
    assert.deepEqual(doc.contract?.map((s) => s.name), ['alpha', 'zeta']);
    assert.deepEqual(doc.contract?.[1]?.inputs.map((f) => [f.name, f.shape]), [['b', []], ['a', []], ['10', [3]], ['2', [-1]]]);
    assert.equal(doc.payloadDeclared, false);
  });

  test('without payload, the whole upload is the payload', async () => {
    await withTemp(async (dir) => {
      await writeTree(dir, { 'serving.yaml': valid.replace(/payload:\n( {2}- .*\n)+/, ''), ...validFiles });
      const got = await inspectModel(dir);
      assert.deepEqual(got.servingYaml?.payload, ['nltk_data/', 'requirements.txt', 'serving.yaml', 'src/']);
      assert.equal(got.servingYaml?.payloadDeclared, false);
    });
  });

  test('unknown keys are warnings with their paths, not errors', async () => {
    const text = valid
      .replace('kind: Model', 'kind: Model\nowner: "search-team"\ntags: {team: nlp}')
      .replace('  tokenize:\n    inputs:', '  tokenize:\n    description: splits text\n    inputs:')
      .replace('        profile: text\n    outputs:', '        profile: text\n        default: "hello"\n    outputs:');
    await withTemp(async (dir) => {
      await writeTree(dir, { 'serving.yaml': text, ...validFiles });
      const got = await inspectModel(dir);
      const paths = got.warnings.filter((w) => w.code === 'SERVING_YAML_UNKNOWN_KEY').map((w) => (w.details as { path: string }).path);
      assert.deepEqual(paths, ['owner', 'tags', 'contract.tokenize.description', 'contract.tokenize.inputs.x.default']);
      assert.match(got.warnings[0]!.message, /serving\.yaml: unknown key owner is ignored/);
    });
  });
});

describe('serving.yaml: each kind of mistake', () => {
  const base = (over: string) => `kind: Model\nname: m\nmodel-type: "onnx:12"\n${over}`;
  const sig = (field: string) => base(`contract:\n  predict:\n    inputs:\n      x:\n${field}\n    outputs:\n      y: {shape: [-1], type: float}\n`);

  test('kind', () => {
    assert.deepEqual(issueAt('kind: Runtime\nname: m\nmodel-type: "onnx:1"\n', 'kind'), { file: 'serving.yaml', path: 'kind', expected: '"Model"', found: '"Runtime"' });
    assert.equal(issueAt('name: m\nmodel-type: "onnx:1"\n', 'kind').found, 'nothing');
  });

  test('name', () => {
    assert.match(issueAt('kind: Model\nmodel-type: "onnx:1"\n', 'name').expected, /model name matching/);
    assert.equal(issueAt('kind: Model\nname: "My Model"\nmodel-type: "onnx:1"\n', 'name').found, '"My Model"');
    assert.equal(issueAt('kind: Model\nname: 12\nmodel-type: "onnx:1"\n', 'name').found, '12');
  });

  test('model-type', () => {
    assert.match(issueAt('kind: Model\nname: m\n', 'model-type').expected, /<framework>:<version>/);
    assert.equal(issueAt('kind: Model\nname: m\nmodel-type: python\n', 'model-type').found, '"python"');
  });

  test('payload: not a list, empty, absolute, leaving the upload, not a string', () => {
    assert.equal(issueAt(base('payload: "src/"\n'), 'payload').found, '"src/"');
    assert.equal(issueAt(base('payload: []\n'), 'payload').found, 'a list');
    assert.equal(issueAt(base('payload: ["/etc/passwd"]\n'), 'payload[0]').found, '"/etc/passwd"');
    assert.equal(issueAt(base('payload: ["ok", "../secret"]\n'), 'payload[1]').found, '"../secret"');
    assert.equal(issueAt(base('payload: ["a/../../b"]\n'), 'payload[0]').found, '"a/../../b"');
    assert.equal(issueAt(base('payload: [{a: 1}]\n'), 'payload[0]').found, 'a mapping');
  });

  test('contract: not a mapping, a signature without inputs or outputs', () => {
    assert.equal(issueAt(base('contract: [a, b]\n'), 'contract').found, 'a list');
    assert.equal(issueAt(base('contract:\n  predict: 3\n'), 'contract.predict').found, '3');
    const noOutputs = base('contract:\n  predict:\n    inputs:\n      x: {shape: [-1], type: float}\n');
    assert.equal(issueAt(noOutputs, 'contract.predict.outputs').found, 'nothing');
    const emptyInputs = base('contract:\n  predict:\n    inputs: {}\n    outputs:\n      y: {shape: [-1], type: float}\n');
    assert.match(issueAt(emptyInputs, 'contract.predict.inputs').expected, /at least one input/);
  });

  test('field type: unknown names, with the list of known ones (NumPy and TensorFlow names are known)', () => {
    const i = issueAt(sig('        shape: [-1]\n        type: float33'), 'contract.predict.inputs.x.type');
    assert.equal(i.found, '"float33"');
    assert.match(i.expected, /one of half, float, double/);
    assert.match(i.expected, /float32/);
    assert.equal(issueAt(sig('        shape: [-1]'), 'contract.predict.inputs.x.type').found, 'nothing');
    assert.equal(issueAt(sig('        shape: [-1]\n        type: unsupported:INT4'), 'contract.predict.inputs.x.type').found, '"unsupported:INT4"');
    const { doc } = parseServingYaml(sig('        shape: [-1]\n        type: float32'));
    assert.equal(doc.contract?.[0]?.inputs[0]?.dtype, 'float');
  });

  test('field shape: each bad dim at its index, and bad shapes as a whole', () => {
    const text = sig('        shape: [-1, 0, 2.5, "3", -2, null, 7]\n        type: float');
    const issues = issuesOf(text).filter((i) => i.path.startsWith('contract.predict.inputs.x.shape'));
    assert.deepEqual(issues.map((i) => [i.path, i.found]), [
      ['contract.predict.inputs.x.shape[1]', '0'],
      ['contract.predict.inputs.x.shape[2]', '2.5'],
      ['contract.predict.inputs.x.shape[3]', '"3"'],
      ['contract.predict.inputs.x.shape[4]', '-2'],
      ['contract.predict.inputs.x.shape[5]', 'null'],
    ]);
    assert.equal(issues[0]!.expected, '-1 (any size) or a positive integer');
    assert.equal(issueAt(sig('        shape: matrix\n        type: float'), 'contract.predict.inputs.x.shape').found, '"matrix"');
    assert.equal(issueAt(sig('        type: float'), 'contract.predict.inputs.x.shape').found, 'nothing');
  });

  test('field profile: an unknown one is a warning and the field gets none', () => {
    const { doc, warnings } = parseServingYaml(sig('        shape: [-1]\n        type: float\n        profile: TEXTUAL'));
    assert.equal(doc.contract?.[0]?.inputs[0]?.profile, undefined);
    assert.equal(warnings[0]?.code, 'UNKNOWN_PROFILE');
    assert.match(warnings[0]!.message, /contract\.predict\.inputs\.x\.profile "TEXTUAL" is not a data profile; field x gets none/);
  });

  test('a field that is not a mapping, and odd names', () => {
    assert.equal(issueAt(sig('        - 1'), 'contract.predict.inputs.x').found, 'a list');
    const odd = base('contract:\n  "my sig":\n    inputs:\n      "a b": {shape: [-1], type: float}\n    outputs:\n      y: {shape: [-1], type: float}\n');
    assert.ok(issuesOf(odd).some((i) => i.path === 'contract["my sig"]' || i.path.startsWith('contract["my sig"]')));
  });

  test('all mistakes of a file are reported together', () => {
    const issues = issuesOf('kind: Pod\nname: "Bad Name"\nmodel-type: x\npayload: 3\n');
    assert.deepEqual(issues.map((i) => i.path), ['kind', 'name', 'model-type', 'payload']);
  });

  test('the error message lists the paths', () => {
    try {
      parseServingYaml(sig('        shape: [0]\n        type: float'));
      assert.fail('expected an error');
    } catch (err) {
      assert.match((err as Error).message, /serving\.yaml has 1 error:\n {2}contract\.predict\.inputs\.x\.shape\[0\]: expected -1 \(any size\) or a positive integer, found 0/);
    }
  });
});

describe('serving.yaml: unsafe or broken YAML', () => {
  test('syntax errors give the line', async () => {
    await rejectsWith(() => parseServingYaml('kind: Model\nname: [unclosed\n'), 'INVALID_SERVING_YAML', /not valid YAML: .*\(\d+:\d+\)/);
  });

  test('duplicate keys', async () => {
    await rejectsWith(() => parseServingYaml('kind: Model\nkind: Model\n'), 'INVALID_SERVING_YAML', /duplicated mapping key/);
  });

  test('custom tags are refused (no code, no JS types)', async () => {
    await rejectsWith(() => parseServingYaml('kind: !!js/function "function(){}"\n'), 'INVALID_SERVING_YAML', /unknown .*tag/);
    await rejectsWith(() => parseServingYaml('kind: !!python/object:os.system "ls"\n'), 'INVALID_SERVING_YAML', /tag/);
  });

  test('an alias bomb is stopped', async () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 30; i++) lines.push(`${String.fromCharCode(97 + (i % 26))}${i}: &a${i} [${Array(9).fill(i === 1 ? '*a' : `*a${i - 1}`).join(',')}]`);
    const started = Date.now();
    await rejectsWith(() => parseServingYaml(lines.join('\n')), 'INVALID_SERVING_YAML', /alias/);
    assert.ok(Date.now() - started < 2000);
  });

  test('aliases used a few times are fine, but the contract size is capped', () => {
    const { doc } = parseServingYaml(`kind: Model
name: m
model-type: "python:3.6"
contract:
  a: &sig
    inputs: {x: {shape: [-1], type: float}}
    outputs: {y: {shape: [-1], type: float}}
  b: *sig
`);
    assert.deepEqual(doc.contract?.map((s) => s.name), ['a', 'b']);
  });

  test('a document larger than 1 MiB', async () => {
    await rejectsWith(() => parseServingYaml(`kind: Model\n# ${'x'.repeat(1024 * 1024)}\n`), 'INVALID_SERVING_YAML', /larger than 1024 KiB/);
  });

  test('not a mapping, empty, several documents', async () => {
    await rejectsWith(() => parseServingYaml('- a\n- b\n'), 'INVALID_SERVING_YAML', /must be a mapping/);
    await rejectsWith(() => parseServingYaml(''), 'INVALID_SERVING_YAML', /not valid YAML/);
    await rejectsWith(() => parseServingYaml('kind: Model\n---\nkind: Model\n'), 'INVALID_SERVING_YAML', /not valid YAML/);
  });
});

describe('serving.yaml in an upload', () => {
  test('a missing payload entry is PAYLOAD_ENTRY_MISSING naming the entry and its path', async () => {
    await withTemp(async (dir) => {
      await writeTree(dir, { 'serving.yaml': valid, 'src/func_main.py': validFiles['src/func_main.py'] });
      const err = await rejectsWith(inspectModel(dir), 'PAYLOAD_ENTRY_MISSING', /requirements\.txt \(payload\[1\]\)/, /nltk_data \(payload\[2\]\)/);
      assert.deepEqual(err.details, [
        { file: 'serving.yaml', path: 'payload[1]', entry: 'requirements.txt' },
        { file: 'serving.yaml', path: 'payload[2]', entry: 'nltk_data' },
      ]);
    });
  });

  test('an entry written as a folder that is a file is the file (as Hydrosphere\'s clients read it)', async () => {
    await withTemp(async (dir) => {
      await writeTree(dir, { 'serving.yaml': valid.replace('"./requirements.txt"', '"requirements.txt/"'), ...validFiles });
      const got = await inspectModel(dir);
      assert.deepEqual(got.servingYaml?.payload, ['src/', 'requirements.txt', 'nltk_data/']);
    });
  });

  test('python: every signature must be a top-level function of src/func_main.py', async () => {
    await withTemp(async (dir) => {
      const text = valid.replace('  tokenize:', '  detokenize:\n    inputs: {a: {shape: [-1], type: string}}\n    outputs: {b: {shape: [-1], type: string}}\n  tokenize:');
      await writeTree(dir, { 'serving.yaml': text, ...validFiles, 'src/func_main.py': 'class T:\n    def detokenize(self, a):\n        return a\n\ndef tokenize(x):\n    return x\n' });
      const err = await rejectsWith(inspectModel(dir), 'INVALID_SERVING_YAML', /contract\.detokenize: expected a top-level function "def detokenize\(\.\.\.\)" in src\/func_main\.py, found only tokenize/);
      assert.equal((err.details as YamlIssue[]).length, 1);
    });
  });

  test('python: no src/func_main.py at all', async () => {
    await withTemp(async (dir) => {
      await writeTree(dir, { 'serving.yaml': valid.replace('  - "src/"\n', ''), 'requirements.txt': 'x', 'nltk_data/a': 'b' });
      await rejectsWith(inspectModel(dir), 'INVALID_SERVING_YAML', /found no src\/func_main\.py/);
    });
  });

  test('serving.yaml and serving.yml together', async () => {
    await withTemp(async (dir) => {
      await writeTree(dir, { 'serving.yaml': valid, 'serving.yml': valid, ...validFiles });
      await rejectsWith(inspectModel(dir), 'INVALID_SERVING_YAML', /both serving\.yaml and serving\.yml/);
    });
  });

  test('serving.yaml wins over inference; differences become warnings', async () => {
    const onnx = await readFile(path.join(sharedModel('onnx', 'label_encoder_string_int'), 'model.onnx'));
    await withTemp(async (dir) => {
      await writeTree(dir, {
        'model.onnx': onnx,
        'serving.yaml': 'kind: Model\nname: enc\nmodel-type: "onnx:4"\ncontract:\n  predict:\n    inputs:\n      X: {shape: [-1], type: string}\n    outputs:\n      Y: {shape: [-1], type: int64}\n',
      });
      const got = await inspectModel(dir, { modelName: 'enc' });
      assert.deepEqual(got.contract.signatures.map((s) => s.name), ['predict']);
      assert.equal(got.contract.framework, 'onnx');
      assert.equal(got.modelType, 'onnx:4');
      const codes = got.warnings.map((w) => w.code).sort();
      assert.deepEqual(codes, ['CONTRACT_MISMATCH', 'MODEL_TYPE_MISMATCH']);
      const mismatch = got.warnings.find((w) => w.code === 'CONTRACT_MISMATCH')!;
      assert.match(mismatch.message, /differs from the one model\.onnx declares/);
    });
  });

  test('serving.yaml without a contract: inferred contract, serving.yaml model-type', async () => {
    const onnx = await readFile(path.join(sharedModel('onnx', 'sequence_model8_symbolic'), 'model.onnx'));
    await withTemp(async (dir) => {
      await writeTree(dir, { 'm/model.onnx': onnx, 'serving.yaml': 'kind: Model\nname: seq\nmodel-type: "onnx:12"\npayload: ["m/"]\n' });
      const got = await inspectModel(dir);
      assert.equal(got.modelType, 'onnx:12');
      assert.deepEqual(got.warnings, []);
      assert.equal(got.contract.signatures[0]?.inputs[0]?.name, 'X');
    });
  });

  test('the payload picks the model when the upload holds several', async () => {
    const onnx = await readFile(path.join(sharedModel('onnx', 'sequence_model8_symbolic'), 'model.onnx'));
    await withTemp(async (dir) => {
      await writeTree(dir, { 'old/model.onnx': onnx, 'new/model.onnx': onnx, 'serving.yaml': 'kind: Model\nname: seq\nmodel-type: "onnx:12"\npayload: ["new/"]\n' });
      const got = await inspectModel(dir);
      assert.equal(got.contract.framework, 'onnx');
    });
  });

  test('the upload model-type: used, and a disagreement with the files is a warning', async () => {
    const got = await inspectModel(sharedModel('tensorflow', 'hydro_tensorflow_model'), { modelType: 'tensorflow:1.2.0' });
    assert.equal(got.modelType, 'tensorflow:1.2.0');
    assert.equal(got.warnings[0]?.code, 'MODEL_TYPE_MISMATCH');
    assert.match(got.warnings[0]!.message, /the model files say tensorflow:1\.1\.0/);
    const same = await inspectModel(sharedModel('tensorflow', 'hydro_tensorflow_model'), { modelType: 'tensorflow:1.1.0' });
    assert.deepEqual(same.warnings, []);
    const bad = await inspectModel(sharedModel('tensorflow', 'hydro_tensorflow_model'), { modelType: 'not a type' });
    assert.equal(bad.modelType, 'tensorflow:1.1.0');
    assert.equal(bad.warnings[0]?.code, 'MODEL_TYPE_IGNORED');
  });

  test('an upload model-type without a version (a 2018 client\'s bare `tensorflow`) takes the version the files tell, without a warning', async () => {
    const got = await inspectModel(sharedModel('tensorflow', 'hydro_tensorflow_model'), { modelType: 'tensorflow:unknown' });
    assert.equal(got.modelType, 'tensorflow:1.1.0');
    assert.deepEqual(got.warnings, []);
    const other = await inspectModel(sharedModel('tensorflow', 'hydro_tensorflow_model'), { modelType: 'keras:unknown' });
    assert.equal(other.modelType, 'keras:unknown', 'another framework is still the upload\'s word');
    assert.equal(other.warnings[0]?.code, 'MODEL_TYPE_MISMATCH');
    await withTemp(async (dir) => {
      await writeTree(dir, { 'serving.yaml': valid, ...validFiles });
      const yaml = await inspectModel(dir, { modelType: 'python:unknown' });
      assert.equal(yaml.modelType, 'python:3.6');
      assert.ok(!yaml.warnings.some((w) => w.code === 'MODEL_TYPE_MISMATCH'), JSON.stringify(yaml.warnings));
    });
  });

  test('the upload model-type and serving.yaml disagree: serving.yaml wins', async () => {
    await withTemp(async (dir) => {
      await writeTree(dir, { 'serving.yaml': valid, ...validFiles });
      const got = await inspectModel(dir, { modelType: 'python:3.8', modelName: 'other' });
      assert.equal(got.modelType, 'python:3.6');
      assert.deepEqual(got.warnings.map((w) => w.code).sort(), ['MODEL_NAME_MISMATCH', 'MODEL_TYPE_MISMATCH']);
    });
  });
});

describe('top-level functions of func_main.py', () => {
  test('defs at column 0 count; methods, nested defs, strings and comments do not', () => {
    const src = [
      'import x',
      '# def commented(x):',
      'HELP = """',
      'def in_docstring(x):',
      '"""',
      "S = 'def in_string(x):'",
      'def predict(x):',
      '    def nested(y):',
      '        return y',
      '    return x',
      'async def apredict(x): return x',
      'class C:',
      '    def method(self):',
      '        pass',
      'CALL = f(',
      'def(x))',
      '@decorator',
      'def decorated(a, b=(1,',
      '  2)):',
      '  pass',
      'x = 1 \\',
      'def',
      'def ünïcode(x): pass',
    ].join('\n');
    assert.deepEqual([...topLevelFunctions(src)].sort(), ['apredict', 'decorated', 'predict', 'ünïcode']);
  });
});
