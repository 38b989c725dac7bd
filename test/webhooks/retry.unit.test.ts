import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideError, decideResponse, deliveryRetryPolicy, parseRetryAfter } from '../../src/webhooks/retry.js';
import { TargetBlockedError } from '../../src/shared/http/address-policy.js';

describe('webhook retry policy', () => {
  it('succeeds on 2xx only', () => {
    for (const s of [200, 201, 204, 299]) assert.equal(decideResponse(s, undefined).kind, 'delivered');
    for (const s of [301, 302, 400, 401, 403, 404, 422]) assert.equal(decideResponse(s, undefined).kind, 'final', String(s));
  });

  it('retries 408, 429 and 5xx; 410 disables', () => {
    for (const s of [408, 429, 500, 502, 503, 504]) assert.equal(decideResponse(s, undefined).kind, 'retry', String(s));
    assert.deepEqual(decideResponse(410, undefined), { kind: 'final', reason: 'the receiver answered 410 Gone; the endpoint is now disabled', disable: true });
    assert.match((decideResponse(302, undefined) as { reason: string }).reason, /redirects are not followed/);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('7', now), 7000);
    assert.equal(parseRetryAfter(' 0 ', now), 0);
    assert.equal(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Tue, 31 Dec 2024 00:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
    assert.deepEqual(decideResponse(429, '3', now), { kind: 'retry', reason: 'the receiver answered 429', retryAfterMs: 3000 });
  });

  it('backs off exponentially with jitter, capped; Retry-After replaces it within [base, cap]', () => {
    const s = { baseMs: 1000, maxMs: 60_000 };
    const retryDelay = (retry: number, retryAfterMs?: number, random?: () => number) => deliveryRetryPolicy(s, random).delay(retry, retryAfterMs);
    assert.equal(retryDelay(1, undefined, () => 0.5), 1000);
    assert.equal(retryDelay(3, undefined, () => 0.5), 4000);
    assert.equal(retryDelay(3, undefined, () => 0), 3000);
    assert.equal(retryDelay(3, undefined, () => 0.999), 4998);
    assert.equal(retryDelay(30, undefined, () => 0.999), 60_000);
    assert.equal(retryDelay(1, 5000), 5000);
    assert.equal(retryDelay(1, 10), 1000);
    assert.equal(retryDelay(1, 3_600_000), 60_000);
  });

  it('retries network faults and timeouts, not refused targets', () => {
    assert.equal(decideError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })).kind, 'retry');
    assert.equal(decideError(new TargetBlockedError('x.example', '10.0.0.1', 'private')).kind, 'final');
  });
});
