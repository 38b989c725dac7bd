import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { contractFromKerasConfig } from '../../src/contract/frameworks/keras-config.js';
import { mergeStages, parseSparkMetadata, stageFields, type StageFields } from '../../src/contract/frameworks/spark.js';
import { dtypeFromKeras, dtypeFromOnnx, dtypeFromTf } from '../../src/contract/dtypes.js';
import type { ContractField } from '../../src/contract/types.js';
import { rejectsWith } from './helpers.js';

/** The extraction rules of ../shared/fixtures/README.md, rule by rule. */

const layer = (cls: string, config: Record<string, unknown>) => ({ class_name: cls, name: config.name, config });

describe('Keras model_config', () => {
  test('list-style Sequential (Keras <= 2.2.2): first and last layer', () => {
    const c = contractFromKerasConfig({ class_name: 'Sequential', config: [layer('Dense', { name: 'd1', units: 8, batch_input_shape: [null, 4], dtype: 'float32' }), layer('Dense', { name: 'd2', units: 3 })] }, 'm.h5');
    assert.deepEqual(c, { framework: 'keras', signatures: [{ name: 'infer', inputs: [{ name: 'd1', dtype: 'float', shape: [-1, 4] }], outputs: [{ name: 'd2', dtype: 'float', shape: [-1, 3] }] }] });
  });

  test('shape rules in order: batch_input_shape, batch_shape, target_shape, units, else null', () => {
    const shapeOf = (cfg: Record<string, unknown>) => contractFromKerasConfig({ class_name: 'Sequential', config: { layers: [layer('X', { name: 'a', ...cfg })] } }, 'm.h5').signatures[0]!.inputs[0]!.shape;
    assert.deepEqual(shapeOf({ batch_input_shape: [null, null, 3], units: 5 }), [-1, -1, 3]);
    assert.deepEqual(shapeOf({ batch_shape: [null, 7] }), [-1, 7]);
    assert.deepEqual(shapeOf({ target_shape: [2, 4], units: 9 }), [2, 4]);
    assert.deepEqual(shapeOf({ units: 9 }), [-1, 9]);
    assert.equal(shapeOf({ activation: 'relu' }), null);
    assert.deepEqual(shapeOf({ batch_input_shape: [] }), []);
  });

  test('dtypes: Keras names, DTypePolicy objects, absent -> float, unknown -> unsupported', () => {
    const dtypeOf = (dtype: unknown) => contractFromKerasConfig({ class_name: 'Sequential', config: [layer('X', { name: 'a', ...(dtype === undefined ? {} : { dtype }) })] }, 'm.h5').signatures[0]!.inputs[0]!.dtype;
    assert.equal(dtypeOf(undefined), 'float');
    assert.equal(dtypeOf(null), 'float');
    assert.equal(dtypeOf('float16'), 'half');
    assert.equal(dtypeOf('float64'), 'double');
    assert.equal(dtypeOf('uint16'), 'uint16');
    assert.equal(dtypeOf('bfloat16'), 'bfloat16');
    assert.equal(dtypeOf({ module: 'keras', class_name: 'DTypePolicy', config: { name: 'int8' } }), 'int8');
    assert.equal(dtypeOf('mixed_float16'), 'unsupported:mixed_float16');
  });

  test('functional: endpoints in config.layers order, by top-level layer name', () => {
    const c = contractFromKerasConfig({
      class_name: 'Model',
      config: {
        layers: [layer('InputLayer', { name: 'b', batch_input_shape: [null, 1] }), layer('InputLayer', { name: 'a', batch_input_shape: [null, 2] }), layer('Dense', { name: 'o', units: 1 })],
        input_layers: [['a', 0, 0], ['b', 0, 0]],
        output_layers: [['o', 0, 0]],
      },
    }, 'm.h5');
    assert.deepEqual(c.signatures[0]!.inputs.map((f) => f.name), ['b', 'a']);
    assert.deepEqual(c.signatures[0]!.outputs.map((f) => f.shape), [[-1, 1]]);
  });

  test('unreadable configs are INVALID_MODEL naming the file', async () => {
    await rejectsWith(() => contractFromKerasConfig({ class_name: 'Subclassed', config: {} }, 'm.h5'), 'INVALID_MODEL', /m\.h5/, /"Subclassed"/);
    await rejectsWith(() => contractFromKerasConfig({ class_name: 'Sequential', config: [] }, 'm.h5'), 'INVALID_MODEL', /without layers/);
    await rejectsWith(() => contractFromKerasConfig({ class_name: 'Functional', config: { layers: [], input_layers: 'x', output_layers: [] } }, 'm.h5'), 'INVALID_MODEL', /unknown form/);
    await rejectsWith(() => contractFromKerasConfig([1, 2], 'm.h5'), 'INVALID_MODEL', /not a JSON object/);
    await rejectsWith(() => contractFromKerasConfig({ class_name: 'Sequential', config: [42] }, 'm.h5'), 'INVALID_MODEL', /layer without a config/);
  });
});

