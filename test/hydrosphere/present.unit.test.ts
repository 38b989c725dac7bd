import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dockerImage, presentModelBuild, presentModelVersion, v1Status, v2Status, v2ModelContract, v3ModelSignature } from '../../src/api/hydrosphere/present.js';
import type { Contract } from '../../src/contract/types.js';
import type { VersionRecord } from '../../src/domain/version.js';
import { assertHydrosdk2ModelVersion, assertHydrosdk3ModelVersion, assertV1ModelBuild } from './clients.js';

const contract: Contract = {
  framework: 'python',
  signatures: [
    { name: 'other', inputs: [{ name: 'a', dtype: 'float', shape: [1] }], outputs: [{ name: 'b', dtype: 'float', shape: [1] }] },
    {
      name: 'predict',
      inputs: [
        { name: 'x', dtype: 'double', shape: [-1, 28], dimNames: ['batch', null], profile: 'numerical' },
        { name: 's', dtype: 'string', shape: [] },
        { name: 'u', dtype: 'int64', shape: null },
        { name: 'person', dtype: 'subfields', shape: [-1], subfields: [{ name: 'age', dtype: 'int32', shape: [] }, { name: 'address', dtype: 'subfields', shape: [], subfields: [{ name: 'zip', dtype: 'string', shape: [] }] }] },
      ],
      outputs: [{ name: 'y', dtype: 'unsupported:FLOAT8E4M3FN', shape: [-1] }],
    },
  ],
};

function record(status: VersionRecord['status'], extra: Partial<VersionRecord> = {}): VersionRecord {
  return {
    model: 'm', version: 3, status, createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:01:00.000Z',
    description: null, labels: { team: 'x' }, modelType: 'python:3.11',
    payload: { key: 'uploads/u', digest: `sha256:${'0'.repeat(64)}`, size: 1, format: 'tar+gzip' },
    stages: {}, contract: null, contractDigest: null, tree: null, image: null, warnings: [], error: null, diff: null, batchId: null,
    ...extra,
  } as VersionRecord;
}

const released = record('released', {
  contract,
  stages: { push: { attempts: 1, finishedAt: '2026-01-01T00:02:00.000Z' } },
  image: {
    reference: 'reg:5000/ns/m:3', repository: 'reg:5000/ns/m', tag: '3', digest: `sha256:${'a'.repeat(64)}`,
    base: { reference: 'reg:5000/runtimes/python:3.11', digest: `sha256:${'b'.repeat(64)}` }, modelOnly: false, builder: 'oci', target: 'registry',
  },
});

describe('Hydrosphere answers built from a version record', () => {
  it('maps our statuses to each protocol\'s words', () => {
    assert.deepEqual(['queued', 'extracting', 'building', 'pushing', 'released', 'failed'].map((s) => v1Status(s as VersionRecord['status'])),
      ['Pending', 'Running', 'Running', 'Running', 'Finished', 'Failed']);
    assert.deepEqual(['queued', 'pushing', 'released', 'failed'].map((s) => v2Status(s as VersionRecord['status'])),
      ['Assembling', 'Assembling', 'Released', 'Failed']);
  });

  it('writes the predict signature in v2 (dim/size, DT_ names, upper-case profiles) and v3 (dims, none for an unknown rank) form', () => {
    const v2 = v2ModelContract('m', record('released', { contract }));
    assert.equal(v2.predict.signatureName, 'predict');
    assert.deepEqual(v2.predict.inputs[0], { name: 'x', profile: 'NUMERICAL', shape: { dim: [{ size: -1, name: 'batch' }, { size: 28, name: '' }], unknownRank: false }, dtype: 'DT_DOUBLE' });
    assert.deepEqual(v2.predict.inputs[1]!.shape, { dim: [], unknownRank: false }, 'a scalar has no dims');
    assert.deepEqual(v2.predict.inputs[2]!.shape, { dim: [], unknownRank: true });
    assert.equal(v2.predict.outputs[0]!.dtype, 'DT_INVALID', 'a type the binary contract cannot hold');
    const v3 = v3ModelSignature(record('released', { contract }));
    assert.deepEqual(v3.inputs.map((f) => f.shape), [{ dims: [-1, 28] }, { dims: [] }, undefined, { dims: [-1] }]);
    // A record: hydrosdk's field_from_dict iterates subfields.items(), so a map of name to field.
    assert.deepEqual(v3.inputs[3]!.subfields, {
      age: { profile: 'NONE', shape: { dims: [] }, dtype: 'DT_INT32' },
      address: { profile: 'NONE', shape: { dims: [] }, subfields: { zip: { profile: 'NONE', shape: { dims: [] }, dtype: 'DT_STRING' } } },
    });
    assert.deepEqual(Object.keys(v2.predict.inputs[3]!.subfields!), ['age', 'address']);
    assert.equal(v2.predict.inputs[3]!.dtype, undefined);
    assert.deepEqual(v3ModelSignature(record('queued')), { signatureName: '', inputs: [], outputs: [] }, 'not known yet: empty, still readable');
    assert.deepEqual(v2ModelContract('m', record('queued')).predict, { signatureName: '', inputs: [], outputs: [] });
    const sent = record('queued', { client: { contract: { framework: '', signatures: [contract.signatures[0]!] } } });
    assert.equal(v3ModelSignature(sent).signatureName, 'other', 'the contract the client sent, until the version has one');
  });

  it('reads image references as Hydrosphere DockerImages', () => {
    assert.deepEqual(dockerImage('hydrosphere/serving-runtime-python-3.6:2.4.0'), { name: 'hydrosphere/serving-runtime-python-3.6', tag: '2.4.0' });
    assert.deepEqual(dockerImage('reg:5000/a/b@sha256:abc'), { name: 'reg:5000/a/b', tag: 'latest' });
    assert.deepEqual(dockerImage('reg:5000/a/b:1@sha256:abc'), { name: 'reg:5000/a/b', tag: '1' });
  });

  it('gives every field the clients require, before and after the build', () => {
    const view = (r: VersionRecord) => ({ id: 17, model: { id: 5, name: 'My.Model' }, record: r });
    for (const r of [record('queued'), record('building'), released, record('failed', { error: { code: 'INVALID_MODEL', message: 'bad' } })]) {
      const mv = presentModelVersion(view(r));
      assertHydrosdk2ModelVersion(mv);
      assertHydrosdk3ModelVersion(mv);
      assertV1ModelBuild(presentModelBuild(view(r), 'http://x/logs'));
    }
    // HYDROSPHERE.md: image is {name, tag, sha256}; before the push its digest is not known yet.
    assert.deepEqual(presentModelVersion(view(record('queued'))).image, { name: 'm', tag: '3', sha256: null });
    const mv = presentModelVersion(view(released));
    assert.deepEqual(mv.image, { name: 'reg:5000/ns/m', tag: '3', sha256: 'a'.repeat(64) });
    assert.deepEqual(mv.runtime, { name: 'reg:5000/runtimes/python', tag: '3.11', sha256: 'b'.repeat(64) });
    assert.equal(mv.finished, '2026-01-01T00:02:00.000Z');
    assert.equal(mv.model.name, 'My.Model');
    const build = presentModelBuild(view(released), 'http://x/logs');
    assert.equal(build.modelVersion?.imageSHA256, 'a'.repeat(64));
    assert.equal(presentModelBuild(view(record('failed', { error: { code: 'INVALID_MODEL', message: 'bad' } })), '').statusText, 'bad');
  });
});
