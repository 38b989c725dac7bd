import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';

/**
 * A small HTTP client on node:http: streamed bodies with backpressure and an exact Content-Length,
 * keep-alive, a socket idle timeout, and abort by signal. Registry semantics live in client.ts.
 */
export interface HttpRequest {
  method: string;
  url: URL;
  headers?: Record<string, string>;
  /** A buffer, or a stream opened for this one attempt. */
  body?: Buffer | Readable;
  signal?: AbortSignal;
  /** Socket inactivity before the request fails with ETIMEDOUT. */
  idleTimeoutMs?: number;
  /** Sees every chunk of a streamed body on its way out (hashing in the same pass). */
  onChunk?: (chunk: Buffer) => void;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
  header(name: string): string | undefined;
  /** Reads the body as text, at most `limit` bytes (the rest is discarded). */
  text(limit?: number): Promise<string>;
  buffer(limit?: number): Promise<Buffer>;
  /** Discards the body so the connection can be reused. */
  drain(): Promise<void>;
}

/** Raised when the request body stream failed: the fault is ours (or the store's), not the server's. */
export class BodyStreamError extends Error {
  constructor(readonly original: unknown) {
    super(original instanceof Error ? original.message : String(original), { cause: original });
    this.name = 'BodyStreamError';
  }
}

const agents = {
  http: new http.Agent({ keepAlive: true, maxSockets: 32 }),
  https: new https.Agent({ keepAlive: true, maxSockets: 32 }),
};

export function send(req: HttpRequest): Promise<HttpResponse> {
  const secure = req.url.protocol === 'https:';
  const mod = secure ? https : http;
  return new Promise<HttpResponse>((resolve, reject) => {
    let bodyFailure: unknown;
    const body = req.body;
    const request = mod.request(req.url, {
      method: req.method,
      headers: req.headers,
      agent: secure ? agents.https : agents.http,
      signal: req.signal,
    }, (res) => {
      if (body && !Buffer.isBuffer(body)) {
        // The server answered before it read everything (an error, or auth): stop sending.
        res.once('end', () => {
          if (!body.readableEnded) {
            body.destroy();
            request.destroy(); // the half-sent body makes the connection unusable
          }
        });
      }
      resolve(wrap(res));
    });
    request.setTimeout(req.idleTimeoutMs ?? 120_000, () => {
      request.destroy(Object.assign(new Error(`No response activity from ${req.url.host} within the timeout`), { code: 'ETIMEDOUT' }));
    });
    request.on('error', (err) => {
      if (body && !Buffer.isBuffer(body)) body.destroy();
      reject(bodyFailure === undefined ? err : new BodyStreamError(bodyFailure));
    });
    if (body === undefined) request.end();
    else if (Buffer.isBuffer(body)) request.end(body);
    else {
      body.once('error', (err) => {
        bodyFailure = err;
        request.destroy(err);
      });
      // Added in the same tick as pipe(), so both see every chunk.
      if (req.onChunk) body.on('data', req.onChunk);
      body.pipe(request);
    }
  });
}

function wrap(res: IncomingMessage): HttpResponse {
  const buffer = async (limit = 1024 * 1024): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of res as AsyncIterable<Buffer>) {
      if (total < limit) chunks.push(chunk.subarray(0, limit - total));
      total += chunk.length;
    }
    return Buffer.concat(chunks);
  };
  return {
    status: res.statusCode ?? 0,
    headers: res.headers,
    body: res,
    header(name: string) {
      const v = res.headers[name.toLowerCase()];
      return Array.isArray(v) ? v.join(', ') : v;
    },
    buffer,
    text: async (limit?: number) => (await buffer(limit)).toString('utf8'),
    drain: async () => {
      res.resume();
      if (res.readableEnded) return;
      await new Promise<void>((resolve) => { res.once('end', resolve); res.once('close', resolve); res.once('error', () => resolve()); });
    },
  };
}
