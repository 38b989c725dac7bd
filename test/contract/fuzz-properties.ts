import assert from 'node:assert/strict';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { dump } from 'js-yaml';
import { decodeContract, encodeContract } from '../../src/contract/index.js';
import { contractFromKerasConfig } from '../../src/contract/frameworks/keras-config.js';
import { inferKeras } from '../../src/contract/frameworks/keras.js';
import { inferOnnxFrom } from '../../src/contract/frameworks/onnx.js';
import { mergeStages, parseSparkMetadata, stageFields } from '../../src/contract/frameworks/spark.js';
import { inferTensorflowFrom } from '../../src/contract/frameworks/tensorflow.js';
import { contractFromV1Binary, contractFromV2Json, contractFromV3Signature, installCommandToRequirements } from '../../src/contract/hydrosphere/index.js';
import { contractFromPrototxt } from '../../src/contract/hydrosphere/prototxt-contract.js';
import { Report } from '../../src/contract/report.js';
import { parseServingYaml } from '../../src/contract/serving-yaml.js';
import { topLevelFunctions } from '../../src/contract/python-source.js';
import { dtypeNames, profileNames, type Contract, type ContractField } from '../../src/contract/types.js';
import { MemorySource } from '../../src/contract/wire/prune.js';
import { isMllError } from '../../src/errors.js';
import type { FuzzTier } from '../support/fuzz-tier.js';
import { ownModel, sharedModel, withTemp } from './helpers.js';

/**
 * Property tests with a fixed seed: whatever the bytes or the document, the parsers return a
 * result or throw an MllError, never anything else, and never hang (each run has a deadline).
 * Registered by fuzz.unit.test.ts (a tenth of the runs) and fuzz-deep.test.ts (all of them).
 */

const SEED = 20_240_604;
const RUN_TIMEOUT_MS = 5_000;

async function onlyMllErrors(fn: () => unknown): Promise<boolean> {
  try {
    await fn();
    return true;
  } catch (err) {
    if (isMllError(err)) return true;
    throw err;
  }
}

/** Byte-level damage to a real file: overwritten bytes, truncation, insertion, deletion. */
const mutation = (size: number) =>
  fc.oneof(
    fc.record({ kind: fc.constant('set' as const), at: fc.nat({ max: size - 1 }), value: fc.integer({ min: 0, max: 255 }), count: fc.integer({ min: 1, max: 8 }) }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat({ max: size }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat({ max: size }), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat({ max: size - 1 }), count: fc.integer({ min: 1, max: 64 }) }),
  );

type Mutation = { kind: 'set'; at: number; value: number; count: number } | { kind: 'cut'; at: number } | { kind: 'insert'; at: number; bytes: Uint8Array } | { kind: 'delete'; at: number; count: number };

function mutate(bytes: Uint8Array, m: Mutation): Uint8Array {
  switch (m.kind) {
    case 'set': {
      const out = bytes.slice();
      for (let i = 0; i < m.count && m.at + i < out.length; i++) out[m.at + i] = (m.value + i * 37) % 256;
      return out;
    }
    case 'cut':
      return bytes.slice(0, m.at);
    case 'insert':
      return Uint8Array.from([...bytes.subarray(0, m.at), ...m.bytes, ...bytes.subarray(m.at)]);
    case 'delete':
      return Uint8Array.from([...bytes.subarray(0, m.at), ...bytes.subarray(m.at + m.count)]);
  }
}

