import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nothingLost, refusalsAreRetryable, show } from './report.js';
import { sentinelFailover } from './scenarios.js';

describe('Redis Sentinel faults (a private master, replica and three sentinels)', () => {
  it('the master SIGKILLed mid-batch: the sentinels promote the replica and every version completes exactly once', async (t) => {
    const r = await sentinelFailover();
    show(t, r);
    nothingLost(r, 6);
    refusalsAreRetryable(r);
    assert.equal(r.notes.nextVersion, 4);
  });
});
