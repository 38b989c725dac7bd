import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MllError } from '../../src/errors.js';
import { compareAndSwapBackoff, parseRetryAfter, RetryPolicy } from '../../src/shared/retry.js';

const err = (code: string, cause?: unknown) => Object.assign(new Error(code), { code }, cause ? { cause } : {});

describe('RetryPolicy (one policy, rules as data)', () => {
  it('retries the statuses of its table: 408, 425, 429 and every 5xx by default', () => {
    const p = new RetryPolicy();
    for (const s of [408, 425, 429, 500, 501, 502, 503, 504, 599]) assert.equal(p.decide(1, { status: s }).retry, true, String(s));
    for (const s of [200, 301, 400, 401, 403, 404, 409, 410, 413, 422]) assert.equal(p.decide(1, { status: s }).retry, false, String(s));
    const narrow = p.with({ statuses: [503] });
    assert.equal(narrow.decide(1, { status: 503 }).retry, true);
    assert.equal(narrow.decide(1, { status: 500 }).retry, false);
  });

  it('retries network faults by code, on the error or a cause, and judges MllErrors by their catalogue', () => {
    const p = new RetryPolicy();
    for (const code of ['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ETIMEDOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_SOCKET']) {
      assert.equal(p.retryable({ error: err(code) }), true, code);
    }
    assert.equal(p.retryable({ error: new Error('wrapped', { cause: err('ECONNRESET') }) }), true);
    assert.equal(p.retryable({ error: new Error('a bug') }), false);
    assert.equal(p.retryable({ error: new MllError('REGISTRY_UNAVAILABLE', 'down') }), true);
    assert.equal(p.retryable({ error: new MllError('REGISTRY_AUTH_FAILED', 'no') }), false);
    const lenient = p.with({ otherErrors: 'retry', finalErrorCodes: ['WEBHOOK_TARGET_BLOCKED'] });
    assert.equal(lenient.retryable({ error: new Error('CERT_HAS_EXPIRED') }), true);
    assert.equal(lenient.retryable({ error: err('WEBHOOK_TARGET_BLOCKED') }), false);
  });

  it('stops when the attempts are spent', () => {
    const p = new RetryPolicy({ attempts: 3 });
    assert.equal(p.decide(2, { status: 503 }).retry, true);
    assert.deepEqual(p.decide(3, { status: 503 }), { retry: false, delayMs: 0 });
    assert.deepEqual(p.decide(1, { status: 404 }), { retry: false, delayMs: 0 });
  });

  it('backs off exponentially with jitter, capped', () => {
    const at = (random: number) => new RetryPolicy({ attempts: 10, baseDelayMs: 100, maxDelayMs: 1000 }, () => random);
    assert.equal(at(1).delay(1), 100);
    assert.equal(at(0).delay(1), 50);
    assert.equal(at(1).delay(3), 400);
    assert.equal(at(1).delay(8), 1000);
    assert.equal(at(0.5).decide(2, { error: err('ECONNRESET') }).delayMs, 150);
    const wide = new RetryPolicy({ baseDelayMs: 1000, maxDelayMs: 60_000, jitter: [0.75, 1.25] }, () => 0.999);
    assert.equal(wide.delay(3), 4998);
    assert.equal(wide.delay(30), 60_000, 'never above the cap, jitter included');
  });

  it('honours Retry-After (seconds or an HTTP date) within [base, retryAfterMaxMs]', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    const p = new RetryPolicy({ baseDelayMs: 200, maxDelayMs: 1000, retryAfterMaxMs: 30_000 }, () => 1, () => now);
    assert.equal(p.decide(1, { status: 429, retryAfter: '7' }).delayMs, 7000, 'above the backoff cap: the server knows best');
    assert.equal(p.decide(1, { status: 503, retryAfter: 'Wed, 01 Jan 2025 00:00:20 GMT' }).delayMs, 20_000);
    assert.equal(p.decide(1, { status: 503, retryAfter: '3600' }).delayMs, 30_000, 'capped');
    assert.equal(p.decide(1, { status: 503, retryAfter: '0' }).delayMs, 200, 'never below the base');
    assert.equal(p.decide(1, { status: 503, retryAfter: 'soon' }).delayMs, 200, 'unreadable: the backoff');
    assert.equal(parseRetryAfter('Tue, 31 Dec 2024 00:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter(undefined, now), undefined);
  });

  it('run() retries transient faults, stops at the first permanent one, and waits what the error says', async () => {
    const p = new RetryPolicy({ attempts: 4, baseDelayMs: 1, maxDelayMs: 4, retryAfterMaxMs: 1000 });
    let calls = 0;
    assert.equal(await p.run(async () => {
      calls++;
      if (calls < 3) throw new MllError('REGISTRY_UNAVAILABLE', 'down');
      return 'ok';
    }), 'ok');
    assert.equal(calls, 3);
    calls = 0;
    await assert.rejects(p.run(async () => { calls++; throw new MllError('REGISTRY_AUTH_FAILED', 'no'); }), { code: 'REGISTRY_AUTH_FAILED' });
    assert.equal(calls, 1);
    calls = 0;
    await assert.rejects(p.run(async () => { calls++; throw new MllError('REGISTRY_UNAVAILABLE', 'down'); }), { code: 'REGISTRY_UNAVAILABLE' });
    assert.equal(calls, 4);
    const delays: number[] = [];
    calls = 0;
    await p.run(async () => {
      if (calls++ === 0) throw new MllError('REGISTRY_UNAVAILABLE', 'busy', { details: { retryAfter: '1' } });
    }, { onRetry: (_e, _a, delayMs) => delays.push(delayMs) });
    assert.deepEqual(delays, [1000]);
  });

  it('run() with retryIf judges errors by it alone, within the same attempts and delays', async () => {
    const p = new RetryPolicy({ attempts: 3, baseDelayMs: 1, maxDelayMs: 2 });
    const moved = new Error('EXECABORT Transaction discarded because of previous errors.');
    let calls = 0;
    assert.equal(await p.run(async () => { if (calls++ === 0) throw moved; return 'added'; }, { retryIf: (e) => e === moved }), 'added');
    assert.equal(calls, 2);
    calls = 0;
    await assert.rejects(p.run(async () => { calls++; throw moved; }, { retryIf: (e) => e === moved }), (e) => e === moved);
    assert.equal(calls, 3, 'gives up after the policy\'s attempts');
    calls = 0;
    await assert.rejects(p.run(async () => { calls++; throw new MllError('REGISTRY_UNAVAILABLE', 'down'); }, { retryIf: (e) => e === moved }), { code: 'REGISTRY_UNAVAILABLE' });
    assert.equal(calls, 1, 'what retryIf refuses is final, even an error the policy would retry');
  });

  it('run() stops waiting when its signal aborts, with the signal\'s reason', async () => {
    const p = new RetryPolicy({ attempts: 5, baseDelayMs: 10_000, maxDelayMs: 10_000 });
    const controller = new AbortController();
    const reason = new Error('shutting down');
    const started = Date.now();
    setTimeout(() => controller.abort(reason), 50);
    await assert.rejects(p.run(async () => { throw err('ECONNRESET'); }, { signal: controller.signal }), (e) => e === reason);
    assert.ok(Date.now() - started < 5000);
  });
});

describe('compareAndSwapBackoff', () => {
  it('waits 10 ms doubling to 250 ms, times a uniform [0, 1]', () => {
    const at = (random: number) => new RetryPolicy(compareAndSwapBackoff.rules, () => random);
    assert.equal(at(1).delay(1), 10);
    assert.equal(at(1).delay(3), 40);
    assert.equal(at(1).delay(10), 250);
    assert.equal(at(0).delay(5), 0);
    assert.equal(at(0.5).delay(2), 10);
  });
});
