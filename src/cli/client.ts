import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { CliError, ExitCode, usageError } from './errors.js';
import { readSse, type SseMessage } from '../shared/sse-reader.js';

/**
 * The ML Lambda HTTP API as the CLI uses it: JSON requests (fetch), streamed uploads (node:http,
 * chunked, so a payload is never held in memory), and server-sent event streams. Every failure
 * becomes a CliError: the API's own `code: message`, or an explanation of why the API could not
 * be reached.
 */

export type Query = Record<string, string | number | boolean | undefined | null>;

export interface ApiResponse<T> {
  status: number;
  headers: Headers;
  /** Undefined for 204 and 304. */
  body: T;
}

export interface ClientOptions {
  server: string;
  token?: string;
  userAgent?: string;
}

const networkCodes: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed while sending',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_SOCKET: 'connection closed',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_HEADERS_TIMEOUT: 'no answer in time',
  UND_ERR_BODY_TIMEOUT: 'the answer stalled',
  ERR_STREAM_PREMATURE_CLOSE: 'connection closed early',
};

function causeCode(err: unknown): string | undefined {
  let e = err as { code?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 5; depth++) {
    if (typeof e.code === 'string') return e.code;
    e = e.cause as typeof e;
  }
  return undefined;
}

export function isAbort(err: unknown): boolean {
  const name = (err as Error | undefined)?.name;
  return name === 'AbortError' || name === 'TimeoutError';
}

export class ApiClient {
  readonly server: string;
  private readonly base: URL;
  private readonly token: string | undefined;
  private readonly userAgent: string;

  constructor(options: ClientOptions) {
    let base: URL;
    try {
      base = new URL(options.server);
    } catch {
      throw usageError(`--server "${options.server}" is not a URL; use e.g. http://127.0.0.1:8080 (or set MLL_SERVER)`);
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw usageError(`--server "${options.server}" must be an http:// or https:// URL`);
    }
    this.base = base;
    this.server = base.href.replace(/\/+$/, '');
    this.token = options.token || undefined;
    this.userAgent = options.userAgent ?? 'mll';
  }

  url(path: string, query: Query = {}): URL {
    const url = new URL(`${this.base.pathname.replace(/\/+$/, '')}${path}`, this.base);
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
    return url;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return {
      'user-agent': this.userAgent,
      accept: 'application/json',
      ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
      ...extra,
    };
  }

  /** Why the API could not be reached, in words, with what to do about it. */
  networkError(err: unknown): CliError {
    const code = causeCode(err);
    const why = (code && networkCodes[code]) ?? (err as Error)?.message ?? String(err);
    return new CliError('UNREACHABLE', `cannot reach the ML Lambda API at ${this.server} (${why}); is it running? set --server or MLL_SERVER`, {
      exitCode: ExitCode.UNAVAILABLE, details: code ? { code } : undefined, cause: err,
    });
  }

  /** The API's error body as a CliError; 5xx and 429 mean "try later" (exit 3). */
  apiError(status: number, text: string): CliError {
    const exitCode = status >= 500 || status === 429 ? ExitCode.UNAVAILABLE : ExitCode.FAILED;
    try {
      const { error } = JSON.parse(text) as { error?: { code?: string; message?: string; details?: unknown } };
      if (error?.code && error.message) {
        const hint = error.code === 'UNAUTHORIZED' ? (this.token ? ' (the token given was refused)' : ' (give one with --token or MLL_TOKEN)') : '';
        return new CliError(error.code, `${error.message}${hint}`, { status, details: error.details, exitCode });
      }
    } catch {
      /* not the API's error shape */
    }
    const snippet = text.replace(/\s+/g, ' ').trim().slice(0, 200);
    return new CliError(`HTTP_${status}`, `the server at ${this.server} answered ${status}${snippet ? `: ${snippet}` : ''} (is --server an ML Lambda API?)`, { status, exitCode });
  }

  async request<T>(method: string, path: string, options: { query?: Query; json?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<ApiResponse<T>> {
    const headers = this.headers(options.headers);
    let body: string | undefined;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] = 'application/json';
    }
    let res: Response;
    try {
      res = await fetch(this.url(path, options.query), { method, headers, body, signal: options.signal });
    } catch (err) {
      if (isAbort(err)) throw err;
      throw this.networkError(err);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      if (isAbort(err)) throw err;
      throw this.networkError(err);
    }
    if (res.status >= 400) throw this.apiError(res.status, text);
    if (res.status === 204 || res.status === 304 || text === '') return { status: res.status, headers: res.headers, body: undefined as T };
    try {
      return { status: res.status, headers: res.headers, body: JSON.parse(text) as T };
    } catch {
      throw new CliError('BAD_RESPONSE', `the server at ${this.server} answered ${method} ${path} with something that is not JSON (is --server an ML Lambda API?)`, { exitCode: ExitCode.UNAVAILABLE });
    }
  }

