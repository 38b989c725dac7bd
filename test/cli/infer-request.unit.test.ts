import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exampleOptions, exampleRequest, pickSignature, renderOutputs, requestFromOptions } from '../../src/cli/commands/infer-request.js';
import type { ContractSignature } from '../../src/contract/index.js';

const sig: ContractSignature = {
  name: 'predict',
  inputs: [
    { name: 'x', dtype: 'double', shape: [-1, 4] },
    { name: 'text', dtype: 'string', shape: [] },
    { name: 'flags', dtype: 'bool', shape: [2] },
    { name: 'n', dtype: 'int64', shape: [-1] },
  ],
  outputs: [{ name: 'y', dtype: 'float', shape: [-1] }],
};
const all = ['x=1,2,3,4,5,6,7,8', 'text=Hello, world', 'flags=true,0', 'n=3'];

describe('mll predict request building (from the contract)', () => {
  it('fills the one free dim, keeps a scalar string whole, parses bools and numbers', () => {
    assert.deepEqual(requestFromOptions(sig, all).inputs, [
      { name: 'x', shape: [2, 4], datatype: 'FP64', data: [1, 2, 3, 4, 5, 6, 7, 8] },
      { name: 'text', shape: [], datatype: 'BYTES', data: ['Hello, world'] },
      { name: 'flags', shape: [2], datatype: 'BOOL', data: [true, false] },
      { name: 'n', shape: [1], datatype: 'INT64', data: [3] },
    ]);
  });

  it('takes --shape as given, and refuses what cannot be meant', () => {
    assert.deepEqual(requestFromOptions(sig, all, ['x=8x1']).inputs[0]!.shape, [8, 1]);
    const cases: [string[], string[], RegExp][] = [
      [all.slice(1), [], /needs --input x=… \(it takes x, text, flags, n\)/],
      [[...all, 'z=1'], [], /has no input "z"/],
      [all.map((a) => (a.startsWith('x=') ? 'x=1,2,3' : a)), [], /3 values do not fill the shape \[-1,4\]/],
      [all.map((a) => (a.startsWith('flags=') ? 'flags=true' : a)), [], /shape \[2\] holds 2 values, 1 were given/],
      [all.map((a) => (a.startsWith('n=') ? 'n=1.5' : a)), [], /"1\.5" is not a whole number \(int64\)/],
      [all.map((a) => (a.startsWith('flags=') ? 'flags=yes,no' : a)), [], /"yes" is not true or false/],
      [all, ['x=2by4'], /write the sizes as 2x3/],
      [['novalue', ...all], [], /--input novalue: write it as name=value/],
    ];
    for (const [inputs, shapes, message] of cases) {
      assert.throws(() => requestFromOptions(sig, inputs, shapes), (err: Error & { code?: string }) => err.code === 'USAGE' && message.test(err.message), String(message));
    }
    const free: ContractSignature = { ...sig, inputs: [{ name: 'm', dtype: 'float', shape: [-1, -1] }] };
    assert.throws(() => requestFromOptions(free, ['m=1,2']), /several free dims; give the shape with --shape m=2x3/);
  });

  it('picks the only signature, or the named one', () => {
    const other = { ...sig, name: 'other' };
    assert.equal(pickSignature([sig], undefined), sig);
    assert.equal(pickSignature([sig, other], 'other'), other);
    assert.throws(() => pickSignature([sig, other], undefined), /several signatures \(predict, other\); choose one with --signature/);
    assert.throws(() => pickSignature([sig], 'nope'), /no signature "nope" \(it has: predict\)/);
  });

  it('makes an example request and the matching --input options', () => {
    assert.deepEqual(exampleRequest(sig).inputs[0], { name: 'x', shape: [2, 4], datatype: 'FP64', data: [1, 2, 3, 4, 5, 6, 7, 8] });
    assert.equal(exampleOptions(sig), "--input x=1,2,3,4,5,6,7,8 --input text='some text' --input flags=true,false --input n=1,2");
    assert.deepEqual(requestFromOptions(sig, ['x=1,2,3,4,5,6,7,8', 'text=some text', 'flags=true,false', 'n=1,2']).inputs.map((t) => t.shape), [[2, 4], [], [2], [2]], 'the example options are a valid request');
  });

  it('prints outputs nested by their shape', () => {
    assert.equal(renderOutputs([
      { name: 'proba', datatype: 'FP64', shape: [2, 2], data: [0.1, 0.9, 0.7, 0.3] },
      { name: 'n', datatype: 'INT64', shape: [], data: [3] },
    ]), 'proba (FP64 [2,2]): [[0.1,0.9],[0.7,0.3]]\nn (INT64 []): 3\n');
  });
});