describe('dtype tables', () => {
  test('TF, ONNX and Keras names', () => {
    assert.equal(dtypeFromTf(19), 'half');
    assert.equal(dtypeFromTf(121), 'unsupported:DT_VARIANT_REF');
    assert.equal(dtypeFromTf(-3), 'unsupported:UNKNOWN_-3');
    assert.equal(dtypeFromOnnx(16), 'bfloat16');
    assert.equal(dtypeFromOnnx(23), 'unsupported:FLOAT4E2M1');
    assert.equal(dtypeFromKeras('string'), 'string');
    assert.equal(dtypeFromKeras('__proto__'), 'unsupported:__proto__');
  });
});

const ml = 'org.apache.spark.ml.';
function stage(cls: string, paramMap: Record<string, unknown>, top: Record<string, unknown> = {}, defaults: Record<string, unknown> = {}): StageFields {
  return stageFields(parseSparkMetadata(JSON.stringify({ class: cls, sparkVersion: '2.4.0', uid: 'u', paramMap, defaultParamMap: defaults, ...top }), 'part-00000'));
}
const F = (name: string, dtype: string, shape: number[] | null): ContractField => ({ name, dtype: dtype as ContractField['dtype'], shape });

describe('Spark stage table', () => {
  const io = { inputCol: 'i', outputCol: 'o' };
  const cases: [string, Record<string, unknown>, Record<string, unknown>, ContractField[], ContractField[], string | null][] = [
    ['feature.HashingTF', io, {}, [F('i', 'string', [-1])], [F('o', 'double', [-1])], null],
    ['feature.CountVectorizerModel', io, {}, [F('i', 'string', [-1])], [F('o', 'double', [-1])], null],
    ['feature.IDF', io, { numFeatures: 20 }, [F('i', 'double', [20])], [F('o', 'double', [-1])], null],
    ['feature.Word2VecModel', { ...io, vectorSize: 7 }, {}, [F('i', 'string', [-1])], [F('o', 'double', [7])], null],
    ['feature.Tokenizer', io, {}, [F('i', 'string', [])], [F('o', 'string', [-1])], null],
    ['feature.RegexTokenizer', io, {}, [F('i', 'string', [])], [F('o', 'string', [-1])], null],
    ['feature.StopWordsRemover', io, {}, [F('i', 'string', [-1])], [F('o', 'string', [-1])], null],
    ['feature.NGram', io, {}, [F('i', 'string', [-1])], [F('o', 'string', [-1])], null],
    ['feature.Binarizer', io, {}, [F('i', 'double', [])], [F('o', 'double', [])], null],
    ['feature.Bucketizer', io, {}, [F('i', 'double', [])], [F('o', 'double', [])], null],
    ['feature.PCAModel', { ...io, k: 3 }, { numFeatures: 10 }, [F('i', 'double', [10])], [F('o', 'double', [3])], null],
    ['feature.StringIndexerModel', io, {}, [F('i', 'string', [])], [F('o', 'double', [])], null],
    ['feature.IndexToString', io, {}, [F('i', 'double', [])], [F('o', 'string', [])], null],
    ['feature.OneHotEncoder', io, {}, [F('i', 'string', [])], [F('o', 'double', [-1])], null],
    ['feature.VectorIndexerModel', io, {}, [F('i', 'double', [-1])], [F('o', 'double', [])], null],
    ['feature.MinMaxScalerModel', io, { numFeatures: 4 }, [F('i', 'double', [4])], [F('o', 'double', [-1])], null],
    ['feature.ElementwiseProduct', io, {}, [F('i', 'double', [-1])], [F('o', 'double', [-1])], null],
    ['feature.MinHashLSHModel', io, {}, [F('i', 'double', [-1])], [F('o', 'double', [-1])], null],
    ['feature.VectorSlicer', io, {}, [F('i', 'variant', [-1])], [F('o', 'variant', [-1])], null],
    ['feature.VectorAssembler', { inputCols: ['a', 'b'], outputCol: 'v' }, {}, [F('a', 'variant', null), F('b', 'variant', null)], [F('v', 'double', [-1])], null],
    ['feature.ChiSqSelectorModel', { featuresCol: 'f', outputCol: 'o' }, {}, [F('f', 'double', [-1])], [F('o', 'double', [-1])], null],
    ['regression.GBTRegressionModel', { featuresCol: 'f', predictionCol: 'p', labelCol: 'l' }, { numFeatures: 5 }, [F('f', 'double', [5])], [F('p', 'double', [])], 'l'],
    ['classification.LogisticRegressionModel', { featuresCol: 'f', predictionCol: 'p', labelCol: 'l', probabilityCol: 'pr' }, { numClasses: 2 }, [F('f', 'double', [-1])], [F('p', 'double', [])], 'l'],
    ['classification.LinearSVCModel', { featuresCol: 'f', predictionCol: 'p', labelCol: 'l', rawPredictionCol: 'r' }, { numClasses: 2 }, [F('f', 'double', [-1])], [F('p', 'double', []), F('r', 'double', [2])], 'l'],
    ['classification.GBTClassificationModel', { featuresCol: 'f', predictionCol: 'p', labelCol: 'l', rawPredictionCol: 'r', probabilityCol: 'pr' }, { numFeatures: 9, numClasses: 2 }, [F('f', 'double', [9])], [F('p', 'double', []), F('r', 'double', [2]), F('pr', 'double', [2])], 'l'],
    ['clustering.KMeansModel', { featuresCol: 'f', predictionCol: 'c', labelCol: 'ignored' }, {}, [F('f', 'double', [-1])], [F('c', 'int32', [])], null],
    ['feature.IDFModel', { inputCol: 'i', outputCol: 'o', featuresCol: 'f', labelCol: 'l' }, {}, [F('i', 'string', null), F('f', 'string', null)], [F('o', 'string', null)], 'l'],
    ['feature.ImputerModel', {}, {}, [], [], null],
    ['recommendation.ALSModel', { predictionCol: 'p' }, {}, [], [F('p', 'string', null)], null],
  ];
  for (const [cls, params, top, inputs, outputs, label] of cases) {
    test(cls, () => {
      assert.deepEqual(stage(`${ml}${cls}`, params, top), { inputs, outputs, label });
    });
  }

  test('paramMap wins over defaultParamMap, which fills the gaps', () => {
    assert.deepEqual(stage(`${ml}feature.Tokenizer`, { outputCol: 'words' }, {}, { inputCol: 'text', outputCol: 'default_out' }), {
      inputs: [F('text', 'string', [])],
      outputs: [F('words', 'string', [-1])],
      label: null,
    });
  });
});

