import assert from 'node:assert/strict';
import { it } from 'node:test';
import { gracefulShutdown, twoWorkers } from './scenarios.js';

it('SIGTERM stops taking uploads, lets the running stage finish, exits, and another worker completes the version', async () => {
  const r = await gracefulShutdown();
  assert.notEqual(r.notes.uploadDuringShutdown, 202, 'no upload is accepted while shutting down');
  assert.deepEqual(r.notes.exit, { code: 0, signal: null });
  assert.equal(r.notes.buildFinishedBeforeExit, true, JSON.stringify(r.notes));
  assert.ok((r.notes.exitedAfterMs as number) >= 1000, 'it waited for the running stage');
  assert.equal(r.released, 1, JSON.stringify(r));
  assert.equal(r.lost, 0);
  assert.equal(r.duplicated, 0);
});

it('two worker processes build each version once; a duplicated job does no second piece of work', async () => {
  const r = await twoWorkers(8);
  assert.equal(r.released, 8, JSON.stringify(r));
  assert.equal(r.notes.builds, 8, 'one build per version');
  assert.deepEqual(r.notes.duplicateJobResult, { skipped: true });
  assert.equal(r.notes.tags, 8);
  assert.equal(r.lost, 0);
  assert.equal(r.duplicated, 0);
});
