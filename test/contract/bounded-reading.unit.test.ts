import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { writeBigOnnx, writeBigSavedModel } from '../../bench/contract/big-models.js';
import { inferOnnx } from '../../src/contract/frameworks/onnx.js';
import { inferTensorflow } from '../../src/contract/frameworks/tensorflow.js';
import { inspectModel } from '../../src/contract/index.js';
import { withTemp } from './helpers.js';

/**
 * Weights are never read: a model of hundreds of MiB (sparse files, so the test is cheap) is
 * inspected reading a tiny fraction of it, and memory does not grow with it.
 */

const MiB = 1024 * 1024;

function externalMemory(): number {
  const m = process.memoryUsage();
  return m.arrayBuffers + m.external;
}

describe('bounded reading', () => {
  test('ONNX: 512 MiB of initializers, well under 0.1% read', async () => {
    await withTemp(async (dir) => {
      const file = path.join(dir, 'big.onnx');
      const size = await writeBigOnnx(file, 8, 64 * MiB);
      const before = externalMemory();
      const got = await inferOnnx(file, 'big.onnx');
      assert.ok(externalMemory() - before < 16 * MiB, 'no buffer of the size of the weights was allocated');
      assert.equal(got.stats?.size, size);
      assert.ok(got.stats!.bytesRead < size / 1000, `read ${got.stats!.bytesRead} of ${size}`);
      assert.deepEqual(got.contract.signatures[0]?.inputs.map((f) => f.name), ['x']);
      assert.equal(got.modelType, 'onnx:17');
    });
  });

  test('ONNX: 2048 initializers of 128 KiB, under 1% read', async () => {
    await withTemp(async (dir) => {
      const file = path.join(dir, 'many.onnx');
      const size = await writeBigOnnx(file, 2048, 128 * 1024);
      const got = await inferOnnx(file, 'many.onnx');
      assert.ok(got.stats!.bytesRead < size / 100, `read ${got.stats!.bytesRead} of ${size}`);
      assert.deepEqual(got.contract.signatures[0]?.outputs.map((f) => f.name), ['y']);
    });
  });

  test('SavedModel: 256 MiB of graph content in saved_model.pb and 1 GiB of variables are skipped', async () => {
    await withTemp(async (dir) => {
      await writeBigSavedModel(dir, 1024 * MiB, 256 * MiB);
      const got = await inferTensorflow(path.join(dir, 'saved_model.pb'), 'saved_model.pb');
      assert.ok(got.stats!.size > 256 * MiB);
      assert.ok(got.stats!.bytesRead < 64 * 1024, `read ${got.stats!.bytesRead}`);
      const inspection = await inspectModel(dir);
      assert.equal(inspection.modelType, 'tensorflow:2.15.0');
      assert.deepEqual(inspection.contract.signatures[0]?.outputs.map((f) => [f.name, f.dtype, f.shape]), [['probabilities', 'float', [-1, 10]], ['classes', 'int64', [-1]]]);
    });
  });
});
