import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import protobuf from 'protobufjs';
import { encodeContract } from '../../src/contract/binary.js';
import {
  contractFromV1Binary,
  contractFromV2Json,
  contractFromV3Signature,
  installCommandToRequirements,
  isImageReference,
  labelsFromMetadata,
  mergeSentContract,
  modelNameFromHydrosphere,
  modelTypeFromRuntime,
  runtimeReferenceFromV2,
  toV1Contract,
  toV2Contract,
  toV3Signature,
} from '../../src/contract/hydrosphere/index.js';
import { contractType } from '../../src/contract/proto/schemas.js';
import { Report } from '../../src/contract/report.js';
import type { Contract } from '../../src/contract/types.js';
import { modelNamePattern } from '../../src/domain/model-name.js';
import { rejectsWith } from './helpers.js';

/** What Hydrosphere's clients send, read into our contract; ours written back the way they read it. */

const contract: Contract = {
  framework: '',
  signatures: [{
    name: 'predict',
    inputs: [
      { name: 'x', dtype: 'double', shape: [-1, 2], profile: 'numerical' },
      { name: 'word', dtype: 'string', shape: [] },
      { name: 'person', dtype: 'subfields', shape: [-1], subfields: [{ name: 'age', dtype: 'int32', shape: [] }, { name: 'name', dtype: 'string', shape: [] }] },
    ],
    outputs: [{ name: 'y', dtype: 'float', shape: null }, { name: 'seq', dtype: 'int64', shape: [-1, -1], dimNames: ['batch', null] }],
  }],
};

describe('v1: the binary model_contract part', () => {
  test('our binary contract (records included) reads back as it was', () => {
    const got = contractFromV1Binary(encodeContract('demo', contract));
    assert.deepEqual(got, { modelName: 'demo', contract });
  });

  test('an empty part means no contract', () => {
    assert.equal(contractFromV1Binary(new Uint8Array()), null);
  });

  test('DT_INVALID (the CLI\'s answer to an unknown type name) is an INVALID_METADATA error naming the field', async () => {
    const bytes = contractType('ModelContract').encode({ signatures: [{ signature_name: 'p', inputs: [{ name: 'x', dtype: 0 }], outputs: [{ name: 'y', dtype: 2 }] }] }).finish();
    const err = await rejectsWith(() => contractFromV1Binary(bytes), 'INVALID_METADATA', /signatures\[0\]\.inputs\[0\]\.dtype/, /DT_INVALID/, /fix the type in serving\.yaml/);
    assert.equal(err.status, 400);
  });

  test('bytes that are not a contract, and a contract without signatures', async () => {
    await rejectsWith(() => contractFromV1Binary(Uint8Array.from([0x12, 0x02, 0x0f, 0xff])), 'INVALID_METADATA', /model_contract part/);
    await rejectsWith(() => contractFromV1Binary(contractType('ModelContract').encode({ model_name: 'm' }).finish()), 'INVALID_METADATA', /at least one signature/);
  });

  test('the early-2018 layout (field_name, info { dtype tensor_shape }, dict { data { key value } })', () => {
    const legacy = protobuf.parse(`
      syntax = "proto3";
      message C { string model_name = 1; repeated S signatures = 2; }
      message S { string signature_name = 1; repeated F inputs = 2; repeated F outputs = 3; }
      message F { string field_name = 1; D dict = 2; I info = 3; }
      message D { repeated E data = 1; }
      message E { string key = 1; F value = 2; }
      message I { string name = 1; int32 dtype = 2; Shape tensor_shape = 3; }
      message Shape { repeated Dim dim = 2; bool unknown_rank = 3; }
      message Dim { int64 size = 1; string name = 2; }`, { keepCase: true }).root.lookupType('C');
    const bytes = legacy.encode({
      model_name: 'old',
      signatures: [{
        signature_name: 'infer',
        inputs: [
          { field_name: 'x', info: { name: 'x:0', dtype: 2, tensor_shape: { dim: [{ size: -1 }, { size: 3 }] } } },
          { field_name: 'rec', dict: { data: [{ key: 'a', value: { field_name: 'a', info: { dtype: 9, tensor_shape: {} } } }] } },
        ],
        outputs: [{ field_name: 'y', info: { dtype: 1 } }],
      }],
    }).finish();
    assert.deepEqual(contractFromV1Binary(bytes), {
      modelName: 'old',
      contract: {
        framework: '',
        signatures: [{
          name: 'infer',
          inputs: [
            { name: 'x', dtype: 'double', shape: [-1, 3] },
            { name: 'rec', dtype: 'subfields', shape: null, subfields: [{ name: 'a', dtype: 'int64', shape: [] }] },
          ],
          outputs: [{ name: 'y', dtype: 'float', shape: null }],
        }],
      },
    });
  });
});

