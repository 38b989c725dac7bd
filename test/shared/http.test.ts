import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { BodyStreamError, createAgent, send, type Resolver } from '../../src/shared/http/index.js';

const MiB = 1024 * 1024;

async function listen(handler: http.RequestListener): Promise<{ server: http.Server; url: (p?: string) => URL; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: (p = '/') => new URL(`http://127.0.0.1:${port}${p}`),
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

function slowBody(total: number, chunk = 64 * 1024): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) return this.push(null);
      sent += chunk;
      setImmediate(() => this.push(Buffer.alloc(chunk, 1)));
    },
  });
}

describe('the outbound HTTP layer (undici)', () => {
  const agent = createAgent({ headersTimeoutMs: 500, bodyTimeoutMs: 500 });
  after(() => agent.close());

  describe('a server that answers before it reads the body', () => {
    let srv: Awaited<ReturnType<typeof listen>>;
    before(async () => {
      // As the API does: answer at once, read (and drop) a little more, then cut the connection.
      srv = await listen((req, res) => {
        let seen = 0;
        req.on('data', (c: Buffer) => { seen += c.length; if (seen > 4 * MiB) req.socket.destroy(); });
        res.writeHead(req.url === '/auth' ? 401 : 413, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: req.url === '/auth' ? 'UNAUTHORIZED' : 'PAYLOAD_TOO_LARGE' } }));
      });
    });
    after(() => srv.close());

    it('reports the answer (401, 413), not a broken pipe, and stops sending', async () => {
      for (const [path, status] of [['/auth', 401], ['/big', 413]] as const) {
        const body = slowBody(256 * MiB);
        const res = await send(agent, { method: 'POST', url: srv.url(path), body, headers: { 'content-type': 'application/octet-stream' } });
        assert.equal(res.status, status);
        assert.match(await res.text(), status === 401 ? /UNAUTHORIZED/ : /PAYLOAD_TOO_LARGE/);
        assert.ok(body.destroyed, 'the body is no longer read');
      }
    });
  });

  it('streams a body out, showing every chunk to onChunk, and reads the answer', async () => {
    const srv = await listen((req, res) => {
      let n = 0;
      req.on('data', (c: Buffer) => { n += c.length; });
      req.on('end', () => res.end(String(n)));
    });
    try {
      let seen = 0;
      const res = await send(agent, { method: 'PUT', url: srv.url(), body: slowBody(3 * MiB), onChunk: (c) => { seen += c.length; } });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), String(3 * MiB));
      assert.equal(seen, 3 * MiB);
    } finally {
      await srv.close();
    }
  });

  it('tells a failing body stream (ours) from a network fault (theirs)', async () => {
    const srv = await listen((req, res) => { req.resume(); req.on('end', () => res.end()); });
    try {
      const broken = new Readable({ read() { this.destroy(new Error('the store went away')); } });
      await assert.rejects(send(agent, { method: 'PUT', url: srv.url(), body: broken }), (e: unknown) => {
        assert.ok(e instanceof BodyStreamError);
        assert.equal((e.original as Error).message, 'the store went away');
        return true;
      });
    } finally {
      await srv.close();
    }
    await assert.rejects(send(agent, { method: 'GET', url: srv.url() }), { code: 'ECONNREFUSED' });
  });

  it('times out a server that never answers, and aborts by signal with its reason', async () => {
    const srv = await listen(() => { /* never answers */ });
    try {
      const started = Date.now();
      await assert.rejects(send(agent, { method: 'GET', url: srv.url() }), { code: 'UND_ERR_HEADERS_TIMEOUT' });
      assert.ok(Date.now() - started < 3000);
      const controller = new AbortController();
      const reason = new Error('stop');
      setTimeout(() => controller.abort(reason), 20);
      await assert.rejects(send(createAgent(), { method: 'GET', url: srv.url(), signal: controller.signal }), (e) => e === reason);
    } finally {
      await srv.close();
    }
  });

  it('checks every address it connects to against the address policy, IP literals included', async () => {
    const srv = await listen((_req, res) => res.end('ok'));
    const port = srv.url().port;
    const rebinding: Resolver = (_host, _opts, callback) => callback(null, [{ address: '127.0.0.1', family: 4 }]);
    const guarded = createAgent({ addressPolicy: { allowPrivate: false }, resolve: rebinding });
    const allowed = createAgent({ addressPolicy: { allowPrivate: true }, resolve: rebinding });
    try {
      await assert.rejects(send(guarded, { method: 'GET', url: new URL(`http://hooks.example:${port}/`) }),
        (e: Error & { code?: string }) => e.code === 'WEBHOOK_TARGET_BLOCKED' && /hooks\.example resolves to 127\.0\.0\.1 \(loopback\)/.test(e.message));
      await assert.rejects(send(guarded, { method: 'GET', url: srv.url() }), { code: 'WEBHOOK_TARGET_BLOCKED' });
      const res = await send(allowed, { method: 'GET', url: new URL(`http://hooks.example:${port}/`) });
      assert.equal(await res.text(), 'ok');
    } finally {
      await guarded.close();
      await allowed.close();
      await srv.close();
    }
  });
});
