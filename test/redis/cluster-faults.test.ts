import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nothingLost, refusalsAreRetryable, show } from './report.js';
import { killMasterMidBatch, nodesDownAtStartup, reshardDuringBatch } from './scenarios.js';

describe('Redis Cluster faults (a private 3-master / 3-replica cluster each)', () => {
  it('a master SIGKILLed mid-batch: its replica is promoted and every version completes exactly once', async (t) => {
    const r = await killMasterMidBatch();
    show(t, r);
    nothingLost(r, 9);
    refusalsAreRetryable(r);
    assert.notEqual(r.notes.killed, r.notes.promoted);
    assert.equal(r.notes.nextVersion, 4, 'numbers go on after the failover');
  });

  it('nodes down at start-up: a dead seed does not matter, a dead shard stops the start with what to do, and its loss is rebuilt', async (t) => {
    const r = await nodesDownAtStartup();
    show(t, r);
    assert.deepEqual(r.notes.withSeedDown, { released: 2, lost: 0 });
    const shardDown = r.notes.shardDown as { code: string; message: string; afterMs: number };
    assert.equal(shardDown.code, 'QUEUE_UNAVAILABLE', JSON.stringify(shardDown));
    assert.match(shardDown.message, /Redis Cluster \(seed nodes .*\) is not usable after 1500 ms \(MLL_REDIS_WAIT_MS\): cluster_state is fail/);
    assert.ok(shardDown.message.includes(`master ${r.notes.shardDownNode as string} (slots `), shardDown.message);
    assert.match(shardDown.message, /is down and no replica has taken over.*Start the missing node/);
    assert.ok(shardDown.afterMs < 10_000, `gave up after ${shardDown.afterMs} ms`);
    assert.match((r.notes.noSeedAnswers as { message: string }).message, /none of the seed nodes answers \(127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+\): start them, or fix REDIS_URL/);
    nothingLost(r, 3);
    assert.equal(r.notes.nextVersion, 3, 'the counter is rebuilt from the store: no number is reused');
  });

  it('resharding under load (MOVED/ASK): every slot of the queue master moves while uploads come; nothing lost', async (t) => {
    const r = await reshardDuringBatch();
    show(t, r);
    assert.equal(r.notes.queueSlotNowOn, r.notes.queueSlotMovedTo, 'the queues really moved');
    assert.ok((r.notes.uploadsDuringReshard as number) >= 2, JSON.stringify(r.notes));
    const redirections = r.notes.redirections as Record<string, number>;
    assert.ok((redirections.MOVED ?? 0) + (redirections.ASK ?? 0) > 0, `clients were redirected: ${JSON.stringify(redirections)}`);
    nothingLost(r, r.attempted);
    assert.ok(r.attempted >= 6);
    refusalsAreRetryable(r);
  });
});