  async get<T>(path: string, query?: Query, signal?: AbortSignal): Promise<T> {
    return (await this.request<T>('GET', path, { query, signal })).body;
  }

  /**
   * Sends a streamed body (chunked) and returns the parsed JSON answer. When the server answers
   * an error before the body is through, sending stops at once and that answer is what counts.
   */
  async send<T>(method: string, path: string, options: { query?: Query; headers?: Record<string, string>; body: Readable; signal?: AbortSignal }): Promise<ApiResponse<T>> {
    try {
      return await this.sendOnce<T>(method, path, options);
    } catch (err) {
      const code = err instanceof CliError ? causeCode(err.cause) : undefined;
      if (code !== 'EPIPE' && code !== 'ECONNRESET') throw err;
      throw (await this.whyRefused(method, path, options.headers)) ?? err;
    }
  }

  /**
   * The server closed the connection while the body was going out: usually a refusal answered
   * before the body was read (401, 403, 429, 413…) whose answer was lost with the connection.
   * The same request with an empty JSON body, which creates nothing, gets that answer again.
   */
  private async whyRefused(method: string, path: string, headers: Record<string, string> = {}): Promise<CliError | null> {
    const { 'content-type': _type, 'idempotency-key': _key, ...rest } = headers;
    try {
      await this.request(method, path, { json: {}, headers: rest });
    } catch (err) {
      if (err instanceof CliError && err.code !== 'BAD_REQUEST' && err.code !== 'UNREACHABLE') return err;
    }
    return null;
  }

  private sendOnce<T>(method: string, path: string, options: { query?: Query; headers?: Record<string, string>; body: Readable; signal?: AbortSignal }): Promise<ApiResponse<T>> {
    const url = this.url(path, options.query);
    const transport = url.protocol === 'https:' ? https : http;
    const { body } = options;
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        body.unpipe();
        body.destroy();
        req.destroy();
        reject(err);
      };
      let answered = false;
      const req = transport.request(url, { method, headers: this.headers(options.headers), signal: options.signal });
      req.on('response', (res) => {
        answered = true;
        if ((res.statusCode ?? 0) >= 400) {
          body.unpipe(req);
          body.destroy();
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => fail(this.networkError(err)));
        res.on('end', () => {
          if (settled) return;
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
          if (status >= 400) return fail(this.apiError(status, text));
          settled = true;
          req.destroy();
          try {
            resolve({ status, headers, body: (text ? JSON.parse(text) : undefined) as T });
          } catch {
            reject(new CliError('BAD_RESPONSE', `the server at ${this.server} answered ${method} ${path} with something that is not JSON`, { exitCode: ExitCode.UNAVAILABLE }));
          }
        });
      });
      req.on('error', (err) => {
        if (isAbort(err)) return fail(err);
        // A server that answers early (401, 413, …) and closes makes the write fail with EPIPE or
        // ECONNRESET, sometimes just before its answer is read: give the answer a moment to win.
        if (answered) return;
        setTimeout(() => {
          if (!answered) fail(this.networkError(err));
        }, 300);
      });
      body.on('error', (err) => fail(err));
      body.pipe(req);
    });
  }

  /**
   * A server-sent event stream. Ends when the server closes it; network failures raise
   * UNREACHABLE (the caller decides whether to reconnect with the last event id).
   */
  async *events(path: string, options: { lastEventId?: string; signal?: AbortSignal } = {}): AsyncGenerator<SseMessage> {
    const headers = this.headers({ accept: 'text/event-stream' });
    if (options.lastEventId) headers['last-event-id'] = options.lastEventId;
    let res: Response;
    try {
      res = await fetch(this.url(path), { headers, signal: options.signal });
    } catch (err) {
      if (isAbort(err)) throw err;
      throw this.networkError(err);
    }
    if (res.status >= 400) throw this.apiError(res.status, await res.text().catch(() => ''));
    if (!res.body || !(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
      await res.body?.cancel().catch(() => undefined);
      throw new CliError('BAD_RESPONSE', `the server at ${this.server} did not answer ${path} with an event stream`, { exitCode: ExitCode.UNAVAILABLE });
    }
    try {
      yield* readSse(res.body as unknown as AsyncIterable<Uint8Array>);
    } catch (err) {
      if (isAbort(err)) throw err;
      throw this.networkError(err);
    } finally {
      await res.body.cancel().catch(() => undefined);
    }
  }
}
