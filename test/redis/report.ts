import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { RedisFaultReport } from './scenarios.js';

/** Every refusal a client saw was a 503 that says to retry (or a lost connection): never a 500, never a 4xx. */
export function refusalsAreRetryable(r: RedisFaultReport): void {
  for (const refusal of r.refusals) {
    if (refusal.status === 'no answer') continue;
    assert.equal(refusal.status, 503, JSON.stringify(refusal));
    assert.equal(refusal.code, 'QUEUE_UNAVAILABLE', JSON.stringify(refusal));
    assert.match(refusal.message ?? '', /retry/i);
  }
}

/** The report in the test output: timings and what clients saw, for the fault table. */
export function show(t: TestContext, r: RedisFaultReport): void {
  const { fault, attempted, released, failedWithReason, lost, duplicated, notes } = r;
  t.diagnostic(JSON.stringify({ fault, attempted, released, failedWithReason, lost, duplicated, refusals: r.refusals.length, notes }));
}

export function nothingLost(r: RedisFaultReport, expected: number): void {
  assert.equal(r.attempted, expected, JSON.stringify(r));
  assert.equal(r.released, expected, JSON.stringify(r));
  assert.equal(r.lost, 0, JSON.stringify(r));
  assert.equal(r.duplicated, 0, JSON.stringify(r));
}

