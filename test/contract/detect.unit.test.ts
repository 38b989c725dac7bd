import assert from 'node:assert/strict';
import { cp, readFile, symlink } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { detect } from '../../src/contract/detect.js';
import { inspectModel } from '../../src/contract/index.js';
import { sharedModel, withTemp, writeTree } from './helpers.js';

/** Finding the model inside an upload. */

describe('model detection', () => {
  test('a SavedModel in a version folder, a Spark pipeline in a subfolder', async () => {
    await withTemp(async (dir) => {
      await cp(sharedModel('tensorflow', 'half_plus_two_cpu'), path.join(dir, 'export', '00000123'), { recursive: true });
      const got = await inspectModel(dir);
      assert.equal(got.modelType, 'tensorflow:1.14.0');
      assert.equal(got.contract.signatures.length, 5);
    });
    await withTemp(async (dir) => {
      await cp(sharedModel('spark', 'hydro_spark_model'), path.join(dir, 'pipeline'), { recursive: true });
      const d = await detect(dir);
      assert.deepEqual(d.candidates.map((c) => [c.framework, c.rel, c.marker]), [['spark', 'pipeline', 'pipeline/metadata/part-00000']]);
      assert.equal((await inspectModel(dir)).modelType, 'spark:2.1.1');
    });
  });

  test('hidden entries, __MACOSX and files inside a SavedModel folder are not candidates', async () => {
    const onnx = await readFile(path.join(sharedModel('onnx', 'label_encoder_string_int'), 'model.onnx'));
    await withTemp(async (dir) => {
      await writeTree(dir, {
        'model.onnx': onnx,
        '.cache/old.onnx': onnx,
        '__MACOSX/._model.onnx': 'resource fork',
        '._model.onnx': 'resource fork',
      });
      const d = await detect(dir);
      assert.deepEqual(d.candidates.map((c) => c.marker), ['model.onnx']);
      assert.deepEqual(d.topLevel, ['__MACOSX/', 'model.onnx']);
      assert.equal((await inspectModel(dir)).contract.framework, 'onnx');
    });
  });

  test('a symlinked model file inside the upload is followed', async () => {
    const onnx = await readFile(path.join(sharedModel('onnx', 'label_encoder_string_int'), 'model.onnx'));
    await withTemp(async (dir) => {
      await writeTree(dir, { 'real/model.onnx': onnx });
      await symlink('real/model.onnx', path.join(dir, 'current.onnx'));
      const d = await detect(dir);
      assert.deepEqual(d.candidates.map((c) => c.marker).sort(), ['current.onnx', 'real/model.onnx']);
    });
  });

  test('the declared framework picks among candidates of different frameworks', async () => {
    const onnx = await readFile(path.join(sharedModel('onnx', 'label_encoder_string_int'), 'model.onnx'));
    await withTemp(async (dir) => {
      await writeTree(dir, { 'model.onnx': onnx });
      await cp(sharedModel('keras', 'hydro_keras_sequential'), path.join(dir, 'keras'), { recursive: true });
      const got = await inspectModel(dir, { modelType: 'onnx:4' });
      assert.equal(got.contract.framework, 'onnx');
      assert.equal(got.modelType, 'onnx:4');
    });
  });
});
