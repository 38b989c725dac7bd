import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Semaphore } from '../../src/shared/semaphore.js';

describe('Semaphore: a bounded number of holders, with hooks to pause and resume a source', () => {
  it('lets `limit` in, queues the rest in order, and says when it is full and when nobody waits any more', async () => {
    const calls: string[] = [];
    const slots = new Semaphore(2, { onFull: () => calls.push('full'), onFree: () => calls.push('free') });
    await slots.acquire();
    await slots.acquire();
    assert.deepEqual(calls, []);
    const order: number[] = [];
    const third = slots.acquire().then(() => order.push(3));
    const fourth = slots.acquire().then(() => order.push(4));
    assert.deepEqual(calls, ['full'], 'full once, however many wait');
    slots.release();
    await third;
    assert.deepEqual(calls, ['full'], 'still a waiter left');
    slots.release();
    await fourth;
    assert.deepEqual(order, [3, 4]);
    assert.deepEqual(calls, ['full', 'free'], 'free as soon as the last waiter got in');
    slots.release();
    slots.release();
    assert.deepEqual(calls, ['full', 'free'], 'releases without waiters say nothing');
  });

  it('with one slot, resumes the source for the waiter that got in (it may need more of it to finish)', async () => {
    let paused = false;
    const slots = new Semaphore(1, { onFull: () => (paused = true), onFree: () => (paused = false) });
    await slots.acquire();
    const second = slots.acquire();
    assert.equal(paused, true);
    slots.release();
    await second;
    assert.equal(paused, false, 'the source flows again while the second holder works');
  });
});
