import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encodeContract } from '../../src/contract/binary.js';
import { contractFromPrototxt } from '../../src/contract/hydrosphere/prototxt-contract.js';
import { inspectModel } from '../../src/contract/index.js';
import { parseTextFormat, TextFormatError } from '../../src/contract/prototxt.js';
import { Report } from '../../src/contract/report.js';
import { parseServingYaml } from '../../src/contract/serving-yaml.js';
import { rejectsWith, withTemp, writeTree } from './helpers.js';

/**
 * Hostile documents, too big to keep as files: each fails with a clear error (or is read) without
 * hanging or exhausting memory. The per-test timeout of the test runner is the hang guard.
 */

const head = 'kind: Model\nname: "big"\nmodel-type: "python:3.6"\n';

function yamlWithFields(n: number): string {
  const inputs = Array.from({ length: n - 1 }, (_, i) => `    f${i}: {shape: [-1], type: float32}`).join('\n');
  return `${head}contract:\n  name: predict\n  inputs:\n${inputs}\n  outputs:\n    y: {shape: [-1], type: float32}\n`;
}

function prototxtWithFields(n: number): string {
  const inputs = Array.from({ length: n - 1 }, (_, i) => `  inputs { name: "f${i}" dtype: DT_FLOAT shape { dim { size: -1 } } }`).join('\n');
  return `signatures {\n  signature_name: "p"\n${inputs}\n  outputs { name: "y" dtype: DT_FLOAT }\n}\n`;
}

function nestedFields(levels: number): string {
  let field = '{shape: scalar, type: string}';
  for (let i = 0; i < levels; i++) field = `{shape: scalar, fields: {f${i}: ${field}}}`;
  return `${head}contract:\n  predict:\n    inputs:\n      x: ${field}\n    outputs:\n      y: {shape: scalar, type: string}\n`;
}

describe('hostile serving.yaml', () => {
  test('a contract of 10,000 fields is read; 10,001 is an error at the list that overflows', async () => {
    const { doc } = parseServingYaml(yamlWithFields(10_000));
    assert.equal(doc.contract?.[0]?.inputs.length, 9_999);
    const err = await rejectsWith(() => parseServingYaml(yamlWithFields(10_001)), 'INVALID_SERVING_YAML', /at most 10000 fields in the whole contract/);
    assert.equal((err.details as { path: string }[])[0]?.path, 'contract.outputs');
  });

  test('subfields 10 levels deep are read; 11 are an error naming where', async () => {
    const { doc } = parseServingYaml(nestedFields(10));
    let f = doc.contract?.[0]?.inputs[0];
    for (let i = 0; i < 10; i++) f = f?.subfields?.[0];
    assert.equal(f?.dtype, 'string');
    await rejectsWith(() => parseServingYaml(nestedFields(11)), 'INVALID_SERVING_YAML', /fields nested at most 10 levels deep/);
  });

  test('billion laughs inside the alias cap: records of records of aliases stop at the field budget', async () => {
    const lines = [`${head}anchors:`, '  l0: &l0 {shape: scalar, type: string}'];
    for (let i = 1; i <= 9; i++) {
      const entries = Array.from({ length: 9 }, (_, j) => `a${j}: *l${i - 1}`).join(', ');
      lines.push(`  l${i}: &l${i} {shape: scalar, fields: {${entries}}}`);
    }
    lines.push('contract:', '  predict:', '    inputs:', '      x: *l9', '    outputs:', '      y: *l0', 'metadata:', '  boom: *l9');
    const err = await rejectsWith(() => parseServingYaml(lines.join('\n')), 'INVALID_SERVING_YAML');
    const paths = (err.details as { path: string; expected: string }[]).map((i) => `${i.path}: ${i.expected}`);
    assert.ok(paths.some((p) => /at most 10000 fields/.test(p)), paths.join('\n'));
    assert.ok(paths.some((p) => /^metadata\.boom: .*labels are flat/.test(p)), paths.join('\n'));
  });

  test('an alias bomb beyond the cap is refused by the YAML reader', async () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 120; i++) lines.push(`b${i}: &a${i} [${Array(9).fill(i === 1 ? '*a' : `*a${i - 1}`).join(',')}]`);
    await rejectsWith(() => parseServingYaml(lines.join('\n')), 'INVALID_SERVING_YAML', /alias/);
  });
});

