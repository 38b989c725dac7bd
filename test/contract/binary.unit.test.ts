import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { decodeContract, encodeContract, inspectModel } from '../../src/contract/index.js';
import { contractType } from '../../src/contract/proto/schemas.js';
import type { Contract } from '../../src/contract/types.js';
import { requireSharedFixtures } from '../support/paths.js';
import { ownFixtures, rejectsWith } from './helpers.js';

/** contract.protobin: hydro-serving-protos' ModelContract, canonical bytes, exact round trip. */

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('binary contract: hand-checked bytes', () => {
  test('a float [-1, 2] input and a scalar string output with a profile', () => {
    const contract: Contract = {
      framework: 'tensorflow',
      signatures: [{
        name: 's',
        inputs: [{ name: 'x', dtype: 'float', shape: [-1, 2] }],
        outputs: [{ name: 'y', dtype: 'string', shape: [], profile: 'text' }],
      }],
    };
    // ModelContract { model_name(1) "m"; signatures(2) { signature_name(1) "s";
    //   inputs(2)  { name(1) "x"; shape(2) { dim(2) {size(1) -1 as a 10-byte varint}; dim(2) {size(1) 2} }; dtype(4) 1 };
    //   outputs(3) { name(1) "y"; shape(2) {} (scalar: present, empty); dtype(4) 7; profile(10) 6 } } }
    const expected = [
      '0a016d', // model_name = "m"
      '1228', // signatures, 40 bytes
      '0a0173', // signature_name = "s"
      '1218', // inputs, 24 bytes
      '0a0178', // name = "x"
      '1211', // shape, 17 bytes
      '120b08ffffffffffffffffff01', // dim { size: -1 }
      '12020802', // dim { size: 2 }
      '2001', // dtype = DT_FLOAT (1)
      '1a09', // outputs, 9 bytes
      '0a0179', // name = "y"
      '1200', // shape {} (scalar)
      '2007', // dtype = DT_STRING (7)
      '5006', // profile (field 10) = TEXT (6)
    ].join('');
    const bytes = encodeContract('m', contract);
    assert.equal(hex(bytes), expected);
    assert.equal(bytes.length, 45);
    assert.deepEqual(decodeContract(bytes, 'tensorflow'), { modelName: 'm', contract });
  });

  test('unknown rank, symbolic dims, no model name, default profile left out', () => {
    const contract: Contract = {
      framework: 'onnx',
      signatures: [{
        name: 'infer',
        inputs: [{ name: 'z', dtype: 'int64', shape: null }, { name: 'n', dtype: 'bool', shape: [-1, 3], dimNames: ['batch', null] }],
        outputs: [{ name: 'o', dtype: 'half', shape: [4], profile: 'none' }],
      }],
    };
    const expected = [
      '1240', // signatures (no model_name: empty strings are not written), 64 bytes
      '0a05696e666572', // "infer"
      '1209', '0a017a', '12021801', '2009', // z: shape { unknown_rank: true }, DT_INT64 (9)
      '121f', '0a016e', // n, 31 bytes
      '1218', // shape, 24 bytes
      '1212', '08ffffffffffffffffff01', '12056261746368', // dim { size: -1, name: "batch" }, 18 bytes
      '12020803', // dim { size: 3 }
      '200a', // DT_BOOL (10)
      '1a0b', '0a016f', '120412020804', '2013', // o: shape { dim { size 4 } }, DT_HALF (19), profile NONE omitted
    ].join('');
    const bytes = encodeContract('', contract);
    assert.equal(hex(bytes), expected);
    const back = decodeContract(bytes, 'onnx');
    assert.equal(back.modelName, '');
    // profile "none" is the default: it does not come back.
    assert.deepEqual(back.contract.signatures[0]?.outputs[0], { name: 'o', dtype: 'half', shape: [4] });
    assert.deepEqual(back.contract.signatures[0]?.inputs, contract.signatures[0]?.inputs);
  });

  test('every named dtype has its TensorFlow number', () => {
    const numbers: Record<string, number> = {
      float: 1, double: 2, int32: 3, uint8: 4, int16: 5, int8: 6, string: 7, complex64: 8, int64: 9, bool: 10, qint8: 11,
      quint8: 12, qint32: 13, bfloat16: 14, qint16: 15, quint16: 16, uint16: 17, complex128: 18, half: 19, resource: 20,
      variant: 21, uint32: 22, uint64: 23,
    };
    for (const [dtype, n] of Object.entries(numbers)) {
      const bytes = encodeContract('', { framework: '', signatures: [{ name: 's', inputs: [{ name: 'a', dtype: dtype as 'float', shape: [] }], outputs: [] }] });
      const field = (contractType('ModelContract').decode(bytes) as unknown as { signatures: { inputs: { dtype: number }[] }[] }).signatures[0]!.inputs[0]!;
      assert.equal(field.dtype, n, dtype);
      assert.equal(decodeContract(bytes).contract.signatures[0]?.inputs[0]?.dtype, dtype);
    }
  });
});

