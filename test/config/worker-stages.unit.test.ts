import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';

describe('MLL_WORKER_STAGES', () => {
  it('runs every worker by default', () => {
    assert.deepEqual(loadConfig({}).workerStages, ['extract', 'build', 'push', 'webhooks']);
  });

  it('takes a comma-separated subset, trimmed and without repeats', () => {
    assert.deepEqual(loadConfig({ MLL_WORKER_STAGES: ' build, push ,build' }).workerStages, ['build', 'push']);
  });

  it('names the unknown stage and the accepted ones', () => {
    assert.throws(() => loadConfig({ MLL_WORKER_STAGES: 'extract,bild' }), (err: Error) => {
      assert.match(err.message, /MLL_WORKER_STAGES="extract,bild": must name one or more of extract, build, push, webhooks \(comma-separated\); unknown: bild/);
      return true;
    });
  });

  it('refuses an empty list', () => {
    assert.throws(() => loadConfig({ MLL_WORKER_STAGES: ' , ' }), /MLL_WORKER_STAGES=" , ": must name one or more of/);
  });
});
