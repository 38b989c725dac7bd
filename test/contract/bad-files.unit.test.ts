import assert from 'node:assert/strict';
import { copyFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { load } from 'js-yaml';
import { inspectModel } from '../../src/contract/index.js';
import { tensorflowType } from '../../src/contract/proto/schemas.js';
import { parseServingYaml } from '../../src/contract/serving-yaml.js';
import { ownFixtures, ownModel, rejectsWith, sharedModel, withTemp, writeTree } from './helpers.js';

/** Every kind of unreadable or contradictory upload gives one clear, non-transient error. */

function savedModel(graphs: { tags: string[]; version?: string; signatures?: string[] }[]): Uint8Array {
  const tensor = { name: 'x:0', dtype: 1, tensor_shape: { dim: [{ size: -1 }] } };
  return tensorflowType('SavedModel')
    .encode({
      meta_graphs: graphs.map((g) => ({
        meta_info_def: { tags: g.tags, tensorflow_version: g.version ?? '2.1.0' },
        signature_def: (g.signatures ?? []).map((key) => ({ key, value: { inputs: [{ key: 'x', value: tensor }], outputs: [{ key: 'y', value: tensor }] } })),
      })),
    })
    .finish();
}

describe('unreadable model files', () => {
  test('a truncated ONNX file names the file and the truncation', async () => {
    const bytes = await readFile(path.join(sharedModel('onnx', 'hydro_onnx_mnist'), 'mnist.onnx'));
    await withTemp(async (dir) => {
      await writeTree(dir, { 'mnist.onnx': bytes.subarray(0, Math.floor(bytes.length / 2)) });
      const err = await rejectsWith(inspectModel(dir), 'INVALID_MODEL', /mnist\.onnx/, /truncated|remain/);
      assert.equal(err.transient, false);
      assert.deepEqual((err.details as { file: string }).file, 'mnist.onnx');
    });
  });

  test('garbage bytes named .onnx are not an ONNX model', async () => {
    await withTemp(async (dir) => {
      const garbage = Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256);
      await writeTree(dir, { 'model.onnx': garbage });
      await rejectsWith(inspectModel(dir), 'INVALID_MODEL', /model\.onnx is not/);
    });
  });

  test('an empty .onnx file has no graph', async () => {
    await withTemp(async (dir) => {
      await writeTree(dir, { 'model.onnx': new Uint8Array(0) });
      await rejectsWith(inspectModel(dir), 'INVALID_MODEL', /no graph/);
    });
  });

  test('a text file named .onnx is not an ONNX model', async () => {
    await withTemp(async (dir) => {
      await writeTree(dir, { 'model.onnx': 'this is not a model\n' });
      await rejectsWith(inspectModel(dir), 'INVALID_MODEL', /model\.onnx/);
    });
  });

  test('a truncated saved_model.pb is rejected', async () => {
    const bytes = await readFile(path.join(sharedModel('tensorflow', 'half_plus_two_cpu'), 'saved_model.pb'));
    for (const cut of [1, 100, Math.floor(bytes.length / 2), bytes.length - 1]) {
      await withTemp(async (dir) => {
        await writeTree(dir, { 'saved_model.pb': bytes.subarray(0, cut) });
        await rejectsWith(inspectModel(dir), 'INVALID_MODEL', /saved_model\.pb/);
      });
    }
  });

  test('a SavedModel without a serve MetaGraph lists the tags it has', async () => {
    await withTemp(async (dir) => {
      await writeTree(dir, { 'saved_model.pb': savedModel([{ tags: ['train'], signatures: ['a'] }]) });
      await rejectsWith(inspectModel(dir), 'INVALID_MODEL', /no MetaGraph tagged "serve"/, /\[train\]/);
    });
  });

  test('a SavedModel without signatures needs a serving.yaml contract, shown with the model name', async () => {
    await withTemp(async (dir) => {
      await writeTree(dir, { 'saved_model.pb': savedModel([{ tags: ['serve'], version: '1.15.0' }]) });
      const err = await rejectsWith(inspectModel(dir, { modelName: 'my-tf-model' }), 'CONTRACT_REQUIRED', /no signatures/, /name: "my-tf-model"/);
      assert.match(err.message, /model-type: "tensorflow:1\.15\.0"/);
    });
  });

  test('an .h5 without model_config (weights only) says so', async () => {
    await withTemp(async (dir) => {
      await copyFile(path.join(ownFixtures, 'bad', 'weights_only.h5'), path.join(dir, 'weights.h5'));
      await rejectsWith(inspectModel(dir), 'INVALID_MODEL', /weights\.h5 has no model_config/, /save_weights|model\.save/);
    });
  });

  test('garbage and truncated .h5 files are rejected without HDF5 noise', async () => {
    const real = await readFile(path.join(ownModel('keras', 'keras_functional_two_inputs'), 'two_inputs.h5'));
    await withTemp(async (dir) => {
      await writeTree(dir, { 'a/model.h5': 'not hdf5 at all', 'b/model.h5': real.subarray(0, 3000), 'c/model.h5': real.subarray(0, 600) });
      await rejectsWith(inspectModel(path.join(dir, 'a')), 'INVALID_MODEL', /not an HDF5 file/);
      await rejectsWith(inspectModel(path.join(dir, 'b')), 'INVALID_MODEL', /model\.h5 is not a readable HDF5 file/);
      await rejectsWith(inspectModel(path.join(dir, 'c')), 'INVALID_MODEL', /model\.h5/);
    });
  });

  test('two candidate model files are contradictory', async () => {
    const onnx = await readFile(path.join(sharedModel('onnx', 'label_encoder_string_int'), 'model.onnx'));
    await withTemp(async (dir) => {
      await writeTree(dir, { 'a.onnx': onnx, 'sub/b.onnx': onnx });
      const err = await rejectsWith(inspectModel(dir), 'INVALID_MODEL', /2 model files/, /a\.onnx/, /sub\/b\.onnx/);
      assert.equal((err.details as { candidates: unknown[] }).candidates.length, 2);
    });
  });

  test('a SavedModel next to an ONNX file is contradictory too', async () => {
    const onnx = await readFile(path.join(sharedModel('onnx', 'label_encoder_string_int'), 'model.onnx'));
    await withTemp(async (dir) => {
      await writeTree(dir, { 'model.onnx': onnx, 'tf/saved_model.pb': savedModel([{ tags: ['serve'], signatures: ['s'] }]) });
      await rejectsWith(inspectModel(dir), 'INVALID_MODEL', /tf\/saved_model\.pb \(tensorflow\)/, /model\.onnx \(onnx\)/);
    });
  });

  test('an empty folder, or one with only hidden files, is empty', async () => {
    await withTemp(async (dir) => {
      await rejectsWith(inspectModel(dir), 'INVALID_MODEL', /empty/);
      await writeTree(dir, { '.DS_Store': 'x', '.git/config': 'y' });
      await rejectsWith(inspectModel(dir), 'INVALID_MODEL', /empty/);
    });
  });

  test('a path that does not exist', async () => {
    await rejectsWith(inspectModel('/nonexistent/model/dir'), 'INVALID_MODEL', /does not exist/);
  });

  test('Spark: a stage folder missing, and metadata that is not JSON', async () => {
    await withTemp(async (dir) => {
      await writeTree(dir, {
        'metadata/part-00000': '{"class":"org.apache.spark.ml.PipelineModel","sparkVersion":"2.1.0","paramMap":{"stageUids":["tok_1"]}}\n',
      });
      await rejectsWith(inspectModel(dir), 'INVALID_MODEL', /stage 0 \(tok_1\)/);
      await writeTree(dir, { 'stages/0_tok_1/metadata/part-00000': '{"class": broken' });
      await rejectsWith(inspectModel(dir), 'INVALID_MODEL', /stages\/0_tok_1\/metadata\/part-00000 is not Spark ML metadata/);
      await writeTree(dir, { 'metadata/part-00000': '\u0000\u0001garbage' });
      await rejectsWith(inspectModel(dir), 'INVALID_MODEL', /metadata\/part-00000 is not Spark ML metadata/);
    });
  });
});

