import type { IncomingHttpHeaders } from 'node:http';
import { Readable, Transform } from 'node:stream';
import { request, type Dispatcher } from 'undici';

/** One outbound HTTP exchange. Redirects are never followed; the caller decides. */
export interface HttpRequest {
  method: string;
  url: URL;
  headers?: Record<string, string>;
  /** A buffer, or a stream opened for this one attempt (sent chunked unless content-length is set). */
  body?: Buffer | string | Readable;
  signal?: AbortSignal;
  /** Sees every chunk of a streamed body on its way out (hashing in the same pass). */
  onChunk?: (chunk: Buffer) => void;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Readable;
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

/**
 * Sends one request through `dispatcher` (an Agent from createAgent). Network faults reject with
 * undici's or Node's error (its `code` says which: ECONNREFUSED, UND_ERR_HEADERS_TIMEOUT, …); a
 * failing body stream rejects with BodyStreamError; an abort with the signal's reason. An answer
 * the server sends before it has read the whole body (401, 413…) is returned as that answer.
 */
export async function send(dispatcher: Dispatcher, req: HttpRequest): Promise<HttpResponse> {
  const body = req.body instanceof Readable ? tap(req.body, req.onChunk) : req.body;
  try {
    const res = await request(req.url, {
      method: req.method as Dispatcher.HttpMethod,
      headers: req.headers,
      body,
      signal: req.signal,
      dispatcher,
    });
    return wrap(res.statusCode, res.headers as IncomingHttpHeaders, res.body);
  } catch (err) {
    if (body instanceof Readable && !body.destroyed) body.destroy();
    if (req.signal?.aborted) throw req.signal.reason;
    throw err;
  }
}

/** The body as sent: a source failure becomes a BodyStreamError; closing it closes the source. */
function tap(source: Readable, onChunk?: (chunk: Buffer) => void): Readable {
  const out = new Transform({
    transform(chunk: Buffer, _enc, done) {
      onChunk?.(chunk);
      done(null, chunk);
    },
  });
  source.once('error', (err) => out.destroy(new BodyStreamError(err)));
  out.once('close', () => {
    if (!source.destroyed) source.destroy();
  });
  source.pipe(out);
  return out;
}

function wrap(status: number, headers: IncomingHttpHeaders, body: Readable): HttpResponse {
  const buffer = async (limit = 1024 * 1024): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of body as AsyncIterable<Buffer>) {
      chunks.push(chunk.subarray(0, limit - total));
      total += chunk.length;
      if (total >= limit) {
        body.destroy();
        break;
      }
    }
    return Buffer.concat(chunks);
  };
  return {
    status,
    headers,
    body,
    header(name: string) {
      const v = headers[name.toLowerCase()];
      return Array.isArray(v) ? v.join(', ') : v;
    },
    buffer,
    text: async (limit?: number) => (await buffer(limit)).toString('utf8'),
    drain: async () => {
      if (body.readableEnded || body.destroyed) return;
      body.resume();
      await new Promise<void>((resolve) => {
        body.once('end', resolve);
        body.once('close', resolve);
        body.once('error', () => resolve());
      });
    },
  };
}
