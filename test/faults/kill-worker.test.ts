import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { killWorkerAt, killWorkerMidStage } from './scenarios.js';

describe('a worker SIGKILLed in the middle of each stage', () => {
  for (const stage of ['extract', 'build', 'push'] as const) {
    it(`completes the version exactly once after a kill mid-${stage}`, async () => {
      const r = await killWorkerMidStage(stage);
      assert.equal(r.notes.killedBy, 'SIGKILL');
      assert.equal(r.released, 1, JSON.stringify(r));
      assert.equal(r.lost, 0);
      assert.equal(r.duplicated, 0, JSON.stringify(r));
      assert.equal(r.notes.nextVersion, 2, 'version numbers go on consecutively');
      assert.deepEqual(r.notes.tags, ['1', '2'], 'one image per version');
    });
  }

  for (const point of ['registry-blob-mid', 's3-multipart-mid'] as const) {
    it(`completes the version exactly once after a kill at ${point}`, async () => {
      const r = await killWorkerAt(point);
      assert.equal(r.notes.killedBy, 'SIGKILL');
      assert.equal(r.released, 1, JSON.stringify(r));
      assert.equal(r.lost, 0);
      assert.equal(r.duplicated, 0, JSON.stringify(r));
      assert.deepEqual(r.notes.tags, ['1', '2'], 'one image per version');
    });
  }
});
