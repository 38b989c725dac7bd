import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redisKeys, slotGroups } from '../../src/catalog/redis-keys.js';
import { assertSlotSafe, keySlot } from '../../src/redis/slots.js';

describe('the Redis key layout is slot-safe for Redis Cluster', () => {
  it('puts every group of keys used together in one slot, and spreads models over slots', () => {
    const k = redisKeys('mll');
    assert.doesNotThrow(() => assertSlotSafe(slotGroups(k)));
    // The per-model tag spreads models over the cluster; the global index has a slot of its own.
    const slots = new Set(['a', 'b', 'c', 'd', 'e', 'f'].map((m) => keySlot(k.version(m, 1))));
    assert.ok(slots.size >= 5, `six models use ${slots.size} slots`);
    assert.equal(keySlot(k.version('a', 1)), keySlot(k.version('a', 999)));
    assert.notEqual(keySlot(k.models()), keySlot(k.queuePrefix + ':stage-build:wait'));
  });

  it('names the broken pattern at start-up when a key of a script leaves its slot', () => {
    const k = redisKeys('mll');
    const broken = { ...k, version: (model: string, version: number) => `mll:v:${model}:${version}` };
    assert.throws(() => assertSlotSafe(slotGroups(broken)), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'INTERNAL');
      assert.match(err.message, /would cross Redis Cluster slots \(CROSSSLOT\)/);
      assert.match(err.message, /version cache \(catalog cache script\): mll:v:<model>:<version> \(slot \d+\), \{mll:m:<model>\}:versions \(slot \d+\)/);
      assert.doesNotMatch(err.message, /catalogue indexes/, 'only the broken group is named');
      return true;
    });
  });

  it('catches a queue prefix without a hash tag (BullMQ scripts span the stage queues)', () => {
    const broken = { ...redisKeys('mll'), queuePrefix: 'mll' };
    assert.throws(() => assertSlotSafe(slotGroups(broken)), /a version's flow \(BullMQ scripts across the stage queues\): mll:stage-chain:wait/);
  });
});