describe('binary contract: errors', () => {
  test('an unsupported dtype names the signature and the field', async () => {
    const contract: Contract = {
      framework: 'onnx',
      signatures: [{ name: 'infer', inputs: [{ name: 'ok', dtype: 'float', shape: [1] }, { name: 'q', dtype: 'unsupported:FLOAT8E4M3FN', shape: [1] }], outputs: [] }],
    };
    const err = await rejectsWith(() => encodeContract('m', contract), 'UNSUPPORTED_DTYPE', /signature infer, input q/, /unsupported:FLOAT8E4M3FN/, /serving\.yaml/);
    assert.deepEqual(err.details, { field: 'signature infer, input q', dtype: 'unsupported:FLOAT8E4M3FN' });
    assert.equal(err.transient, false);
  });

  test('bytes that are not a ModelContract', async () => {
    await rejectsWith(() => decodeContract(Uint8Array.from([0x0a, 0x05, 0x61])), 'INVALID_MODEL', /cannot be decoded/);
    await rejectsWith(() => decodeContract(Uint8Array.from([0x12, 0x02, 0x0f, 0xff])), 'INVALID_MODEL');
  });

  test('fields with subfields decode as records (dtype subfields) and encode back to the same bytes', () => {
    const bytes = contractType('ModelContract')
      .encode({ signatures: [{ signature_name: 's', inputs: [{ name: 'rec', subfields: { data: [{ name: 'a', dtype: 1 }] } }] }] })
      .finish();
    const decoded = decodeContract(bytes);
    assert.deepEqual(decoded.contract.signatures[0]?.inputs[0], { name: 'rec', dtype: 'subfields', shape: null, subfields: [{ name: 'a', dtype: 'float', shape: null }] });
    const again = decodeContract(encodeContract('', decoded.contract));
    assert.deepEqual(again.contract, decoded.contract);
  });

  test('subfields nested deeper than the limit, and too many fields, fail clearly', async () => {
    let field: Record<string, unknown> = { name: 'leaf', dtype: 1 };
    for (let i = 0; i < 12; i++) field = { name: `r${i}`, subfields: { data: [field] } };
    const deep = contractType('ModelContract').encode({ signatures: [{ signature_name: 's', inputs: [field] }] }).finish();
    await rejectsWith(() => decodeContract(deep), 'INVALID_MODEL', /nested more than 10 levels/);
    const many = contractType('ModelContract')
      .encode({ signatures: [{ signature_name: 's', inputs: Array.from({ length: 10_001 }, (_, i) => ({ name: `f${i}`, dtype: 1 })) }] })
      .finish();
    await rejectsWith(() => decodeContract(many), 'INVALID_MODEL', /more than 10000 fields/);
  });
});

describe('binary contract: round trip of every fixture contract', () => {
  const roots = [requireSharedFixtures(), ownFixtures];
  const models: string[] = [];
  for (const root of roots) {
    for (const fw of readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory())) {
      for (const c of readdirSync(path.join(root, fw.name), { withFileTypes: true })) {
        if (existsSync(path.join(root, fw.name, c.name, 'expected.json'))) models.push(path.join(root, fw.name, c.name));
      }
    }
  }
  for (const m of models) {
    test(path.relative(path.dirname(path.dirname(m)), m), async () => {
      const { contract } = await inspectModel(path.join(m, 'model'));
      const expected = JSON.parse(readFileSync(path.join(m, 'expected.json'), 'utf8')) as Contract;
      const unsupported = contract.signatures.some((s) => [...s.inputs, ...s.outputs].some((f) => f.dtype.startsWith('unsupported:')));
      if (unsupported) {
        await rejectsWith(() => encodeContract('model', contract), 'UNSUPPORTED_DTYPE');
        return;
      }
      const back = decodeContract(encodeContract('model', contract), contract.framework);
      assert.equal(back.modelName, 'model');
      assert.deepEqual(back.contract, { framework: expected.framework, signatures: expected.signatures });
    });
  }
});
