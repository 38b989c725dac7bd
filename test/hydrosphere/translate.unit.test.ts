import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { translateV1 } from '../../src/api/hydrosphere/uploads.js';

const parts = (fields: Record<string, string>) => new Map(Object.entries(fields).map(([k, v]) => [k, Buffer.from(v)]));

describe('the 2018 CLI\'s text parts as upload metadata', () => {
  it('keeps a model_type without a version as that framework, version unknown (the files tell it later)', () => {
    assert.deepEqual(translateV1(parts({ model_name: 'm', model_type: 'tensorflow' })).metadata, { 'model-type': 'tensorflow:unknown' });
    assert.deepEqual(translateV1(parts({ model_name: 'm', model_type: 'python' })).metadata, { 'model-type': 'python:unknown' });
    assert.deepEqual(translateV1(parts({ model_name: 'm', model_type: 'python:3.6' })).metadata, { 'model-type': 'python:3.6' });
    assert.deepEqual(translateV1(parts({ model_name: 'm', model_type: 'unknown:ssd_demo' })).metadata, { 'model-type': 'unknown:ssd_demo' });
    assert.deepEqual(translateV1(parts({ model_name: 'm', model_type: 'Tensorflow:1.15' })).metadata, { 'model-type': 'tensorflow:1.15' }, 'the framework in any case');
    assert.deepEqual(translateV1(parts({ model_name: 'm' })).metadata, {});
  });

  it('keeps the description and refuses a model_type that is no type', () => {
    assert.deepEqual(translateV1(parts({ model_name: 'm', model_description: 'd' })).metadata, { description: 'd' });
    assert.throws(() => translateV1(parts({ model_name: 'm', model_type: 'py thon' })), /is not a model type/);
  });
});