describe('hostile contract.prototxt', () => {
  test('a prototxt bomb (messages nested a million deep) is a parse error at the depth limit', () => {
    const bomb = `${'signatures { '.repeat(1_000_000 / 14)}`;
    assert.throws(() => parseTextFormat(bomb), (err: unknown) => err instanceof TextFormatError && /more than 1048576 bytes|nested more than 32 levels/.test(err.message));
    const deep = `${'a { '.repeat(40)}${'} '.repeat(40)}`;
    assert.throws(() => parseTextFormat(deep), /1:133: messages nested more than 32 levels deep/);
  });

  test('a flood of fields is cut at the field limit; a file over 1 MiB at the size limit', () => {
    const flood = 'x: 1\n'.repeat(100_001);
    assert.throws(() => parseTextFormat(flood), /more than 100000 fields in the document/);
    assert.throws(() => parseTextFormat(`# ${'x'.repeat(1024 * 1024)}`), /more than the 1048576 allowed/);
  });

  test('10,000 fields are read; 10,001 are an issue', () => {
    const ok = new Report('contract.prototxt');
    const read = contractFromPrototxt(prototxtWithFields(10_000), ok);
    assert.deepEqual(ok.issues, []);
    assert.equal(read?.signatures[0]?.inputs.length, 9_999);
    const over = new Report('contract.prototxt');
    contractFromPrototxt(prototxtWithFields(10_001), over);
    assert.match(over.issues[0]!.expected, /at most 10000 fields/);
  });

  test('text format details: strings joined, escapes, lists, comments, angle brackets, enums by number', () => {
    const report = new Report('contract.prototxt');
    const read = contractFromPrototxt(
      [
        'model_name: "m" "odel"  # joined',
        'signatures <',
        '  signature_name: \'pre\\x64ict\'',
        '  inputs: [{ name: "a" dtype: 9 shape {} }, { name: "b\\u00e9" dtype: DT_BOOL profile: 6 }]',
        '  outputs { name: "y" dtype: DT_HALF shape { unknown_rank: true } profile: NOT_A_PROFILE };',
        '>',
      ].join('\n'),
      report,
    );
    assert.deepEqual(report.issues, []);
    assert.deepEqual(read, {
      modelName: 'model',
      signatures: [{
        name: 'predict',
        inputs: [{ name: 'a', dtype: 'int64', shape: [] }, { name: 'bé', dtype: 'bool', shape: null, profile: 'text' }],
        outputs: [{ name: 'y', dtype: 'half', shape: null }],
      }],
    });
    assert.equal(report.warnings[0]?.code, 'UNKNOWN_PROFILE');
  });

  test('extensions, unknown fields (warned, or refused when strict), duplicate signature names', () => {
    const ext = new Report('c');
    contractFromPrototxt('[ext.field] { }', ext);
    assert.match(ext.issues[0]!.found, /extensions/);
    const lenient = new Report('c');
    contractFromPrototxt('signatures { signature_name: "p" color: "red" inputs { name: "x" dtype: DT_FLOAT } outputs { name: "y" dtype: DT_FLOAT } }', lenient);
    assert.deepEqual(lenient.issues, []);
    assert.equal(lenient.warnings[0]?.code, 'CONTRACT_FILE_UNKNOWN_FIELD');
    const strict = new Report('c');
    contractFromPrototxt('signatures { signature_name: "p" color: "red" inputs { name: "x" dtype: DT_FLOAT } outputs { name: "y" dtype: DT_FLOAT } }', strict, { strict: true });
    assert.equal(strict.issues[0]?.path, 'signatures[0].color');
    const dup = new Report('c');
    contractFromPrototxt('signatures { signature_name: "p" inputs { name: "x" dtype: DT_FLOAT } outputs { name: "y" dtype: DT_FLOAT } }\n'.repeat(2), dup);
    assert.match(dup.issues[0]!.found, /"p" twice/);
  });

  test('2018a with a binary contract file (contract.protobin), as the hs CLI also read it', async () => {
    const bytes = encodeContract('m', { framework: '', signatures: [{ name: 'p', inputs: [{ name: 'x', dtype: 'double', shape: [-1] }], outputs: [{ name: 'y', dtype: 'double', shape: [] }] }] });
    await withTemp(async (dir) => {
      await writeTree(dir, {
        'serving.yaml': 'model:\n  name: "bin"\n  type: "python:3.6"\n  contract: "contract.protobin"\n  payload: ["src/"]\n',
        'contract.protobin': bytes,
        'src/func_main.py': 'def p(x):\n    return x\n',
      });
      const got = await inspectModel(dir);
      assert.deepEqual(got.contract.signatures[0]?.inputs[0], { name: 'x', dtype: 'double', shape: [-1] });
      assert.equal(got.servingYaml?.contractFile, 'contract.protobin');
    });
  });
});
