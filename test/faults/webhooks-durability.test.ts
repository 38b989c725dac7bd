import assert from 'node:assert/strict';
import { it } from 'node:test';
import { webhooksAcrossRedisLoss } from './scenarios.js';

it('webhook events reach the receiver once each across a kill before the relay, a receiver outage and Redis restarted empty', async () => {
  const r = await webhooksAcrossRedisLoss(3);
  assert.equal(r.notes.killedBeforeRelay, true, 'the first event had not been sent when its process was killed');
  assert.deepEqual(r.webhooks, { delivered: 3, expected: 3 }, JSON.stringify(r));
  assert.deepEqual(r.notes.unexpectedIds, [], 'every request carried the event id as webhook-id');
  assert.equal(r.duplicated, 0, 'no event was answered 2xx twice');
  assert.equal(r.released, 3);
  assert.equal(r.lost, 0);
});
