import assert from 'node:assert/strict';
import { it } from 'node:test';
import { raceSameVersion, reindexAfterRetainedFailure } from './scenarios.js';

it('two workers racing the same versions release each once, with every stage recorded (record compare-and-swap)', async () => {
  const r = await raceSameVersion(3);
  assert.equal(r.released, 3, JSON.stringify(r));
  assert.equal(r.notes.incompleteRecords, 0, JSON.stringify(r));
  assert.equal(r.duplicated, 0, JSON.stringify(r));
  assert.equal(r.lost, 0);
  assert.equal(r.notes.tags, 3);
});

it('mll reindex runs a version again whose failed jobs are still kept under the same ids', async () => {
  const r = await reindexAfterRetainedFailure();
  assert.equal(r.notes.shownWhileDown, 'failed', JSON.stringify(r.notes));
  assert.notEqual(r.notes.durableStatus, 'failed', 'the store never heard of the failure');
  assert.equal(r.notes.keptJobState, 'failed', 'the failed job was kept under its id');
  assert.deepEqual(r.notes.reindex, { status: 200, requeued: 1 });
  assert.equal(r.released, 1, JSON.stringify(r));
  assert.equal(r.lost, 0);
});
