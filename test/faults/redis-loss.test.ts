import assert from 'node:assert/strict';
import { it } from 'node:test';
import { redisMode } from '../support/services.js';
import { loseRedis } from './scenarios.js';

// It runs a single Redis of its own to kill; the Cluster's own faults are in test/redis/.
const skip = redisMode() === 'single' ? false : 'needs a single Redis of its own (the Cluster faults are in test/redis/)';

it('rebuilds from the object store when Redis restarts empty, running or at start-up; no number is reused', { skip }, async () => {
  const r = await loseRedis(3);
  assert.equal(r.lost, 0, JSON.stringify(r));
  assert.equal(r.duplicated, 0, JSON.stringify(r));
  assert.equal(r.released, 4, JSON.stringify(r));
  assert.equal(r.notes.nextVersion, 4);
  assert.equal(r.notes.versionAfterRestart, 5);
  assert.equal(r.notes.versionsListed, 5);
});
