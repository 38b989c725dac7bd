import type { Readable } from 'node:stream';
import { BodyStreamError, createAgent, networkReason, send, type HttpResponse } from '../shared/http/index.js';
import { readSse, type SseMessage } from '../shared/sse-reader.js';
import { errorCode } from '../shared/transient.js';
import { CliError, ExitCode, usageError } from './errors.js';

/**
 * The ML Lambda HTTP API as the CLI uses it, over the shared HTTP layer: JSON requests, streamed
 * uploads (chunked, so a payload is never held in memory; an answer the API gives before it has
 * read the body — 401, 413, 429 — is reported as that answer), and server-sent event streams.
 * Every failure becomes a CliError: the API's own `code: message`, or an explanation of why the
 * API could not be reached.
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

/** Longest JSON answer read (model lists, batch views). */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

// Event streams send a heartbeat every 15 s: a minute of silence is a dead connection.
const agent = createAgent({ connectTimeoutMs: 10_000, headersTimeoutMs: 120_000, bodyTimeoutMs: 60_000, connections: 16 });

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
    const code = errorCode(err);
    const why = networkReason(err);
    return new CliError('UNREACHABLE', `cannot reach the ML Lambda API at ${this.server} (${why}); is it running? set --server or MLL_SERVER`, {
      exitCode: ExitCode.UNAVAILABLE, details: code ? { code } : undefined, cause: err,
    });
  }

  /** The API's error body as a CliError; 5xx and 429 mean "try later" (exit 3). */
  apiError(status: number, text: string, retryAfter?: string): CliError {
    const exitCode = status >= 500 || status === 429 ? ExitCode.UNAVAILABLE : ExitCode.FAILED;
    try {
      const { error } = JSON.parse(text) as { error?: { code?: string; message?: string; details?: unknown } };
      if (error?.code && error.message) {
        const hint = error.code === 'UNAUTHORIZED' ? (this.token ? ' (the token given was refused)' : ' (give one with --token or MLL_TOKEN)') : '';
        return new CliError(error.code, `${error.message}${hint}`, { status, details: error.details, exitCode, retryAfter });
      }
    } catch {
      /* not the API's error shape */
    }
    const snippet = text.replace(/\s+/g, ' ').trim().slice(0, 200);
    return new CliError(`HTTP_${status}`, `the server at ${this.server} answered ${status}${snippet ? `: ${snippet}` : ''} (is --server an ML Lambda API?)`, { status, exitCode, retryAfter });
  }

  async request<T>(method: string, path: string, options: { query?: Query; json?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<ApiResponse<T>> {
    const headers = this.headers(options.headers);
    let body: string | undefined;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] = 'application/json';
    }
    return this.exchange<T>(method, path, { query: options.query, headers, body, signal: options.signal });
  }

  async get<T>(path: string, query?: Query, signal?: AbortSignal): Promise<T> {
    return (await this.request<T>('GET', path, { query, signal })).body;
  }

  /**
   * Sends a streamed body (chunked) and returns the parsed JSON answer. When the server answers
   * an error before the body is through, sending stops at once and that answer is what counts.
   * A body that cannot be read fails with its own error (not a CliError).
   */
  async send<T>(method: string, path: string, options: { query?: Query; headers?: Record<string, string>; body: Readable; signal?: AbortSignal }): Promise<ApiResponse<T>> {
    return this.exchange<T>(method, path, { ...options, headers: this.headers(options.headers) });
  }

  private async exchange<T>(method: string, path: string, options: { query?: Query; headers: Record<string, string>; body?: string | Readable; signal?: AbortSignal }): Promise<ApiResponse<T>> {
    let res: HttpResponse;
    let text: string;
    try {
      res = await send(agent, { method, url: this.url(path, options.query), headers: options.headers, body: options.body, signal: options.signal });
      text = await res.text(MAX_ANSWER_BYTES);
    } catch (err) {
      if (err instanceof BodyStreamError) throw err.original;
      if (isAbort(err)) throw err;
      throw this.networkError(err);
    }
    if (res.status >= 400) throw this.apiError(res.status, text, res.header('retry-after'));
    const headers = headersOf(res);
    if (res.status === 204 || res.status === 304 || text === '') return { status: res.status, headers, body: undefined as T };
    try {
      return { status: res.status, headers, body: JSON.parse(text) as T };
    } catch {
      throw new CliError('BAD_RESPONSE', `the server at ${this.server} answered ${method} ${path} with something that is not JSON (is --server an ML Lambda API?)`, { exitCode: ExitCode.UNAVAILABLE });
    }
  }

  /**
   * A server-sent event stream. Ends when the server closes it; network failures raise
   * UNREACHABLE (the caller decides whether to reconnect with the last event id).
   */
  async *events(path: string, options: { lastEventId?: string; signal?: AbortSignal } = {}): AsyncGenerator<SseMessage> {
    const headers = this.headers({ accept: 'text/event-stream' });
    if (options.lastEventId) headers['last-event-id'] = options.lastEventId;
    let res: HttpResponse;
    try {
      res = await send(agent, { method: 'GET', url: this.url(path), headers, signal: options.signal });
    } catch (err) {
      if (isAbort(err)) throw err;
      throw this.networkError(err);
    }
    try {
      if (res.status >= 400) throw this.apiError(res.status, await res.text(64 * 1024).catch(() => ''), res.header('retry-after'));
      if (!(res.header('content-type') ?? '').startsWith('text/event-stream')) {
        throw new CliError('BAD_RESPONSE', `the server at ${this.server} did not answer ${path} with an event stream`, { exitCode: ExitCode.UNAVAILABLE });
      }
      yield* readSse(res.body);
    } catch (err) {
      if (err instanceof CliError || isAbort(err)) throw err;
      throw this.networkError(err);
    } finally {
      res.body.destroy();
    }
  }
}

function headersOf(res: HttpResponse): Headers {
  const headers = new Headers();
  for (const [k, v] of Object.entries(res.headers)) {
    if (typeof v === 'string') headers.set(k, v);
    else if (Array.isArray(v)) for (const item of v) headers.append(k, item);
  }
  return headers;
}