describe('Spark merge', () => {
  const S = (inputs: ContractField[], outputs: ContractField[], label: string | null = null): StageFields => ({ inputs, outputs, label });
  test('no labels: inputs not produced by a stage; outputs not consumed by a stage', () => {
    const got = mergeStages([S([F('a', 'string', [])], [F('b', 'double', [])]), S([F('b', 'double', [])], [F('c', 'double', [])])]);
    assert.deepEqual(got, { inputs: [F('a', 'string', [])], outputs: [F('c', 'double', [])] });
  });

  test('a name keeps its first position and the last definition', () => {
    const got = mergeStages([S([F('a', 'string', []), F('b', 'string', [])], []), S([F('a', 'double', [3])], [F('z', 'int32', [])])]);
    assert.deepEqual(got.inputs, [F('a', 'double', [3]), F('b', 'string', [])]);
  });

  test('the stage producing the labels is training-only: its inputs are dropped, its outputs kept', () => {
    const got = mergeStages([
      S([F('raw_label', 'string', [])], [F('tmp', 'double', []), F('label', 'double', []), F('tmp2', 'double', [])]),
      S([F('features', 'double', [-1])], [F('prediction', 'double', [])], 'label'),
    ]);
    assert.deepEqual(got.inputs, [F('features', 'double', [-1])]);
    assert.deepEqual(got.outputs.map((f) => f.name), ['tmp', 'label', 'tmp2', 'prediction']);
  });

  test('the label list must appear as a contiguous slice', () => {
    const got = mergeStages([
      S([F('x', 'string', [])], [F('l1', 'double', []), F('gap', 'double', []), F('l2', 'double', [])]),
      S([F('f', 'double', [-1])], [F('p1', 'double', [])], 'l1'),
      S([F('f', 'double', [-1])], [F('p2', 'double', [])], 'l2'),
    ]);
    assert.deepEqual(got.inputs.map((f) => f.name), ['x', 'f']);
  });
});
