import assert from 'node:assert/strict';
import os from 'node:os';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { lowerThisThreadPriority } from '../../src/app/thread-priority.js';

describe('lowering one thread\'s CPU priority', { skip: process.platform !== 'linux' && 'threads have their own nice value on Linux only' }, () => {
  it('lowers the calling thread and leaves the rest of the process as it was', async () => {
    const before = os.getPriority();
    const moduleUrl = new URL('../../src/app/thread-priority.ts', import.meta.url).href;
    // The thread reports its own nice value after the call; the main thread's is read here.
    const script = `
      const { parentPort } = require('node:worker_threads');
      const fs = require('node:fs'); const os = require('node:os');
      import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(moduleUrl)}); }).then((m) => {
        const tid = Number(fs.readlinkSync('/proc/thread-self').split('/').pop());
        const done = m.lowerThisThreadPriority(3);
        parentPort.postMessage({ done, nice: os.getPriority(tid) });
      });`;
    const reported = await new Promise<{ done: boolean; nice: number }>((resolve, reject) => {
      const thread = new Worker(script, { eval: true });
      thread.once('message', (m: { done: boolean; nice: number }) => void thread.terminate().then(() => resolve(m)));
      thread.once('error', reject);
    });
    assert.deepEqual(reported, { done: true, nice: Math.min(19, before + 3) });
    assert.equal(os.getPriority(), before, 'the main thread keeps its priority');
  });

  it('does nothing for zero steps', () => {
    const before = os.getPriority();
    assert.equal(lowerThisThreadPriority(0), true);
    assert.equal(os.getPriority(), before);
  });
});
