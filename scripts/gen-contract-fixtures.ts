/**
 * Generates the contract module's own edge fixtures under test/fixtures/contract/, in the layout
 * of ../shared/fixtures: <framework>/<case>/model/ + expected.json, plus bad/ files.
 *
 *   node --import tsx scripts/gen-contract-fixtures.ts
 *
 * SavedModel and ONNX files are written with protobufjs from the writer schemas below (the fields
 * a real exporter writes that matter here, including ones the reader must skip: graph nodes,
 * initializer data). Keras .h5 files are written by Debian's python3-h5py
 * (scripts/gen-contract-fixtures.py). Every expected.json is written by hand here from the rules
 * of ../shared/fixtures/README.md, never by running the inspector.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(repo, 'test', 'fixtures', 'contract');

// ---------------------------------------------------------------------------------------------
// Writer schemas (field numbers are facts of the formats).

const tfWriter = protobuf.parse(`
syntax = "proto3";
package gen.tf;
message SavedModel { int64 saved_model_schema_version = 1; repeated MetaGraphDef meta_graphs = 2; }
message MetaGraphDef {
  MetaInfoDef meta_info_def = 1;
  GraphDef graph_def = 2;
  repeated CollectionEntry collection_def = 4;
  repeated SignatureDefEntry signature_def = 5;
}
message MetaInfoDef {
  string meta_graph_version = 1;
  OpList stripped_op_list = 2;
  repeated string tags = 4;
  string tensorflow_version = 5;
  string tensorflow_git_version = 6;
}
message OpList { repeated OpDef op = 1; }
message OpDef { string name = 1; }
message GraphDef { repeated NodeDef node = 1; }
message NodeDef { string name = 1; string op = 2; repeated string input = 3; }
message CollectionEntry { string key = 1; CollectionDef value = 2; }
message CollectionDef { NodeList node_list = 1; message NodeList { repeated string value = 1; } }
message SignatureDefEntry { string key = 1; SignatureDef value = 2; }
message SignatureDef { repeated TensorInfoEntry inputs = 1; repeated TensorInfoEntry outputs = 2; string method_name = 3; }
message TensorInfoEntry { string key = 1; TensorInfo value = 2; }
message TensorInfo { string name = 1; int32 dtype = 2; TensorShapeProto tensor_shape = 3; }
message TensorShapeProto { repeated Dim dim = 2; bool unknown_rank = 3; message Dim { int64 size = 1; string name = 2; } }
`, { keepCase: true }).root;

const onnxWriter = protobuf.parse(`
syntax = "proto2";
package gen.onnx;
message ModelProto {
  optional int64 ir_version = 1;
  optional string producer_name = 2;
  optional string producer_version = 3;
  optional string domain = 4;
  optional int64 model_version = 5;
  optional string doc_string = 6;
  optional GraphProto graph = 7;
  repeated OperatorSetIdProto opset_import = 8;
}
message OperatorSetIdProto { optional string domain = 1; optional int64 version = 2; }
message GraphProto {
  repeated NodeProto node = 1;
  optional string name = 2;
  repeated TensorProto initializer = 5;
  optional string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
  repeated ValueInfoProto value_info = 13;
  repeated SparseTensorProto sparse_initializer = 15;
}
message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  optional string name = 3;
  optional string op_type = 4;
  repeated AttributeProto attribute = 5;
}
message AttributeProto { optional string name = 1; optional TensorProto t = 5; optional int32 type = 20; }
message TensorProto {
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  repeated float float_data = 4 [packed = true];
  optional string name = 8;
  optional bytes raw_data = 9;
}
message SparseTensorProto { optional TensorProto values = 1; optional TensorProto indices = 2; repeated int64 dims = 3; }
message ValueInfoProto { optional string name = 1; optional TypeProto type = 2; optional string doc_string = 3; }
message TypeProto {
  oneof value {
    Tensor tensor_type = 1;
    Sequence sequence_type = 4;
    MapType map_type = 5;
    Tensor sparse_tensor_type = 8;
  }
  optional string denotation = 6;
  message Tensor { optional int32 elem_type = 1; optional TensorShapeProto shape = 2; }
  message Sequence { optional TypeProto elem_type = 1; }
  message MapType { optional int32 key_type = 1; optional TypeProto value_type = 2; }
}
message TensorShapeProto {
  repeated Dimension dim = 1;
  message Dimension { oneof value { int64 dim_value = 1; string dim_param = 2; } optional string denotation = 3; }
}
`, { keepCase: true }).root;

function encode(root: protobuf.Root, type: string, msg: object): Uint8Array {
  const t = root.lookupType(type);
  const err = t.verify(msg);
  if (err) throw new Error(`${type}: ${err}`);
  return t.encode(t.fromObject(msg)).finish();
}

// ---------------------------------------------------------------------------------------------
// Helpers

interface Field { name: string; dtype: string; shape: number[] | null; dimNames?: (string | null)[]; profile?: string }
interface Signature { name: string; inputs: Field[]; outputs: Field[] }

function writeCase(framework: string, name: string, files: Record<string, Uint8Array | string>, signatures: Signature[], notes: string): void {
  const dir = path.join(out, framework, name);
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(dir, 'model', rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
  const expected = { framework, signatures, notes };
  writeFileSync(path.join(dir, 'expected.json'), `${JSON.stringify(expected, null, 2)}\n`);
}

const f = (name: string, dtype: string, shape: number[] | null, extra: Partial<Field> = {}): Field => ({ name, dtype, shape, ...extra });

// TensorFlow helpers
type TfDim = number | [number, string];
const tinfo = (tensor: string, dtype: number, shape: TfDim[] | 'unknown' | 'absent') => ({
  name: tensor,
  dtype,
  ...(shape === 'absent'
    ? {}
    : shape === 'unknown'
      ? { tensor_shape: { unknown_rank: true } }
      : { tensor_shape: { dim: shape.map((d) => (Array.isArray(d) ? { size: d[0], name: d[1] } : { size: d })) } }),
});
const entries = (pairs: [string, object][]) => pairs.map(([key, value]) => ({ key, value }));
const graphDef = { node: [{ name: 'x', op: 'Placeholder' }, { name: 'w', op: 'VariableV2' }, { name: 'y', op: 'MatMul', input: ['x', 'w'] }] };
const variables = {
  'variables/variables.index': Uint8Array.from([0, 1, 2, 3]),
  'variables/variables.data-00000-of-00001': new Uint8Array(64),
};

// ONNX helpers
type OnnxDim = number | string | null;
const vinfo = (name: string, elem: number, dims: OnnxDim[] | 'absent') => ({
  name,
  type: {
    tensor_type: {
      elem_type: elem,
      ...(dims === 'absent'
        ? {}
        : { shape: { dim: dims.map((d) => (d === null ? {} : typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } }),
    },
  },
});

// ---------------------------------------------------------------------------------------------
// TensorFlow

function tensorflow(): void {
  // Every DataType number: the 23 with names, DT_INVALID, float8/int4, *_REF and an unknown one.
  const tfTypes: [number, string][] = [
    [0, 'unsupported:DT_INVALID'], [1, 'float'], [2, 'double'], [3, 'int32'], [4, 'uint8'], [5, 'int16'], [6, 'int8'],
    [7, 'string'], [8, 'complex64'], [9, 'int64'], [10, 'bool'], [11, 'qint8'], [12, 'quint8'], [13, 'qint32'],
    [14, 'bfloat16'], [15, 'qint16'], [16, 'quint16'], [17, 'uint16'], [18, 'complex128'], [19, 'half'],
    [20, 'resource'], [21, 'variant'], [22, 'uint32'], [23, 'uint64'], [24, 'unsupported:DT_FLOAT8_E5M2'],
    [25, 'unsupported:DT_FLOAT8_E4M3FN'], [29, 'unsupported:DT_INT4'], [30, 'unsupported:DT_UINT4'],
    [101, 'unsupported:DT_FLOAT_REF'], [119, 'unsupported:DT_HALF_REF'], [122, 'unsupported:DT_UINT32_REF'],
    [150, 'unsupported:UNKNOWN_150'],
  ];
  const saved = {
    saved_model_schema_version: 1,
    meta_graphs: [{
      meta_info_def: { meta_graph_version: 'v2.15.0', tags: ['serve'], tensorflow_version: '2.15.0', tensorflow_git_version: 'unknown' },
      graph_def: graphDef,
      signature_def: entries([
        ['dtypes', {
          method_name: 'tensorflow/serving/predict',
          inputs: entries(tfTypes.map(([n]) => [`t${n}`, tinfo(`t${n}:0`, n, [1])])),
          outputs: entries([['out', tinfo('out:0', 1, [-1])]]),
        }],
      ]),
    }],
  };
  writeCase('tensorflow', 'tf_every_dtype', { 'saved_model.pb': encode(tfWriter, 'gen.tf.SavedModel', saved), ...variables }, [
    { name: 'dtypes', inputs: tfTypes.map(([n, d]) => f(`t${n}`, d, [1])), outputs: [f('out', 'float', [-1])] },
  ], 'Every TF DataType number: 1-23 named; DT_INVALID, float8, int4, *_REF (101+) and an unknown number become unsupported:<enum name>.');

  // Several MetaGraphs and signatures, every kind of shape, map keys that look like numbers.
  const predict = {
    method_name: 'tensorflow/serving/predict',
    inputs: entries(['z', 'y', 'x', '1', '0'].map((k) => [k, tinfo(`${k}:0`, 1, [-1, 1])])),
    outputs: entries([['scores', tinfo('scores:0', 1, [-1, 10])], ['classes', tinfo('classes:0', 7, [-1, 10])]]),
  };
  const serve = {
    meta_info_def: {
      meta_graph_version: 'v1.15.0', tags: ['serve'], tensorflow_version: '1.15.0', tensorflow_git_version: 'v1.15.0-0-g590d6ee',
      stripped_op_list: { op: [{ name: 'MatMul' }, { name: 'Placeholder' }] },
    },
    graph_def: graphDef,
    collection_def: entries([['variables', { node_list: { value: ['w:0'] } }]]),
    signature_def: entries([
      ['zeta', {
        inputs: entries([['b', tinfo('b:0', 1, [[-1, 'batch'], [3, '']])], ['a', tinfo('a:0', 9, [])]]),
        outputs: entries([['out', tinfo('out:0', 1, 'unknown')]]),
      }],
      ['alpha', { inputs: entries([['x', tinfo('x:0', 7, 'absent')]]), outputs: entries([['y', tinfo('y:0', 10, [0, 5])]]) }],
      ['__saved_model_init_op', { outputs: entries([['__saved_model_init_op', { name: 'NoOp' }]]) }],
      ['10', { inputs: entries([['in', tinfo('in:0', 2, [2, 2])]]), outputs: entries([['out', tinfo('out:0', 2, [2, 2])]]) }],
      ['2', { inputs: entries([['in', tinfo('in:0', 19, [-1])]]), outputs: entries([['out', tinfo('out:0', 19, [-1])]]) }],
      ['predict', predict],
    ]),
  };
  const multi = {
    saved_model_schema_version: 1,
    meta_graphs: [
      { meta_info_def: { tags: ['train'], tensorflow_version: '1.15.0' }, graph_def: graphDef, signature_def: entries([['train_only', predict]]) },
      { meta_info_def: { tags: ['serve', 'gpu'], tensorflow_version: '1.15.0' }, graph_def: graphDef, signature_def: entries([['gpu_only', predict]]) },
      serve,
    ],
  };
  writeCase('tensorflow', 'tf_shapes_and_signatures', { 'saved_model.pb': encode(tfWriter, 'gen.tf.SavedModel', multi), ...variables, 'assets/vocab.txt': 'a\nb\n' }, [
    { name: '10', inputs: [f('in', 'double', [2, 2])], outputs: [f('out', 'double', [2, 2])] },
    { name: '2', inputs: [f('in', 'half', [-1])], outputs: [f('out', 'half', [-1])] },
    { name: 'alpha', inputs: [f('x', 'string', null)], outputs: [f('y', 'bool', [0, 5])] },
    {
      name: 'predict',
      inputs: ['z', 'y', 'x', '1', '0'].map((k) => f(k, 'float', [-1, 1])),
      outputs: [f('scores', 'float', [-1, 10]), f('classes', 'string', [-1, 10])],
    },
    { name: 'zeta', inputs: [f('b', 'float', [-1, 3]), f('a', 'int64', [])], outputs: [f('out', 'float', null)] },
  ], 'Three MetaGraphs: [train], [serve, gpu] and [serve]; the one tagged exactly serve is used. __saved_model_init_op skipped. Signature keys "10" and "2" sort before letters; fields keep file order, also for number-like keys. Scalar [], unknown_rank null, no tensor_shape null, TF dim names never give dimNames.');

  const fallback = {
    saved_model_schema_version: 1,
    meta_graphs: [
      { meta_info_def: { tags: ['train'], tensorflow_version: '2.3.0' }, signature_def: entries([['train_only', predict]]) },
      {
        meta_info_def: { tags: ['serve', 'tpu'], tensorflow_version: '2.3.0' },
        graph_def: graphDef,
        signature_def: entries([['serving_default', { inputs: entries([['x', tinfo('x:0', 1, [-1, 4])]]), outputs: entries([['y', tinfo('y:0', 1, [-1, 1])]]) }]]),
      },
    ],
  };
  writeCase('tensorflow', 'tf_serve_fallback', { 'saved_model.pb': encode(tfWriter, 'gen.tf.SavedModel', fallback), ...variables }, [
    { name: 'serving_default', inputs: [f('x', 'float', [-1, 4])], outputs: [f('y', 'float', [-1, 1])] },
  ], 'No MetaGraph tagged exactly serve: the first whose tags contain serve ([serve, tpu]) is used.');
}

// ---------------------------------------------------------------------------------------------
// ONNX

function onnx(): void {
  const onnxTypes: [number, string][] = [
    [0, 'unsupported:UNDEFINED'], [1, 'float'], [2, 'uint8'], [3, 'int8'], [4, 'uint16'], [5, 'int16'], [6, 'int32'],
    [7, 'int64'], [8, 'string'], [9, 'bool'], [10, 'half'], [11, 'double'], [12, 'uint32'], [13, 'uint64'],
    [14, 'complex64'], [15, 'complex128'], [16, 'bfloat16'], [17, 'unsupported:FLOAT8E4M3FN'],
    [18, 'unsupported:FLOAT8E4M3FNUZ'], [19, 'unsupported:FLOAT8E5M2'], [20, 'unsupported:FLOAT8E5M2FNUZ'],
    [21, 'unsupported:UINT4'], [22, 'unsupported:INT4'], [23, 'unsupported:FLOAT4E2M1'], [24, 'unsupported:FLOAT8E8M0'],
    [25, 'unsupported:UINT2'], [26, 'unsupported:INT2'], [27, 'unsupported:UNKNOWN_27'],
  ];
  const everyDtype = {
    ir_version: 10, producer_name: 'gen-contract-fixtures', producer_version: '1', opset_import: [{ domain: '', version: 21 }],
    graph: {
      name: 'every_dtype',
      node: onnxTypes.map(([n]) => ({ input: [`e${n}`], output: [`i${n}`], op_type: 'Identity', name: `id${n}` })),
      input: onnxTypes.map(([n]) => vinfo(`e${n}`, n, [2])),
      output: [vinfo('y', 1, [2])],
    },
  };
  writeCase('onnx', 'onnx_every_dtype', { 'every_dtype.onnx': encode(onnxWriter, 'gen.onnx.ModelProto', everyDtype) }, [
    { name: 'infer', inputs: onnxTypes.map(([n, d]) => f(`e${n}`, d, [2])), outputs: [f('y', 'float', [2])] },
  ], 'Every ONNX TensorProto.DataType 0-26 and an unknown 27: 1-16 named, the rest unsupported:<name>.');

  const weights = new Uint8Array(4 * 3 * 3 * 3 * 4).map((_, i) => i % 251);
  const ir3 = {
    ir_version: 3, producer_name: 'pytorch', producer_version: '0.3', opset_import: [{ domain: '', version: 6 }],
    graph: {
      name: 'torch-jit-export',
      node: [
        { input: ['data', 'W', 'B'], output: ['c'], op_type: 'Conv', name: 'conv' },
        { input: ['c', 'S'], output: ['out'], op_type: 'Add', name: 'add' },
      ],
      initializer: [
        { dims: [4, 3, 3, 3], data_type: 1, name: 'W', raw_data: weights },
        { dims: [4], data_type: 1, float_data: [0.5, 1.5, 2.5, 3.5], name: 'B' },
      ],
      sparse_initializer: [{ values: { dims: [2], data_type: 1, name: 'S', float_data: [1, 2] }, indices: { dims: [2], data_type: 7, name: 'S_idx', raw_data: new Uint8Array(16) }, dims: [4] }],
      input: [vinfo('data', 1, [1, 3, 8, 8]), vinfo('W', 1, [4, 3, 3, 3]), vinfo('B', 1, [4]), vinfo('S', 1, [4])],
      output: [vinfo('out', 1, [1, 4, 6, 6])],
    },
  };
  writeCase('onnx', 'onnx_ir3_initializers', { 'conv.onnx': encode(onnxWriter, 'gen.onnx.ModelProto', ir3) }, [
    { name: 'infer', inputs: [f('data', 'float', [1, 3, 8, 8])], outputs: [f('out', 'float', [1, 4, 6, 6])] },
  ], 'IR 3: graph.input lists the weights W, B (initializer) and S (sparse_initializer); they are dropped.');

  const symbolic = {
    ir_version: 7, producer_name: 'gen-contract-fixtures', opset_import: [{ domain: 'ai.onnx.ml', version: 3 }, { domain: '', version: 13 }],
    graph: {
      name: 'symbolic',
      node: [{ input: ['tokens'], output: ['logits'], op_type: 'Gather', name: 'g' }],
      input: [
        vinfo('tokens', 7, ['batch', 'seq']),
        vinfo('mask', 9, ['batch', 16, null]),
        vinfo('temperature', 1, []),
        vinfo('anything', 1, 'absent'),
      ],
      output: [
        vinfo('logits', 1, ['batch', 16, 1000]),
        vinfo('count', 7, []),
        { name: 'probs_seq', type: { sequence_type: { elem_type: { map_type: { key_type: 7, value_type: { tensor_type: { elem_type: 1 } } } } } } },
        { name: 'sparse_out', type: { sparse_tensor_type: { elem_type: 1, shape: { dim: [{ dim_value: 5 }, { dim_value: 5 }] } } } },
      ],
    },
  };
  writeCase('onnx', 'onnx_symbolic_and_scalars', { 'symbolic.onnx': encode(onnxWriter, 'gen.onnx.ModelProto', symbolic) }, [
    {
      name: 'infer',
      inputs: [
        f('tokens', 'int64', [-1, -1], { dimNames: ['batch', 'seq'] }),
        f('mask', 'bool', [-1, 16, -1], { dimNames: ['batch', null, null] }),
        f('temperature', 'float', []),
        f('anything', 'float', null),
      ],
      outputs: [
        f('logits', 'float', [-1, 16, 1000], { dimNames: ['batch', null, null] }),
        f('count', 'int64', []),
        f('probs_seq', 'unsupported:UNDEFINED', null),
        f('sparse_out', 'unsupported:UNDEFINED', null),
      ],
    },
  ], 'dim_param -> -1 with dimNames, a dim with neither value -> -1/null, a shape without dims -> [], no shape -> null. Only tensor_type is read: a sequence and a sparse tensor have no tensor_type, so elem_type UNDEFINED and no shape. Two opset imports: the default domain gives onnx:13.');
}

// ---------------------------------------------------------------------------------------------
// Keras (.h5 written by h5py)

interface H5Spec { path: string; attrs: Record<string, { value: string; as: 'str' | 'bytes' }>; datasets?: Record<string, number[]> }

function keras(): H5Spec[] {
  const specs: H5Spec[] = [];
  const add = (name: string, file: string, config: object, version: string, as: 'str' | 'bytes', signature: Signature, notes: string) => {
    const dir = path.join(out, 'keras', name);
    mkdirSync(path.join(dir, 'model'), { recursive: true });
    specs.push({
      path: path.join(dir, 'model', file),
      attrs: { keras_version: { value: version, as }, backend: { value: 'tensorflow', as }, model_config: { value: JSON.stringify(config), as } },
      datasets: { kernel: [0.1, 0.2, 0.3] },
    });
    writeFileSync(path.join(dir, 'expected.json'), `${JSON.stringify({ framework: 'keras', signatures: [signature], notes }, null, 2)}\n`);
  };

  const layer = (cls: string, config: object, inbound: unknown[] = []) => ({ class_name: cls, config, name: (config as { name: string }).name, inbound_nodes: inbound });
  add('keras_functional_two_inputs', 'two_inputs.h5', {
    class_name: 'Functional',
    config: {
      name: 'model',
      layers: [
        layer('InputLayer', { batch_input_shape: [null, 4], dtype: 'float32', sparse: false, ragged: false, name: 'numeric' }),
        layer('InputLayer', { batch_input_shape: [null, 2, 3], dtype: 'int32', sparse: false, ragged: false, name: 'categorical' }),
        layer('Flatten', { name: 'flatten', trainable: true, dtype: 'float32', data_format: 'channels_last' }, [[['categorical', 0, 0, {}]]]),
        layer('Concatenate', { name: 'concat', trainable: true, dtype: 'float32', axis: -1 }, [[['numeric', 0, 0, {}], ['flatten', 0, 0, {}]]]),
        layer('Dense', { name: 'score', trainable: true, dtype: 'float32', units: 1, activation: 'sigmoid' }, [[['concat', 0, 0, {}]]]),
        layer('Dense', { name: 'embedding', trainable: true, dtype: 'float64', units: 8 }, [[['concat', 0, 0, {}]]]),
        layer('Reshape', { name: 'grid', trainable: true, dtype: 'float16', target_shape: [2, 4] }, [[['embedding', 0, 0, {}]]]),
      ],
      input_layers: [['numeric', 0, 0], ['categorical', 0, 0]],
      output_layers: [['grid', 0, 0], ['score', 0, 0]],
    },
  }, '2.4.0', 'str', {
    name: 'infer',
    inputs: [f('numeric', 'float', [-1, 4]), f('categorical', 'int32', [-1, 2, 3])],
    outputs: [f('score', 'float', [-1, 1]), f('grid', 'half', [2, 4])],
  }, 'Keras 2.4 class Functional with two inputs. Outputs follow config.layers order (score before grid) although output_layers lists grid first; Reshape -> target_shape; float16 -> half.');

  add('keras_sequential_dict', 'sequential.h5', {
    class_name: 'Sequential',
    config: {
      name: 'sequential',
      layers: [
        { class_name: 'InputLayer', config: { batch_input_shape: [null, null, 5], dtype: 'float64', sparse: false, ragged: false, name: 'seq_in' } },
        { class_name: 'LSTM', config: { name: 'lstm', trainable: true, dtype: 'float64', units: 16 } },
        { class_name: 'Activation', config: { name: 'softmax', trainable: true, dtype: 'float64', activation: 'softmax' } },
      ],
    },
  }, '2.3.1', 'bytes', {
    name: 'infer',
    inputs: [f('seq_in', 'double', [-1, -1, 5])],
    outputs: [f('softmax', 'double', null)],
  }, 'Keras 2.3 dict-style Sequential (config.layers), attributes stored as fixed-length bytes. null dims -> -1; an Activation output has no units -> null.');

  add('keras3_functional', 'keras3.h5', {
    module: 'keras.src.models.functional',
    class_name: 'Functional',
    config: {
      name: 'functional',
      trainable: true,
      layers: [
        { module: 'keras.layers', class_name: 'InputLayer', config: { batch_shape: [null, 32], dtype: 'float32', sparse: false, name: 'input_layer' }, registered_name: null, name: 'input_layer', inbound_nodes: [] },
        {
          module: 'keras.layers', class_name: 'Dense',
          config: { name: 'dense', trainable: true, dtype: { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' }, registered_name: null }, units: 3 },
          registered_name: null, build_config: { input_shape: [null, 32] }, name: 'dense', inbound_nodes: [],
        },
      ],
      input_layers: ['input_layer', 0, 0],
      output_layers: ['dense', 0, 0],
    },
  }, '3.3.3', 'str', {
    name: 'infer',
    inputs: [f('input_layer', 'float', [-1, 32])],
    outputs: [f('dense', 'float', [-1, 3])],
  }, 'Keras 3: batch_shape, a DTypePolicy object as dtype, single-endpoint input_layers/output_layers.');

  // Bad: weights only (no model_config).
  mkdirSync(path.join(out, 'bad'), { recursive: true });
  specs.push({ path: path.join(out, 'bad', 'weights_only.h5'), attrs: { keras_version: { value: '2.2.4', as: 'bytes' }, backend: { value: 'tensorflow', as: 'bytes' } }, datasets: { kernel: [1, 2] } });
  return specs;
}

// ---------------------------------------------------------------------------------------------
// Spark

function sparkStage(cls: string, uid: string, version: string, paramMap: object, extra: object = {}, defaultParamMap?: object): string {
  return `${JSON.stringify({ class: cls, timestamp: 1500000000000, sparkVersion: version, uid, paramMap, ...(defaultParamMap ? { defaultParamMap } : {}), ...extra })}\n`;
}

function sparkFiles(version: string, stages: { dir: string; meta: string }[]): Record<string, string> {
  const files: Record<string, string> = {
    'metadata/part-00000': sparkStage('org.apache.spark.ml.PipelineModel', 'pipeline_1', version, { stageUids: stages.map((s) => s.dir.replace(/^\d+_/, '')) }),
    'metadata/_SUCCESS': '',
  };
  for (const s of stages) {
    files[`stages/${s.dir}/metadata/part-00000`] = s.meta;
    files[`stages/${s.dir}/metadata/_SUCCESS`] = '';
  }
  return files;
}

function spark(): void {
  const ml = 'org.apache.spark.ml.';
  const v24 = '2.4.5';
  writeCase('spark', 'spark_vector_assembler', sparkFiles(v24, [
    {
      dir: '0_VectorAssembler_a1',
      meta: sparkStage(`${ml}feature.VectorAssembler`, 'VectorAssembler_a1', v24, { inputCols: ['age', 'income', 'score'], outputCol: 'features' }, {}, { handleInvalid: 'error', outputCol: 'VectorAssembler_a1__output' }),
    },
    {
      dir: '1_LogisticRegression_b2',
      meta: sparkStage(`${ml}classification.LogisticRegressionModel`, 'LogisticRegression_b2', v24, { regParam: 0.1, maxIter: 10 }, { numFeatures: 3, numClasses: 2 }, {
        featuresCol: 'features', labelCol: 'label', predictionCol: 'prediction', probabilityCol: 'probability', rawPredictionCol: 'rawPrediction', threshold: 0.5,
      }),
    },
  ]), [
    {
      name: 'default_spark',
      inputs: [f('age', 'variant', null), f('income', 'variant', null), f('score', 'variant', null)],
      outputs: [f('prediction', 'double', [])],
    },
  ], 'Spark 2.4 VectorAssembler -> LogisticRegressionModel; columns come from defaultParamMap when paramMap lacks them. The label "label" is produced by no stage, so no stage is training-only.');

  const v22 = '2.2.0';
  const stages: [string, string, object, object?][] = [
    ['Tokenizer_1', 'feature.Tokenizer', { inputCol: 'text', outputCol: 'words' }],
    ['StopWordsRemover_2', 'feature.StopWordsRemover', { inputCol: 'words', outputCol: 'filtered', caseSensitive: false }],
    ['NGram_3', 'feature.NGram', { inputCol: 'filtered', outputCol: 'ngrams', n: 2 }],
    ['HashingTF_4', 'feature.HashingTF', { inputCol: 'ngrams', outputCol: 'tf', numFeatures: 1000 }],
    ['IDF_5', 'feature.IDFModel', { inputCol: 'tf', outputCol: 'tfidf', minDocFreq: 0 }],
    ['StringIndexer_6', 'feature.StringIndexerModel', { inputCol: 'category', outputCol: 'label', handleInvalid: 'error' }],
    ['Normalizer_7', 'feature.Normalizer', { inputCol: 'tfidf', outputCol: 'norm', p: 2.0 }],
    ['NaiveBayes_8', 'classification.NaiveBayesModel', { featuresCol: 'norm', labelCol: 'label', predictionCol: 'prediction', probabilityCol: 'probability', rawPredictionCol: 'rawPrediction', smoothing: 1.0 }, { numFeatures: 1000, numClasses: 3 }],
    ['IndexToString_9', 'feature.IndexToString', { inputCol: 'prediction', outputCol: 'predictedCategory', labels: ['a', 'b', 'c'] }],
    ['SQLTransformer_10', 'feature.SQLTransformer', { statement: 'SELECT * FROM __THIS__' }],
  ];
  writeCase('spark', 'spark_text_pipeline', sparkFiles(v22, stages.map(([uid, cls, params, extra], i) => ({
    dir: `${String(i).padStart(2, '0')}_${uid}`,
    meta: sparkStage(`${ml}${cls}`, uid, v22, params, extra ?? {}),
  }))), [
    {
      name: 'default_spark',
      inputs: [f('text', 'string', [])],
      outputs: [f('label', 'double', []), f('rawPrediction', 'double', [3]), f('probability', 'double', [3]), f('predictedCategory', 'string', [])],
    },
  ], 'Ten stages in zero-padded folders (00_..09_). IDFModel and SQLTransformer are untyped; the StringIndexer producing the label is training-only (its input category is dropped) and its output label stays an output. NaiveBayes raw/probability sized by numClasses.');

  writeCase('spark', 'spark_single_kmeans', {
    'metadata/part-00000': sparkStage(`${ml}clustering.KMeansModel`, 'KMeans_1', '3.1.2', { k: 3 }, {}, { featuresCol: 'features', predictionCol: 'cluster', k: 2 }),
    'data/_SUCCESS': '',
  }, [
    { name: 'default_spark', inputs: [f('features', 'double', [-1])], outputs: [f('cluster', 'int32', [])] },
  ], 'Extension: a single stage saved on its own (not a PipelineModel) is read as a one-stage pipeline. KMeansModel: int32 prediction, no label; no numFeatures -> [-1].');
}

// ---------------------------------------------------------------------------------------------
// Python (serving.yaml + src/func_main.py)

function python(): void {
  const yaml = `kind: Model
name: "tokenizer"
model-type: "python:3.6"
payload:
  - "src/"
  - "requirements.txt"
contract:
  tokenize:
    inputs:
      text:
        shape: scalar
        type: string
        profile: text
    outputs:
      tokens:
        shape: [-1]
        type: string
        profile: text
  count:
    inputs:
      text: {shape: [], type: string}
    outputs:
      n: {shape: [], type: int64, profile: numerical}
`;
  const funcMain = `import re

HELP = """
def not_a_function(x):
    this text is inside a string
"""


def tokenize(text):
    return {"tokens": re.findall(r"\\w+", text)}


async def count(text):
    def inner(t):  # nested: not a signature
        return len(t.split())
    return {"n": inner(text)}
`;
  writeCase('python', 'python_tokenizer', { 'serving.yaml': yaml, 'src/func_main.py': funcMain, 'requirements.txt': 'nltk==3.4\n' }, [
    { name: 'count', inputs: [f('text', 'string', [])], outputs: [f('n', 'int64', [], { profile: 'numerical' })] },
    { name: 'tokenize', inputs: [f('text', 'string', [], { profile: 'text' })], outputs: [f('tokens', 'string', [-1], { profile: 'text' })] },
  ], 'Python: the contract comes from serving.yaml only; each signature is a top-level def (or async def) in src/func_main.py.');
}

// ---------------------------------------------------------------------------------------------

rmSync(out, { recursive: true, force: true });
tensorflow();
onnx();
spark();
python();
const h5 = keras();
execFileSync('/usr/bin/python3', [path.join(repo, 'scripts', 'gen-contract-fixtures.py')], { input: JSON.stringify(h5), stdio: ['pipe', 'inherit', 'inherit'] });
console.log(`fixtures written to ${path.relative(process.cwd(), out) || out}`);