export function contractFuzzSuites(tier: FuzzTier): void {
  const settings = (numRuns: number) => ({ seed: SEED, numRuns: tier.runs(numRuns), timeout: RUN_TIMEOUT_MS, endOnFailure: true });

  describe(`fuzz: protobuf model files${tier.label}`, () => {
    test('ONNX reader on arbitrary bytes', async () => {
      await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), (b) => onlyMllErrors(() => inferOnnxFrom(new MemorySource(b), 'm.onnx'))), settings(3000));
    });

    test('SavedModel reader on arbitrary bytes', async () => {
      await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), (b) => onlyMllErrors(() => inferTensorflowFrom(new MemorySource(b), 'saved_model.pb'))), settings(3000));
    });

    const files: [string, string, 'onnx' | 'tf'][] = [
      ['mnist.onnx', path.join(sharedModel('onnx', 'hydro_onnx_mnist'), 'mnist.onnx'), 'onnx'],
      ['sequence.onnx', path.join(sharedModel('onnx', 'sequence_model8_symbolic'), 'model.onnx'), 'onnx'],
      ['conv.onnx', path.join(ownModel('onnx', 'onnx_ir3_initializers'), 'conv.onnx'), 'onnx'],
      ['half_plus_two.pb', path.join(sharedModel('tensorflow', 'half_plus_two_cpu'), 'saved_model.pb'), 'tf'],
      ['shapes.pb', path.join(ownModel('tensorflow', 'tf_shapes_and_signatures'), 'saved_model.pb'), 'tf'],
    ];
    for (const [label, file, kind] of files) {
      test(`damaged copies of ${label}`, async () => {
        const bytes = new Uint8Array(await readFile(file));
        const read = kind === 'onnx' ? inferOnnxFrom : inferTensorflowFrom;
        await fc.assert(
          fc.asyncProperty(fc.array(mutation(bytes.length), { minLength: 1, maxLength: 3 }), (ms) =>
            onlyMllErrors(() => read(new MemorySource(ms.reduce<Uint8Array>((b, m) => mutate(b, m as Mutation), bytes)), label)),
          ),
          settings(800),
        );
      });
    }
  });

  describe(`fuzz: binary contract${tier.label}`, () => {
    test('decodeContract on arbitrary bytes', async () => {
      await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), (b) => onlyMllErrors(() => decodeContract(b))), settings(3000));
    });

    const name = fc.string({ minLength: 1, maxLength: 8 });
    const field: fc.Arbitrary<ContractField> = fc
      .record({
        name: fc.string({ maxLength: 8 }),
        dtype: fc.constantFrom(...dtypeNames),
        shape: fc.option(fc.array(fc.oneof(fc.constant(-1), fc.integer({ min: 1, max: 1 << 30 })), { maxLength: 5 }), { nil: null }),
        profile: fc.option(fc.constantFrom(...profileNames.filter((p) => p !== 'none')), { nil: undefined }),
        names: fc.array(fc.option(name, { nil: null }), { maxLength: 5 }),
      })
      .map(({ name: n, dtype, shape, profile, names }) => {
        const f: ContractField = { name: n, dtype, shape };
        if (shape !== null && shape.length > 0) {
          const dimNames = shape.map((_, i) => names[i] ?? null);
          if (dimNames.some((x) => x !== null)) f.dimNames = dimNames;
        }
        if (profile !== undefined) f.profile = profile;
        return f;
      });
    const contract: fc.Arbitrary<Contract> = fc
      .uniqueArray(fc.record({ name, inputs: fc.array(field, { maxLength: 4 }), outputs: fc.array(field, { maxLength: 4 }) }), { selector: (s) => s.name, maxLength: 4 })
      .map((signatures) => ({ framework: 'onnx', signatures: signatures.map((s) => ({ ...s })).sort((a, b) => (a.name < b.name ? -1 : 1)) }));

    test('decode(encode(c)) is c', async () => {
      await fc.assert(
        fc.asyncProperty(fc.string({ maxLength: 20 }), contract, async (modelName, c) => {
          assert.deepEqual(decodeContract(encodeContract(modelName, c), 'onnx'), { modelName, contract: c });
        }),
        settings(2000),
      );
    });
  });

  describe(`fuzz: serving.yaml${tier.label}`, () => {
    const valid = `kind: Model\nname: "m"\nmodel-type: "python:3.6"\npayload: ["src/"]\ncontract:\n  predict:\n    inputs:\n      x: {shape: [-1, 1], type: string, profile: text}\n    outputs:\n      y: {shape: scalar, type: int64}\n`;

    test('arbitrary text', async () => {
      await fc.assert(fc.asyncProperty(fc.string({ maxLength: 400, unit: 'binary' }), (s) => onlyMllErrors(() => parseServingYaml(s))), settings(3000));
    });

    test('damaged copies of a valid document', async () => {
      await fc.assert(
        fc.asyncProperty(fc.nat({ max: valid.length }), fc.nat({ max: 8 }), fc.string({ maxLength: 6 }), (at, del, ins) =>
          onlyMllErrors(() => parseServingYaml(valid.slice(0, at) + ins + valid.slice(at + del))),
        ),
        settings(3000),
      );
    });

    test('arbitrary values in a well-formed YAML document', async () => {
      const doc = fc.record({
        kind: fc.oneof(fc.constant('Model'), fc.anything()),
        name: fc.oneof(fc.constant('m'), fc.anything()),
        'model-type': fc.oneof(fc.constant('onnx:1'), fc.anything()),
        payload: fc.anything(),
        contract: fc.oneof(fc.anything(), fc.dictionary(fc.string(), fc.record({ inputs: fc.anything(), outputs: fc.anything() }))),
      }, { requiredKeys: [] });
      await fc.assert(
        fc.asyncProperty(doc, async (d) => {
          let text: string;
          try {
            text = dump(d);
          } catch {
            return true; // values YAML cannot represent (functions, symbols) are not documents
          }
          return onlyMllErrors(() => parseServingYaml(text));
        }),
        settings(2000),
      );
    });

    test('func_main.py scanner on arbitrary text', async () => {
      await fc.assert(fc.asyncProperty(fc.string({ maxLength: 400 }), async (s) => {
        topLevelFunctions(s);
      }), settings(2000));
    });
  });

  describe(`fuzz: JSON metadata (Keras model_config, Spark stages)${tier.label}`, () => {
    const layer = fc.record({
      class_name: fc.oneof(fc.constantFrom('InputLayer', 'Dense', 'Reshape'), fc.string()),
      name: fc.oneof(fc.constantFrom('in', 'out'), fc.anything()),
      config: fc.oneof(
        fc.record({
          name: fc.oneof(fc.constantFrom('in', 'out'), fc.anything()),
          dtype: fc.oneof(fc.constantFrom('float32', 'int64', null), fc.anything()),
          batch_input_shape: fc.anything(),
          batch_shape: fc.anything(),
          target_shape: fc.anything(),
          units: fc.anything(),
        }, { requiredKeys: [] }),
        fc.anything(),
      ),
    }, { requiredKeys: [] });
    const kerasConfig = fc.oneof(
      fc.jsonValue(),
      fc.record({
        class_name: fc.constantFrom('Sequential', 'Model', 'Functional', 'Other'),
        config: fc.oneof(
          fc.array(layer, { maxLength: 4 }),
          fc.record({
            layers: fc.oneof(fc.array(layer, { maxLength: 4 }), fc.anything()),
            input_layers: fc.oneof(fc.constant([['in', 0, 0]]), fc.constant(['in', 0, 0]), fc.anything()),
            output_layers: fc.oneof(fc.constant([['out', 0, 0]]), fc.anything()),
          }, { requiredKeys: [] }),
          fc.anything(),
        ),
      }),
    );

    test('Keras model_config interpretation', async () => {
      await fc.assert(fc.asyncProperty(kerasConfig, (c) => onlyMllErrors(() => contractFromKerasConfig(c, 'm.h5'))), settings(3000));
    });

    const stage = fc.record({
      class: fc.oneof(
        fc.constantFrom('org.apache.spark.ml.feature.VectorAssembler', 'org.apache.spark.ml.classification.RandomForestClassificationModel', 'org.apache.spark.ml.feature.Word2VecModel', 'org.apache.spark.ml.feature.IDFModel'),
        fc.string(),
      ),
      paramMap: fc.oneof(fc.dictionary(fc.constantFrom('inputCol', 'inputCols', 'outputCol', 'featuresCol', 'labelCol', 'predictionCol', 'vectorSize', 'k'), fc.oneof(fc.string(), fc.array(fc.oneof(fc.string(), fc.anything())), fc.anything())), fc.anything()),
      defaultParamMap: fc.anything(),
      numFeatures: fc.anything(),
      numClasses: fc.anything(),
    }, { requiredKeys: [] });

    test('Spark stage metadata and the merge', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.oneof(stage.map((s) => JSON.stringify(s)), fc.string()), { maxLength: 6 }), (lines) =>
          onlyMllErrors(() => {
            const fields = lines.map((l) => stageFields(parseSparkMetadata(l, 'metadata/part-00000')));
            const { inputs, outputs } = mergeStages(fields);
            assert.ok(Array.isArray(inputs) && Array.isArray(outputs));
          }),
        ),
        settings(3000),
      );
    });
  });

  describe(`fuzz: Keras .h5 files${tier.label}`, () => {
    test('damaged copies of a real .h5 (each read in a worker with a deadline)', async () => {
      const source = path.join(ownModel('keras', 'keras3_functional'), 'keras3.h5');
      const bytes = new Uint8Array(await readFile(source));
      await withTemp(async (dir) => {
        const file = path.join(dir, 'model.h5');
        await copyFile(source, file);
        await fc.assert(
          fc.asyncProperty(mutation(bytes.length), async (m) => {
            await writeFile(file, mutate(bytes, m as Mutation));
            return onlyMllErrors(() => inferKeras(file, 'model.h5'));
          }),
          { ...settings(24), timeout: 30_000 },
        );
      });
    });
  });

  describe(`fuzz: Hydrosphere inputs (contract.prototxt, client contracts, install commands)${tier.label}`, () => {
    const prototxt = 'signatures {\n  signature_name: "p"\n  inputs { name: "x" dtype: DT_DOUBLE shape { dim { size: -1 } } }\n  outputs { field_name: "y" info { dtype: DT_FLOAT } }\n}\n';

    test('contract.prototxt: arbitrary and damaged text gives issues, never a throw', async () => {
      const text = fc.oneof(
        fc.string({ maxLength: 300 }),
        fc.tuple(fc.nat({ max: prototxt.length }), fc.nat({ max: 8 }), fc.string({ maxLength: 6 })).map(([at, del, ins]) => prototxt.slice(0, at) + ins + prototxt.slice(at + del)),
      );
      await fc.assert(fc.asyncProperty(text, async (t) => {
        const report = new Report('contract.prototxt');
        const read = contractFromPrototxt(t, report);
        assert.ok(read !== null || report.issues.length > 0);
      }), settings(3000));
    });

    test('v2/v3 JSON contracts and v1 bytes: a contract or INVALID_METADATA', async () => {
      const field = fc.record({ name: fc.oneof(fc.constant('x'), fc.anything()), dtype: fc.oneof(fc.constantFrom('DT_FLOAT', 'DT_INVALID', 7), fc.anything()), shape: fc.anything(), profile: fc.anything(), subfields: fc.anything() }, { requiredKeys: [] });
      const sig = fc.record({ signatureName: fc.anything(), inputs: fc.oneof(fc.array(field, { maxLength: 3 }), fc.anything()), outputs: fc.oneof(fc.array(field, { maxLength: 3 }), fc.anything()) }, { requiredKeys: [] });
      await fc.assert(fc.asyncProperty(fc.oneof(fc.anything(), fc.record({ modelName: fc.anything(), predict: sig, signatures: fc.anything() }, { requiredKeys: [] })), async (v) => {
        await onlyMllErrors(() => contractFromV2Json(v));
        await onlyMllErrors(() => contractFromV3Signature(v));
      }), settings(2000));
      await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), async (bytes) => onlyMllErrors(() => contractFromV1Binary(bytes))), settings(2000));
    });

    test('2019 serving.yaml keys with arbitrary values: a document or INVALID_SERVING_YAML', async () => {
      const doc = fc.record({
        kind: fc.constant('Model'),
        name: fc.oneof(fc.constantFrom('m', 'My.Model'), fc.anything()),
        runtime: fc.oneof(fc.constant('hydrosphere/serving-runtime-python-3.6:2.0.0'), fc.anything()),
        'install-command': fc.oneof(fc.constant('pip install -r requirements.txt'), fc.anything()),
        metadata: fc.oneof(fc.dictionary(fc.string(), fc.anything()), fc.anything()),
        payload: fc.oneof(fc.array(fc.oneof(fc.constantFrom('./*', 'src/*', 'model/src/', 'a.txt/', '../x'), fc.string())), fc.anything()),
        contract: fc.oneof(fc.record({ name: fc.anything(), inputs: fc.anything(), outputs: fc.anything() }, { requiredKeys: [] }), fc.anything()),
        'training-data': fc.anything(),
        monitoring: fc.anything(),
      }, { requiredKeys: [] });
      await fc.assert(fc.asyncProperty(doc, async (d) => {
        let text: string;
        try {
          text = dump(d);
        } catch {
          return true;
        }
        return onlyMllErrors(() => parseServingYaml(text));
      }), settings(2000));
    });

    test('install commands: requirements or a refusal naming a part, never a throw', async () => {
      await fc.assert(fc.asyncProperty(fc.oneof(fc.string({ maxLength: 120 }), fc.string({ maxLength: 60 }).map((s) => `pip install ${s}`)), async (cmd) => {
        const r = installCommandToRequirements(cmd);
        assert.ok(r.ok ? typeof r.requirements === 'string' : typeof r.part === 'string' && r.reason.length > 0);
      }), settings(3000));
    });
  });
}
