import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { shutdownBoundMs, sigtermWithOutage, type OutageKind } from './scenarios.js';

describe('SIGTERM always ends the process, whatever is down', () => {
  for (const kind of ['redis', 'store', 'registry'] as OutageKind[]) {
    it(`exits within the grace period with ${kind} down, logs the outage once, and another worker finishes the version`, async () => {
      const graceMs = 3000;
      const r = await sigtermWithOutage(kind, graceMs);
      assert.equal(r.hung, 0, `still running ${graceMs + shutdownBoundMs} ms after SIGTERM: ${JSON.stringify(r.notes)}`);
      assert.deepEqual(r.notes.exit, { code: 0, signal: null });
      assert.ok((r.notes.exitedAfterMs as number) <= graceMs + shutdownBoundMs, JSON.stringify(r.notes));
      assert.ok((r.notes.logLinesAfterSignal as number) <= 12, `${r.notes.logLinesAfterSignal as number} log lines after SIGTERM`);
      assert.equal(r.released, 1, JSON.stringify(r));
      assert.equal(r.lost, 0);
      assert.equal(r.duplicated, 0);
    });
  }
});
