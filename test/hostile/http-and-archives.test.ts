import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../support/app.js';
import { api } from '../support/client.js';
import { makeTar, ustarHeader } from '../support/tar.js';
import { uniqueName } from '../support/unique.js';

/** `count` one-byte files as a tar stream, generated lazily (100,000 files ≈ 100 MB). */
function manyFiles(count: number): Readable {
  let i = 0;
  return new Readable({
    read() {
      for (let n = 0; n < 64 && i < count; n++, i++) {
        this.push(ustarHeader(Buffer.from(`f/${i}`), 1));
        this.push(Buffer.alloc(512, 0x61));
      }
      if (i >= count) {
        this.push(Buffer.alloc(1024));
        this.push(null);
      }
    },
  });
}

describe('hostile and broken input over HTTP: a precise error, the right status, nothing left behind', () => {
  let app: TestApp;
  let model: string;
  before(async () => {
    app = await startTestApp({
      env: { MLL_MAX_UPLOAD_BYTES: String(200 * 1024 * 1024), MLL_MAX_UNPACKED_BYTES: String(64 * 1024 * 1024), MLL_HTTP_IDLE_TIMEOUT_MS: '1500', MLL_HTTP_HEADERS_TIMEOUT_MS: '1500' },
    });
    model = uniqueName('hostile');
  });
  after(() => app?.stop());

  const post = (body: BodyInit, contentType = 'application/x-tar', extra: Record<string, string> = {}) =>
    api<{ error: { code: string; message: string; details?: unknown } }>(`${app.url}/api/v1/models/${model}/versions`, {
      method: 'POST', headers: { 'content-type': contentType, ...extra }, body, ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
    } as RequestInit);

  const uploadsLeft = async () => {
    const keys: string[] = [];
    for await (const o of app.running.services.store.list('uploads/')) keys.push(o.key);
    return keys;
  };

  const expectRefused = async (res: Awaited<ReturnType<typeof post>>, status: number, code: string, message: RegExp) => {
    assert.equal(res.status, status, JSON.stringify(res.body));
    assert.deepEqual(Object.keys(res.body), ['error'], 'one error shape');
    assert.equal(res.body.error.code, code);
    assert.match(res.body.error.message, message);
    assert.deepEqual(await uploadsLeft(), [], 'nothing half-written stays behind');
  };

  it('refuses 100,000 tiny files at the entry limit, without reading them all', async () => {
    // node:http rather than fetch: the server answers as soon as it refuses and stops reading,
    // and fetch gives up on the request when its body can no longer be written.
    const res = await new Promise<{ status: number; body: { error: { code: string; message: string } } }>((resolve, reject) => {
      const req = http.request(`${app.url}/api/v1/models/${model}/versions`, { method: 'POST', headers: { 'content-type': 'application/x-tar' } }, (r) => {
        let text = '';
        r.on('data', (c: Buffer) => (text += c.toString()));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body: JSON.parse(text) }));
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err);
      });
      manyFiles(100_000).pipe(req);
    });
    assert.equal(res.status, 413);
    assert.equal(res.body.error.code, 'ARCHIVE_TOO_LARGE');
    assert.match(res.body.error.message, /more than 10000 entries \(MLL_MAX_FILES\)/);
    assert.deepEqual(await uploadsLeft(), []);
  });

  it('refuses deep nesting, over-long names and names that are not UTF-8', async () => {
    const deep = Array.from({ length: 70 }, (_, i) => `d${i}`).join('/') + '/f';
    await expectRefused(await post(new Uint8Array(await makeTar([{ name: deep, body: 'x' }]))), 422, 'UNSAFE_ARCHIVE', /nested 71 levels deep/);
    await expectRefused(await post(new Uint8Array(await makeTar([{ name: `${'n'.repeat(300)}.bin`, body: 'x' }]))), 422, 'UNSAFE_ARCHIVE', /longer than 255 bytes/);
    const latin1 = Buffer.concat([ustarHeader(Buffer.from([0x6d, 0x6f, 0x64, 0xe8, 0x6c, 0x65]), 1), Buffer.alloc(512, 0x61), Buffer.alloc(1024)]);
    await expectRefused(await post(new Uint8Array(latin1)), 422, 'UNSAFE_ARCHIVE', /not valid UTF-8/);
  });

  it('refuses hard links out of the root, devices and duplicate entries', async () => {
    await expectRefused(await post(new Uint8Array(await makeTar([{ name: 'h', type: 'link', linkname: '../../etc/shadow' }]))), 422, 'UNSAFE_ARCHIVE', /hard link/);
    await expectRefused(await post(new Uint8Array(await makeTar([{ name: 'zero', type: 'character-device' }]))), 422, 'UNSAFE_ARCHIVE', /character-device/);
    await expectRefused(await post(new Uint8Array(await makeTar([{ name: 'a', body: '1' }, { name: 'a', body: '2' }]))), 422, 'UNSAFE_ARCHIVE', /appears twice/);
  });

  it('stops a gzip bomb at the unpacked-size limit', async () => {
    const bomb = gzipSync(await makeTar([{ name: 'zeros.bin', body: Buffer.alloc(100 * 1024 * 1024) }]), { level: 9 });
    assert.ok(bomb.length < 200 * 1024);
    await expectRefused(await post(new Uint8Array(bomb), 'application/gzip'), 413, 'ARCHIVE_TOO_LARGE', /more than 67108864 bytes/);
  });

  it('answers 413 for a declared length over the limit and for a streamed body that grows past it', async () => {
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const socket = net.connect(Number(new URL(app.url).port), '127.0.0.1', () => {
        socket.write(`POST /api/v1/models/${model}/versions HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-tar\r\ncontent-length: ${300 * 1024 * 1024}\r\n\r\n`);
      });
      let text = '';
      socket.on('data', (c) => (text += c.toString()));
      socket.on('close', () => resolve({ status: Number(/HTTP\/1\.1 (\d+)/.exec(text)?.[1]), body: text.slice(text.indexOf('\r\n\r\n') + 4) }));
      socket.on('error', reject);
    });
    assert.equal(res.status, 413);
    assert.equal(JSON.parse(res.body).error.code, 'PAYLOAD_TOO_LARGE');
    // A streamed (chunked) body has no declared length: it is cut off where it passes the limit.
    const small = await startTestApp({ env: { MLL_MAX_UPLOAD_BYTES: String(8 * 1024 * 1024) } });
    try {
      const tarOf40MiB = Readable.from((function* () {
        yield ustarHeader(Buffer.from('weights.bin'), 40 * 1024 * 1024);
        for (let i = 0; i < 40; i++) yield Buffer.alloc(1024 * 1024, 1);
        yield Buffer.alloc(1024);
      })());
      const streamed = await fetch(`${small.url}/api/v1/models/${model}/versions`, {
        method: 'POST', headers: { 'content-type': 'application/x-tar' }, body: Readable.toWeb(tarOf40MiB) as ReadableStream, duplex: 'half',
      } as RequestInit).then(async (r) => ({ status: r.status, body: (await r.json()) as { error: { code: string } } }), () => ({ status: 0, body: null }));
      // The server answers 413 and closes; a client still sending may see the close instead.
      assert.ok(streamed.status === 413 || streamed.status === 0, `streamed over the limit: ${streamed.status}`);
      if (streamed.body) assert.equal(streamed.body.error.code, 'PAYLOAD_TOO_LARGE');
      const left: string[] = [];
      for await (const o of small.running.services.store.list('uploads/')) left.push(o.key);
      assert.deepEqual(left, []);
    } finally {
      await small.stop();
    }
    assert.deepEqual(await uploadsLeft(), []);
  });

  it('refuses wrong content types, malformed multipart and unknown metadata fields with 4xx', async () => {
    await expectRefused(await post('{"a":1}', 'application/json'), 400, 'BAD_REQUEST', /"upload"/);
    await expectRefused(await post('hello', 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE', /not accepted/);
    await expectRefused(await post('--x\r\nContent-Disposition: form-data; name="payload"\r\n\r\nabc', 'multipart/form-data; boundary=x'), 400, 'BAD_REQUEST', /multipart|payload/i);
    await expectRefused(await post('x', 'multipart/form-data'), 400, 'BAD_REQUEST', /multipart/i);
    const tar = new Uint8Array(await makeTar([{ name: 'serving.yaml', body: 'kind: Model\n' }]));
    const unknownQuery = await api<{ error: { code: string; message: string } }>(`${app.url}/api/v1/models/${model}/versions?colour=red`, {
      method: 'POST', headers: { 'content-type': 'application/x-tar' }, body: tar,
    });
    assert.equal(unknownQuery.status, 400);
    assert.match(unknownQuery.body.error.message, /unknown field\(s\): colour/);
    const form = new FormData();
    form.append('metadata', JSON.stringify({ description: 'x', colour: 'red' }));
    form.append('payload', new Blob([tar]), 'm.tar');
    const unknownField = await api<{ error: { code: string; message: string } }>(`${app.url}/api/v1/models/${model}/versions`, { method: 'POST', body: form });
    assert.equal(unknownField.status, 400);
    assert.equal(unknownField.body.error.code, 'INVALID_METADATA');
    assert.match(unknownField.body.error.message, /unknown field\(s\): colour/);
    assert.deepEqual(await uploadsLeft(), []);
    const notJson = await api<{ error: { code: string } }>(`${app.url}/api/v1/batches`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"items": [' });
    assert.equal(notJson.status, 400);
    assert.equal(notJson.body.error.code, 'BAD_REQUEST');
  });

  it('drops a client that stops sending, mid-headers or mid-body, and keeps nothing of it', async () => {
    const port = Number(new URL(app.url).port);
    const closedAfter = (writes: string[]) => new Promise<number>((resolve) => {
      const started = Date.now();
      const socket = net.connect(port, '127.0.0.1', () => writes.forEach((w) => socket.write(w)));
      socket.on('close', () => resolve(Date.now() - started));
      socket.on('error', () => undefined);
    });
    const headersStall = await closedAfter(['POST /api/v1/models/x/versions HTTP/1.1\r\nhost: x\r\n']);
    assert.ok(headersStall < 10_000, `closed after ${headersStall} ms`);
    const head = Buffer.from(await makeTar([{ name: 'weights.bin', body: Buffer.alloc(4096, 1) }])).subarray(0, 1024).toString('latin1');
    const bodyStall = await closedAfter([`POST /api/v1/models/${model}/versions HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-tar\r\ncontent-length: 100000\r\n\r\n`, head]);
    assert.ok(bodyStall >= 1000 && bodyStall < 10_000, `closed after ${bodyStall} ms`);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(await uploadsLeft(), []);
    const versions = await api<{ total?: number; error?: unknown }>(`${app.url}/api/v1/models/${model}/versions`);
    assert.equal(versions.status, 404, 'no version was created by any refused upload');
  });
});