describe('v2: metadata contract (JSON)', () => {
  test('{modelName, predict} as the hs 2.x CLI writes it (all keys, plain numbers)', () => {
    const got = contractFromV2Json({
      modelName: 'model',
      predict: {
        signatureName: 'predict',
        inputs: [{ name: 'x', profile: 'NUMERICAL', shape: { dim: [{ size: -1, name: '' }, { size: 2, name: '' }], unknownRank: false }, dtype: 'DT_DOUBLE' }],
        outputs: [{ name: 'y', profile: 'NONE', shape: { dim: [], unknownRank: false }, dtype: 'DT_INT64' }],
      },
    });
    assert.deepEqual(got.contract.signatures, [{
      name: 'predict',
      inputs: [{ name: 'x', dtype: 'double', shape: [-1, 2], profile: 'numerical' }],
      outputs: [{ name: 'y', dtype: 'int64', shape: [] }],
    }]);
    assert.equal(got.modelName, 'model');
    assert.deepEqual(got.warnings, []);
  });

  test('protobuf JSON spellings: snake_case, int64 as text, enums as numbers, defaults left out, subfields', () => {
    const got = contractFromV2Json({
      model_name: 'm',
      signatures: [{
        signature_name: 'infer',
        inputs: [
          { name: 'x', shape: { dim: [{ size: '-1' }, { name: 'n' }] }, dtype: 2 },
          { name: 'rec', shape: {}, subfields: { data: [{ name: 'a', dtype: 'DT_STRING', shape: {} }] } },
          { name: 'list', subfields: [{ name: 'b', dtype: 'DT_BOOL' }] },
        ],
        outputs: [{ name: 'y', dtype: 'DT_FLOAT', shape: { unknown_rank: true }, profile: 6 }],
      }],
    });
    assert.deepEqual(got.contract.signatures[0], {
      name: 'infer',
      inputs: [
        { name: 'x', dtype: 'double', shape: [-1, -1], dimNames: [null, 'n'] },
        { name: 'rec', dtype: 'subfields', shape: [], subfields: [{ name: 'a', dtype: 'string', shape: [] }] },
        { name: 'list', dtype: 'subfields', shape: null, subfields: [{ name: 'b', dtype: 'bool', shape: null }] },
      ],
      outputs: [{ name: 'y', dtype: 'float', shape: null, profile: 'text' }],
    });
  });

  test('a record as hydrosdk writes it back: a map of name to field (a subfield may be called data)', () => {
    const got = contractFromV3Signature({
      signatureName: 'predict',
      inputs: [{ name: 'rec', profile: 'NONE', shape: { dims: [-1] }, subfields: { data: { dtype: 'DT_STRING', shape: { dims: [] } }, n: { dtype: 'DT_INT64', profile: 'NUMERICAL' } } }],
      outputs: [{ name: 'y', dtype: 'DT_FLOAT', shape: { dims: [] } }],
    });
    assert.deepEqual(got.contract.signatures[0]?.inputs[0], {
      name: 'rec', dtype: 'subfields', shape: [-1],
      subfields: [{ name: 'data', dtype: 'string', shape: [] }, { name: 'n', dtype: 'int64', shape: null, profile: 'numerical' }],
    });
  });

  test('an unknown profile is a warning, the field gets NONE', () => {
    const got = contractFromV2Json({ predict: { inputs: [{ name: 'x', dtype: 'DT_FLOAT', profile: 'REAL' }], outputs: [{ name: 'y', dtype: 'DT_FLOAT' }] } });
    assert.equal(got.contract.signatures[0]?.name, 'Predict');
    assert.equal(got.contract.signatures[0]?.inputs[0]?.profile, undefined);
    assert.equal(got.warnings[0]?.code, 'UNKNOWN_PROFILE');
  });

  test('every problem at once, with its path: DT_INVALID, bad sizes, no outputs, not an object', async () => {
    const err = await rejectsWith(
      () => contractFromV2Json({ predict: { signatureName: 'p', inputs: [{ name: 'x', dtype: 'DT_INVALID' }, { name: 'bad name', dtype: 'DT_FLOAT', shape: { dim: [{ size: 0 }] } }] } }),
      'INVALID_METADATA',
      /predict\.inputs\[0\]\.dtype/,
    );
    const paths = (err.details as { path: string }[]).map((d) => d.path);
    assert.deepEqual(paths, ['predict.inputs[0].dtype', 'predict.inputs[1].name', 'predict.inputs[1].shape.dim[0].size', 'predict.outputs']);
    await rejectsWith(() => contractFromV2Json('predict'), 'INVALID_METADATA', /an object \{modelName, predict/);
    await rejectsWith(() => contractFromV2Json({ modelName: 'm' }), 'INVALID_METADATA', /predict/);
  });

  test('10,001 fields or records nested 11 deep are refused without walking them all', async () => {
    const many = Array.from({ length: 10_001 }, (_, i) => ({ name: `f${i}`, dtype: 'DT_FLOAT' }));
    await rejectsWith(() => contractFromV2Json({ predict: { inputs: many, outputs: [{ name: 'y', dtype: 'DT_FLOAT' }] } }), 'INVALID_METADATA', /at most 10000 fields/);
    let deep: Record<string, unknown> = { name: 'leaf', dtype: 'DT_FLOAT' };
    for (let i = 0; i < 11; i++) deep = { name: `r${i}`, subfields: { data: [deep] } };
    await rejectsWith(() => contractFromV2Json({ predict: { inputs: [deep], outputs: [{ name: 'y', dtype: 'DT_FLOAT' }] } }), 'INVALID_METADATA', /at most 10 levels deep/);
  });
});

describe('v3: metadata modelSignature (JSON)', () => {
  test('dims, a scalar as dims: [], no shape as any rank, int64 as text', () => {
    const got = contractFromV3Signature({
      signatureName: 'predict',
      inputs: [{ name: 'img', profile: 'IMAGE', shape: { dims: [-1, '28', 28] }, dtype: 'DT_FLOAT' }, { name: 's', shape: { dims: [] }, dtype: 'DT_STRING' }],
      outputs: [{ name: 'label', profile: 'CATEGORICAL', dtype: 'DT_INT64' }],
    });
    assert.deepEqual(got.contract, {
      framework: '',
      signatures: [{
        name: 'predict',
        inputs: [{ name: 'img', dtype: 'float', shape: [-1, 28, 28], profile: 'image' }, { name: 's', dtype: 'string', shape: [] }],
        outputs: [{ name: 'label', dtype: 'int64', shape: null, profile: 'categorical' }],
      }],
    });
  });

  test('problems have their paths', async () => {
    const err = await rejectsWith(() => contractFromV3Signature({ inputs: [{ name: 'x', shape: { dims: [-2] }, dtype: 'DT_FLOAT' }], outputs: [] }), 'INVALID_METADATA');
    assert.deepEqual((err.details as { path: string }[]).map((d) => d.path), ['.inputs[0].shape.dims[0]', '.outputs']);
  });
});

describe('ours written the way the clients read it', () => {
  test('v2 modelContract: {modelName, predict} with every key hydrosdk 2.x reads; reads back to the same contract', () => {
    const v2 = toV2Contract('demo', contract);
    assert.equal(v2.predict?.signatureName, 'predict');
    assert.deepEqual(v2.predict?.inputs[0], { name: 'x', profile: 'NUMERICAL', shape: { dim: [{ size: -1, name: '' }, { size: 2, name: '' }], unknownRank: false }, dtype: 'DT_DOUBLE' });
    // hydrosdk reads a record as a map of name to field (field_from_dict: subfields.items()), not protobuf's {data: [...]}.
    assert.deepEqual(v2.predict?.inputs[2]?.subfields?.age, { profile: 'NONE', shape: { dim: [], unknownRank: false }, dtype: 'DT_INT32' });
    assert.deepEqual(Object.keys(v2.predict?.inputs[2]?.subfields ?? {}), ['age', 'name'], 'in the contract\'s order');
    assert.equal(v2.predict?.inputs[2]?.dtype, undefined, 'a record has subfields instead of a dtype');
    assert.deepEqual(v2.predict?.outputs[0]?.shape, { dim: [], unknownRank: true });
    assert.deepEqual(contractFromV2Json(JSON.parse(JSON.stringify(v2))).contract, contract);
  });

  test('v1: every signature; v3: the main signature with dims, no shape for any rank', () => {
    const two: Contract = { framework: 'python', signatures: [{ ...contract.signatures[0]!, name: 'a' }, { ...contract.signatures[0]!, name: 'predict' }] };
    assert.deepEqual(toV1Contract('m', two).signatures.map((s) => s.signatureName), ['a', 'predict']);
    assert.equal(toV2Contract('m', two).predict?.signatureName, 'predict');
    const v3 = toV3Signature(contract)!;
    assert.deepEqual(v3.inputs[0], { name: 'x', profile: 'NUMERICAL', shape: { dims: [-1, 2] }, dtype: 'DT_DOUBLE' });
    assert.deepEqual(v3.outputs[0], { name: 'y', profile: 'NONE', dtype: 'DT_FLOAT' });
    assert.deepEqual(contractFromV3Signature(JSON.parse(JSON.stringify(v3))).contract.signatures[0]?.inputs[2], contract.signatures[0]!.inputs[2]);
    assert.deepEqual(v3.inputs[2]?.subfields, { age: { profile: 'NONE', shape: { dims: [] }, dtype: 'DT_INT32' }, name: { profile: 'NONE', shape: { dims: [] }, dtype: 'DT_STRING' } });
  });
});

describe('a sent contract and the upload\'s own', () => {
  const fromYaml: Contract = { framework: 'python', signatures: [{ name: 'predict', inputs: [{ name: 'x', dtype: 'double', shape: [-1, 2] }], outputs: [{ name: 'y', dtype: 'float', shape: null }] }] };

  test('the sent one wins; a difference is a CONTRACT_MISMATCH warning naming the source; the framework comes from the upload', () => {
    const same = mergeSentContract({ ...fromYaml, framework: '' }, { contract: fromYaml, source: 'serving.yaml' });
    assert.deepEqual(same, { contract: fromYaml, warnings: [] });
    const sent: Contract = { framework: '', signatures: [{ ...fromYaml.signatures[0]!, outputs: [{ name: 'y', dtype: 'double', shape: null }] }] };
    const merged = mergeSentContract(sent, { contract: fromYaml, source: 'serving.yaml' });
    assert.equal(merged.contract.framework, 'python');
    assert.equal(merged.contract.signatures[0]?.outputs[0]?.dtype, 'double');
    assert.equal(merged.warnings[0]?.code, 'CONTRACT_MISMATCH');
    assert.match(merged.warnings[0]!.message, /differs from the one in serving\.yaml \(1 difference\); the sent contract is used/);
    assert.deepEqual(mergeSentContract(sent, null), { contract: sent, warnings: [] });
  });
});

describe('names', () => {
  test('valid names stay; others are lower-cased, escaped and get a hash of the original', () => {
    assert.equal(modelNameFromHydrosphere('census_income'), 'census_income');
    assert.match(modelNameFromHydrosphere('My.Model'), /^my-model-[0-9a-f]{8}$/);
    assert.match(modelNameFromHydrosphere('日本語'), /^model-[0-9a-f]{8}$/);
    assert.equal(modelNameFromHydrosphere('My.Model'), modelNameFromHydrosphere('My.Model'));
    const long = `Claims.${'A'.repeat(200)}`;
    assert.equal(modelNameFromHydrosphere(long).length, 63);
  });

  test('collision-free over names that differ only in what is replaced, and always valid', () => {
    const names = ['MyModel', 'mymodel', 'my.model', 'My.Model', 'my-model', 'MY_MODEL', 'my_model', 'my..model', 'my--model', '.my.model', 'my.model.', 'Ｍｙmodel'];
    const mapped = names.map(modelNameFromHydrosphere);
    assert.equal(new Set(mapped).size, names.length, mapped.join(' '));
    for (const m of mapped) assert.match(m, modelNamePattern);
  });

  test('names Hydrosphere could not have had are refused', async () => {
    for (const bad of ['', 'my model', 'a/b', 'a\\b', 'x'.repeat(256), 'tab\there']) {
      await rejectsWith(() => modelNameFromHydrosphere(bad), 'INVALID_MODEL_NAME', /1-255 characters without spaces/);
    }
  });
});

describe('install-command', () => {
  const ok = (cmd: string) => {
    const r = installCommandToRequirements(cmd);
    assert.ok(r.ok, `${cmd}: ${JSON.stringify(r)}`);
    return r;
  };
  const refused = (cmd: string, part: string, reason: RegExp) => {
    const r = installCommandToRequirements(cmd);
    assert.ok(!r.ok, `${cmd} should be refused`);
    assert.equal(r.part, part);
    assert.match(r.reason, reason);
  };

  test('pip install steps become requirement lines', () => {
    assert.equal(ok('pip install -r requirements.txt').requirements, '-r requirements.txt\n');
    assert.equal(ok('pip3 install --upgrade pip && pip install -r requirements.txt').requirements, '-r requirements.txt\n');
    assert.equal(ok('python3 -m pip install "numpy>=1.16,<2" pandas==1.0 --user -q').requirements, 'numpy>=1.16,<2\npandas==1.0\n');
    assert.equal(ok('sudo -H pip install --no-cache-dir x; pip install y --pre').requirements, 'x\ny\n--pre\n');
    assert.equal(ok('pip install --requirement=a.txt -cc.txt --only-binary=:all: z').requirements, '-r a.txt\n-c c.txt\n--only-binary :all:\nz\n');
    assert.deepEqual(ok('pip install -U pip').requirements, '');
    assert.match(ok('pip install -U pip x').notes.join(' '), /"pip" is not installed.*dropped: -U/);
  });

  test('anything else is refused, naming the part and what to do instead', () => {
    refused('sudo apt install jq && pip install -r requirements.txt', 'sudo apt install jq', /only pip install steps are run, and this one runs apt; put Python packages in requirements\.txt/);
    refused('pip install -i http://mirror/simple x', '-i', /operator's \(MLL_PIP_INDEX_URL\)/);
    refused('pip install -e .', '-e', /editable/);
    refused('pip install $PKG', '$PKG', /shell variables/);
    refused('pip install a | tee log', '|', /pipes, redirects/);
    refused('pip install `cat reqs`', '`cat', /command substitution/);
    refused('pip freeze', 'pip freeze', /only "pip install" is run/);
    refused('conda install numpy', 'conda install numpy', /runs conda/);
    refused('pip install --weird-flag x', '--weird-flag', /not understood/);
    refused('pip install *.whl', '*.whl', /file patterns/);
  });
});

describe('runtime images and metadata', () => {
  test('model-type from Hydrosphere\'s and ML Lambda\'s runtime names', () => {
    assert.equal(modelTypeFromRuntime('hydrosphere/serving-runtime-python-3.6:2.1.0'), 'python:3.6');
    assert.equal(modelTypeFromRuntime('hydrosphere/serving-runtime-tensorflow:1.7.0-latest'), 'tensorflow:1.7.0');
    assert.equal(modelTypeFromRuntime('hydrosphere/serving-runtime-spark-2.1:3.0.0'), 'spark:2.1');
    assert.equal(modelTypeFromRuntime('127.0.0.1:5000/mll/runtime-python:3.11'), 'python:3.11');
    assert.equal(modelTypeFromRuntime('hydrosphere/serving-runtime-python'), 'python:unknown');
    assert.equal(modelTypeFromRuntime('mycorp/custom:1'), null);
  });

  test('image references, and v2\'s {name, tag, sha256}', () => {
    assert.ok(isImageReference('registry.local:5000/team/img:1.0'));
    assert.ok(!isImageReference('Bad Image'));
    assert.ok(!isImageReference('img:tag; rm -rf /'));
    assert.equal(runtimeReferenceFromV2({ name: 'hydrosphere/serving-runtime-python-3.6', tag: '2.1.0' }), 'hydrosphere/serving-runtime-python-3.6:2.1.0');
    assert.equal(runtimeReferenceFromV2({ name: 'r/img', tag: '1', sha256: 'a'.repeat(64) }), `r/img:1@sha256:${'a'.repeat(64)}`);
    assert.equal(runtimeReferenceFromV2({ name: 'Bad Name', tag: '1' }), null);
    assert.equal(runtimeReferenceFromV2('x'), null);
  });

  test('metadata as labels: text, numbers and booleans as text; bad keys, nested and long values are issues', () => {
    const report = new Report('serving.yaml');
    const labels = labelsFromMetadata(Object.entries({ 'git.branch': 'main', epochs: 10, good: true, gone: null, 'bad key': 'x', nested: { a: 1 }, long: 'x'.repeat(257) }), report);
    assert.deepEqual(labels, { 'git.branch': 'main', epochs: '10', good: 'true' });
    assert.deepEqual(report.issues.map((i) => i.path), ['metadata["bad key"]', 'metadata.nested', 'metadata.long']);
  });
});
