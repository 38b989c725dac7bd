import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Queue, Worker } from 'bullmq';
import { ActiveJobs } from '../../workers/active-jobs.js';
import { WorkerWatchdog, type WatchedWorker } from '../../workers/watchdog.js';
import { createLogger } from '../../src/log.js';

const stuckMs = 30_000;

/** A worker as the watchdog reads it: its queue, slots, state, and whether it was closed. */
function fakeWorker(name: string, concurrency = 2) {
  const state = { running: true, closing: undefined as Promise<void> | undefined, closed: 0 };
  const worker = {
    name, concurrency,
    get closing() { return state.closing; },
    isRunning: () => state.running,
    pause: async () => undefined,
    close: () => {
      state.closed += 1;
      state.closing = Promise.resolve();
      return state.closing;
    },
  } as unknown as Worker;
  return { worker, state };
}

function setup(ready: () => number | Promise<number>, paused = () => false) {
  const made: ReturnType<typeof fakeWorker>[] = [];
  const watchedOf = (): WatchedWorker => {
    const w = fakeWorker('stage-extract');
    made.push(w);
    return { worker: w.worker, jobs: new ActiveJobs(), restart: watchedOf };
  };
  const pool = [watchedOf()];
  const replaced: number[] = [];
  const queue = (() => ({ getJobCountByTypes: async () => ready(), isPaused: async () => paused() })) as unknown as (name: string) => Queue;
  const watchdog = new WorkerWatchdog(pool, { queue, logger: createLogger('silent'), stuckMs, replaced: (index) => replaced.push(index) });
  return { pool, made, replaced, watchdog };
}

describe('worker watchdog (a worker that takes no job while its queue holds ready ones is replaced)', () => {
  it('replaces a worker with free slots that started nothing while jobs were ready at every look for stuckMs', async () => {
    const { pool, made, replaced, watchdog } = setup(() => 3);
    const first = pool[0]!;
    await watchdog.check(0);
    await watchdog.check(stuckMs - 1);
    assert.equal(replaced.length, 0, 'not before stuckMs');
    await watchdog.check(stuckMs);
    assert.deepEqual(replaced, [0]);
    assert.notEqual(pool[0], first, 'the pool holds the replacement');
    await new Promise((r) => setImmediate(r));
    assert.equal(made[0]!.state.closed, 1, 'the stuck worker, running nothing, is closed');
    assert.equal(made.length, 2);
  });

  it('leaves a quiet worker alone: nothing ready, or ready only at some looks', async () => {
    let ready = 0;
    const { replaced, watchdog } = setup(() => ready);
    for (let t = 0; t <= 4 * stuckMs; t += stuckMs / 6) {
      ready = t % stuckMs === 0 ? 1 : 0; // a job now and then, taken before the next look
      await watchdog.check(t);
    }
    assert.deepEqual(replaced, []);
  });

  it('leaves a worker that starts jobs, or whose slots are all busy, alone', async () => {
    const { pool, replaced, watchdog } = setup(() => 5);
    const w = pool[0]!;
    await watchdog.check(0);
    // It started a job since the first look: the count starts over.
    let release!: () => void;
    const running = w.jobs.track(() => new Promise<void>((r) => (release = r)));
    await watchdog.check(stuckMs);
    assert.deepEqual(replaced, []);
    // One of two slots busy and nothing else started for stuckMs: stuck after all.
    // (Both busy: never stuck.)
    const second = w.jobs.track(() => new Promise<void>(() => undefined));
    void second;
    await watchdog.check(3 * stuckMs);
    assert.deepEqual(replaced, [], 'all slots busy');
    release();
    await running;
    await watchdog.check(4 * stuckMs);
    await watchdog.check(5 * stuckMs);
    assert.deepEqual(replaced, [0], 'a free slot and nothing started for stuckMs');
  });

  it('counts a look at which Redis does not answer as no jobs ready', async () => {
    let fail = false;
    const { replaced, watchdog } = setup(() => (fail ? Promise.reject(new Error('connection refused')) : 1));
    await watchdog.check(0);
    fail = true;
    await watchdog.check(stuckMs / 2);
    fail = false;
    await watchdog.check(stuckMs);
    assert.deepEqual(replaced, [], 'the count started over at the look Redis did not answer');
    await watchdog.check(2 * stuckMs);
    assert.deepEqual(replaced, [0]);
  });

  it('leaves the workers of a paused queue alone', async () => {
    const { replaced, watchdog } = setup(() => 4, () => true);
    for (let t = 0; t <= 3 * stuckMs; t += stuckMs / 6) await watchdog.check(t);
    assert.deepEqual(replaced, []);
  });
});