describe('frameworks without readable metadata', () => {
  for (const [label, files, pattern] of [
    ['a scikit-learn pickle', { 'model.pkl': 'x' }, /model\.pkl: a Python pickle/],
    ['MXNet symbol and params', { 'net-symbol.json': '{}', 'net-0000.params': 'x' }, /MXNet/],
    ['a PyTorch checkpoint', { 'weights.pt': 'x' }, /PyTorch/],
    ['a frozen TF graph', { 'frozen.pb': 'x' }, /frozen TensorFlow graph/],
    ['unknown files', { 'README.md': '# hi', 'data.csv': 'a,b' }, /no model file this service can read/],
  ] as const) {
    test(`${label}: CONTRACT_REQUIRED with a minimal serving.yaml that is itself valid`, async () => {
      await withTemp(async (dir) => {
        await writeTree(dir, files);
        const err = await rejectsWith(inspectModel(dir, { modelName: 'legacy-model' }), 'CONTRACT_REQUIRED', pattern, /serving\.yaml/);
        const yaml = (err.details as { servingYaml: string }).servingYaml;
        assert.ok(err.message.includes(yaml), 'the message prints the example');
        const parsed = parseServingYaml(yaml);
        assert.equal(parsed.doc.name, 'legacy-model');
        assert.ok(parsed.doc.contract && parsed.doc.contract.length === 1);
        for (const f of Object.keys(files)) assert.ok(parsed.doc.payloadEntries.some((e) => e.entry === f), `payload lists ${f}`);
        assert.ok(load(yaml));
      });
    });
  }

  test('without a model name, the example uses the folder name', async () => {
    await withTemp(async (root) => {
      const dir = path.join(root, 'Iris Classifier');
      await writeTree(dir, { 'model.joblib': 'x' });
      await rejectsWith(inspectModel(dir), 'CONTRACT_REQUIRED', /name: "iris-classifier"/);
    });
  });

  test('a python model-type without a contract', async () => {
    await withTemp(async (dir) => {
      await writeTree(dir, { 'serving.yaml': 'kind: Model\nname: "py"\nmodel-type: "python:3.8"\n', 'src/func_main.py': 'def predict(x):\n  return x\n' });
      await rejectsWith(inspectModel(dir), 'CONTRACT_REQUIRED', /python model without a contract/, /model-type: "python:3\.8"/);
    });
  });

  test('a single file given directly', async () => {
    await withTemp(async (dir) => {
      await writeTree(dir, { 'model.pkl': 'x' });
      await rejectsWith(inspectModel(path.join(dir, 'model.pkl')), 'CONTRACT_REQUIRED', /model\.pkl/);
    });
  });
});
