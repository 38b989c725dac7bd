import assert from 'node:assert/strict';
import { it } from 'node:test';
import { registryOutage, storeOutage } from './scenarios.js';

it('object store down: 503 on upload with nothing left behind; extraction retries and finishes; a permanent outage fails with the reason', async () => {
  const r = await storeOutage();
  assert.deepEqual(r.notes.uploadWhileDown, { status: 503, code: 'STORE_UNAVAILABLE' });
  assert.equal(r.notes.leftoverUploads, 0);
  assert.equal(r.notes.firstVersionNumber, 1, 'the refused upload spent no version number');
  assert.deepEqual(r.notes.laterStageAttempts, [1, 1], 'build and push counted their own attempts, not extract\'s');
  assert.deepEqual(r.notes.permanentOutage, { status: 'failed', code: 'STORE_UNAVAILABLE' });
  assert.equal(r.released, 1, JSON.stringify(r));
  assert.equal(r.failedWithReason, 1);
  assert.equal(r.lost, 0);
  assert.equal(r.duplicated, 0);
});

it('registry down: pushes retry (from push, extract and build not run again) and release when it is back; a permanent outage fails with the reason', async () => {
  const r = await registryOutage(2);
  assert.equal(r.released, 2, JSON.stringify(r));
  assert.deepEqual(r.notes.permanentOutage, { status: 'failed', code: 'REGISTRY_UNAVAILABLE' });
  assert.equal(r.failedWithReason, 1);
  assert.equal(r.lost, 0);
  assert.equal(r.duplicated, 0);
  assert.deepEqual(r.notes.tags, ['1', '2']);
  const retried = r.notes.retried as { attempts: Record<string, number>; extractsShown: number; buildsShown: number; statusesShown: string[] };
  assert.equal(retried.attempts.extract, 1, JSON.stringify(retried));
  assert.equal(retried.attempts.build, 1);
  assert.ok((retried.attempts.push ?? 0) >= 2, 'push was retried');
  assert.deepEqual([retried.extractsShown, retried.buildsShown], [1, 1], 'extract and build were not run again');
  const shown = retried.statusesShown;
  assert.ok(shown.includes('pushing') && !shown.slice(shown.indexOf('pushing')).includes('building'), `shown while push retried: ${shown.join(' → ')}`);
});
