import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createHttpSink } from '../../src/webhooks/http-sink.js';
import { decideError, decideResponse } from '../../src/webhooks/retry.js';
import { generateSecret, signedHeaders, verify } from '../../src/webhooks/signature.js';
import type { WebhookSink } from '../../src/webhooks/sink.js';
import { closedPort, startReceiver, type Answer, type Receiver } from './receiver.js';

/**
 * The WebhookSink port, held to one suite whatever the adapter: every adapter delivers the signed
 * bytes and headers unchanged, reports any HTTP answer (status, Retry-After, the start of the body)
 * as a response and never follows it, and throws on timeouts (TimeoutError) and network faults.
 * It runs against a real HTTP receiver on loopback.
 */
function sinkConformance(name: string, makeSink: () => WebhookSink): void {
  describe(`WebhookSink conformance: ${name}`, () => {
    let sink: WebhookSink;
    let rx: Receiver;
    let answer: (index: number) => Answer = () => ({ status: 204 });
    before(async () => {
      sink = makeSink();
      rx = await startReceiver((_req, i) => answer(i));
    });
    after(async () => {
      sink.close();
      await rx.close();
    });

    const secret = generateSecret();
    const event = (type: string) => {
      const body = Buffer.from(JSON.stringify({ type, data: { model: 'm', version: 1, note: 'naïve ✓' } }));
      return { body, headers: signedHeaders(secret, `evt_${type}`, body) };
    };

    it('delivers the exact signed bytes with the Standard Webhooks headers, as a JSON POST', async () => {
      answer = () => ({ status: 200, body: 'thanks' });
      const { body, headers } = event('version.released');
      const before = rx.requests.length;
      const res = await sink.send({ url: rx.url, headers, body, timeoutMs: 5000 });
      assert.equal(res.status, 200);
      assert.equal(res.bodySnippet, 'thanks');
      const req = rx.requests[before]!;
      assert.equal(req.method, 'POST');
      assert.equal(req.path, '/hooks');
      assert.ok(req.body.equals(body), 'the body arrives byte for byte');
      assert.equal(req.headers['content-type'], 'application/json');
      assert.equal(req.headers['content-length'], String(body.length));
      assert.match(req.headers['user-agent'] ?? '', /ml-lambda-webhooks/);
      assert.equal(req.headers['webhook-id'], 'evt_version.released');
      assert.deepEqual(verify(secret, req.headers, req.body), { ok: true });
      assert.equal(verify(generateSecret(), req.headers, req.body).ok, false, 'another secret does not verify');
    });

    it('reports 410 Gone as an answer (the delivery then disables the endpoint)', async () => {
      answer = () => ({ status: 410, body: 'gone for good' });
      const { body, headers } = event('gone');
      const res = await sink.send({ url: rx.url, headers, body, timeoutMs: 5000 });
      assert.equal(res.status, 410);
      assert.deepEqual(decideResponse(res.status, res.retryAfter), { kind: 'final', reason: 'the receiver answered 410 Gone; the endpoint is now disabled', disable: true });
    });

    it('reports Retry-After as sent, with 429 and 503', async () => {
      const now = Date.now();
      const date = new Date(now + 30_000).toUTCString();
      for (const [status, retryAfter] of [[429, '7'], [503, date]] as const) {
        answer = () => ({ status, headers: { 'retry-after': retryAfter } });
        const { body, headers } = event(`busy-${status}`);
        const res = await sink.send({ url: rx.url, headers, body, timeoutMs: 5000 });
        assert.equal(res.status, status);
        assert.equal(res.retryAfter, retryAfter);
        const decision = decideResponse(res.status, res.retryAfter, now);
        assert.equal(decision.kind, 'retry');
        assert.ok(decision.kind === 'retry' && decision.retryAfterMs !== undefined && Math.abs(decision.retryAfterMs - (status === 429 ? 7000 : 30_000)) <= 1000);
      }
    });

    it('does not follow a redirect, and keeps only the start of a long answer', async () => {
      const start = rx.requests.length;
      answer = (i) => (i === start ? { status: 308, headers: { location: 'http://169.254.169.254/' } } : { status: 500, body: 'x'.repeat(200_000) });
      const redirect = await sink.send({ url: rx.url, headers: {}, body: Buffer.from('{}'), timeoutMs: 5000 });
      assert.equal(redirect.status, 308);
      assert.equal(rx.requests.length, start + 1, 'one request: the redirect was not followed');
      const long = await sink.send({ url: rx.url, headers: {}, body: Buffer.from('{}'), timeoutMs: 5000 });
      assert.equal(long.status, 500);
      assert.ok(long.bodySnippet.length <= 512 && long.bodySnippet.startsWith('xxx'));
    });

    it('times out a receiver that does not answer, as a TimeoutError the delivery retries', async () => {
      const silent = http.createServer(() => { /* never answers */ });
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      try {
        const started = Date.now();
        const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/hooks`;
        await assert.rejects(sink.send({ url, headers: {}, body: Buffer.from('{}'), timeoutMs: 300 }), (err: Error) => {
          assert.equal(err.name, 'TimeoutError');
          assert.match(err.message, /no answer within 300 ms/);
          assert.equal(decideError(err).kind, 'retry');
          return true;
        });
        assert.ok(Date.now() - started < 3000);
      } finally {
        silent.closeAllConnections();
        await new Promise<void>((resolve) => silent.close(() => resolve()));
      }
    });

    it('fails on network faults with their code, retried; stops at once when its signal aborts', async () => {
      const port = await closedPort();
      await assert.rejects(sink.send({ url: `http://127.0.0.1:${port}/hooks`, headers: {}, body: Buffer.from('{}'), timeoutMs: 2000 }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'ECONNREFUSED');
        const decision = decideError(err);
        assert.equal(decision.kind, 'retry');
        assert.match(decision.kind === 'retry' ? decision.reason : '', /connection refused/);
        return true;
      });
      const controller = new AbortController();
      controller.abort(new Error('shutting down'));
      await assert.rejects(sink.send({ url: rx.url, headers: {}, body: Buffer.from('{}'), timeoutMs: 5000, signal: controller.signal }),
        (err: Error) => err.name !== 'TimeoutError');
    });
  });
}

sinkConformance('http', () => createHttpSink({ policy: { allowPrivate: true } }));
