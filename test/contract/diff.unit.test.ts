import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { shapeAccepts } from '../../src/contract/diff.js';
import { diffContracts } from '../../src/contract/index.js';
import type { Contract, ContractField, ContractSignature } from '../../src/contract/types.js';

/** The contract diff a version records against the previous version of the same model. */

const fld = (name: string, dtype: ContractField['dtype'] = 'float', shape: number[] | null = [-1, 1], extra: Partial<ContractField> = {}): ContractField => ({ name, dtype, shape, ...extra });
const sig = (name: string, inputs: ContractField[], outputs: ContractField[]): ContractSignature => ({ name, inputs, outputs });
const contract = (...signatures: ContractSignature[]): Contract => ({ framework: 'tensorflow', signatures });
const base = contract(sig('predict', [fld('x'), fld('mask', 'bool', [-1])], [fld('y'), fld('score', 'double', [-1])]));

function only(before: Contract, after: Contract) {
  const d = diffContracts(before, after);
  assert.equal(d.changes.length, 1, JSON.stringify(d.changes));
  return { ...d.changes[0]!, overall: d.breaking };
}

describe('contract diff', () => {
  test('identical contracts: no changes, not breaking', () => {
    assert.deepEqual(diffContracts(base, structuredClone(base)), { breaking: false, changes: [] });
  });

  test('field order alone is no change', () => {
    const reordered = contract(sig('predict', [fld('mask', 'bool', [-1]), fld('x')], [fld('score', 'double', [-1]), fld('y')]));
    assert.deepEqual(diffContracts(base, reordered).changes, []);
  });

  test('signature removed is breaking, added is not', () => {
    const removed = only(base, contract());
    assert.deepEqual([removed.change, removed.signature, removed.breaking, removed.overall], ['signature-removed', 'predict', true, true]);
    const added = only(base, contract(base.signatures[0]!, sig('explain', [fld('x')], [fld('e')])));
    assert.deepEqual([added.change, added.signature, added.breaking, added.overall], ['signature-added', 'explain', false, false]);
  });

  test('an input added is breaking; an input removed is not', () => {
    const added = only(base, contract(sig('predict', [fld('x'), fld('mask', 'bool', [-1]), fld('extra')], base.signatures[0]!.outputs)));
    assert.deepEqual([added.change, added.field, added.direction, added.breaking], ['field-added', 'extra', 'input', true]);
    assert.deepEqual(added.after, fld('extra'));
    const removed = only(base, contract(sig('predict', [fld('x')], base.signatures[0]!.outputs)));
    assert.deepEqual([removed.change, removed.field, removed.direction, removed.breaking], ['field-removed', 'mask', 'input', false]);
  });

  test('an output removed is breaking; an output added is not', () => {
    const removed = only(base, contract(sig('predict', base.signatures[0]!.inputs, [fld('y')])));
    assert.deepEqual([removed.change, removed.field, removed.direction, removed.breaking], ['field-removed', 'score', 'output', true]);
    const added = only(base, contract(sig('predict', base.signatures[0]!.inputs, [fld('y'), fld('score', 'double', [-1]), fld('label', 'string', [])])));
    assert.deepEqual([added.change, added.direction, added.breaking], ['field-added', 'output', false]);
  });

  test('a dtype change is breaking and records before/after', () => {
    const c = only(base, contract(sig('predict', [fld('x', 'double'), fld('mask', 'bool', [-1])], base.signatures[0]!.outputs)));
    assert.deepEqual([c.change, c.field, c.before, c.after, c.breaking], ['dtype-changed', 'x', 'float', 'double', true]);
  });

  test('input shapes: widening is compatible, narrowing or a rank change is breaking', () => {
    const withInput = (shape: number[] | null) => contract(sig('predict', [fld('x', 'float', shape), fld('mask', 'bool', [-1])], base.signatures[0]!.outputs));
    const from = withInput([5, 1]);
    assert.equal(only(from, withInput([-1, 1])).breaking, false);
    assert.equal(only(from, withInput(null)).breaking, false);
    assert.equal(only(withInput([-1, 1]), withInput([5, 1])).breaking, true);
    assert.equal(only(from, withInput([5, 1, 1])).breaking, true);
    assert.equal(only(withInput(null), withInput([5])).breaking, true);
    assert.deepEqual(only(from, withInput([-1, 1])).before, [5, 1]);
  });

  test('output shapes: narrowing is compatible, widening is breaking', () => {
    const withOutput = (shape: number[] | null) => contract(sig('predict', base.signatures[0]!.inputs, [fld('y', 'float', shape), fld('score', 'double', [-1])]));
    assert.equal(only(withOutput([-1, 10]), withOutput([4, 10])).breaking, false);
    assert.equal(only(withOutput([4, 10]), withOutput([-1, 10])).breaking, true);
    assert.equal(only(withOutput(null), withOutput([3])).breaking, false);
    assert.equal(only(withOutput([3]), withOutput([])).breaking, true);
  });

  test('dim names and profiles change without breaking', () => {
    const named = contract(sig('predict', [fld('x', 'float', [-1, 1], { dimNames: ['batch', null] }), fld('mask', 'bool', [-1])], base.signatures[0]!.outputs));
    const d = only(base, named);
    assert.deepEqual([d.change, d.breaking, d.before, d.after], ['dim-names-changed', false, null, ['batch', null]]);
    const profiled = contract(sig('predict', base.signatures[0]!.inputs, [fld('y', 'float', [-1, 1], { profile: 'numerical' }), fld('score', 'double', [-1])]));
    const p = only(base, profiled);
    assert.deepEqual([p.change, p.breaking, p.after], ['profile-changed', false, 'numerical']);
  });

  test('a framework change is recorded, not breaking by itself', () => {
    const d = diffContracts(base, { ...base, framework: 'onnx' });
    assert.deepEqual(d, { breaking: false, changes: [{ signature: '', change: 'framework-changed', before: 'tensorflow', after: 'onnx', breaking: false }] });
  });

  test('several changes: breaking when any is', () => {
    const after = contract(sig('predict', [fld('x', 'double')], [fld('y'), fld('score', 'double', [-1]), fld('new')]), sig('other', [fld('a')], [fld('b')]));
    const d = diffContracts(base, after);
    assert.equal(d.breaking, true);
    assert.deepEqual(d.changes.map((c) => c.change).sort(), ['dtype-changed', 'field-added', 'field-removed', 'signature-added']);
  });

  test('shapeAccepts', () => {
    assert.equal(shapeAccepts(null, null), true);
    assert.equal(shapeAccepts([-1, 3], [7, 3]), true);
    assert.equal(shapeAccepts([-1, 3], [7, 4]), false);
    assert.equal(shapeAccepts([], []), true);
    assert.equal(shapeAccepts([1], null), false);
  });
});
