import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { MllError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { BodyStreamError, createAgent, send, type HttpResponse } from '../../shared/http/index.js';
import { RetryPolicy, type RetryRules } from '../../shared/retry.js';
import { errorCode } from '../../shared/transient.js';
import { RegistryAuth, type Credentials, type Scheme } from './auth.js';
import { blobExists, getBlob } from './blobs.js';
import { parseChallenges } from './challenges.js';
import { getManifest, putManifest, type Manifest } from './manifests.js';
import type { HashingReader } from '../publish/hashing-reader.js';
import { uploadBlob, uploadHashing, type BlobSource, type UploadOptions, type UploadOutcome } from './uploads.js';

export type { Credentials } from './auth.js';
export type { Manifest } from './manifests.js';
export type { BlobSource, UnhashedSource, UploadOptions, UploadOutcome } from './uploads.js';

export interface RegistryClientOptions {
  /** host[:port] */
  registry: string;
  /** Plain HTTP instead of HTTPS. */
  insecure?: boolean;
  credentials?: Credentials;
  /** Appended to auth errors: where the user sets the credentials. */
  credentialsHint?: string;
  /** Attempts and backoff of transient faults (the shared policy's rules, with these numbers). */
  retry?: Partial<RetryRules>;
  logger?: Logger;
  /** No answer (headers, or the next chunk of a body) for this long fails the request. */
  idleTimeoutMs?: number;
}

export interface RequestOptions {
  method: string;
  /** Path under the registry root, or a full URL (upload locations). */
  path?: string;
  url?: URL;
  scopes: string[];
  headers?: Record<string, string>;
  body?: () => Buffer | Readable | Promise<Readable>;
  signal?: AbortSignal;
  /** Plain `Basic` or bearer auth is not sent to other hosts (storage redirects). */
  noAuth?: boolean;
  onChunk?: (chunk: Buffer) => void;
}

const USER_AGENT = 'ml-lambda/0.1 (+oci-distribution)';
/** The registry's defaults: five attempts, 250 ms doubling to 8 s, jittered. */
const registryRules: Partial<RetryRules> = { attempts: 5, baseDelayMs: 250, maxDelayMs: 8000 };

/** One connection pool per idle timeout, shared by every registry client of the process. */
const agents = new Map<number, Dispatcher>();
function agentFor(idleTimeoutMs: number): Dispatcher {
  let agent = agents.get(idleTimeoutMs);
  if (!agent) {
    agent = createAgent({ headersTimeoutMs: idleTimeoutMs, bodyTimeoutMs: idleTimeoutMs, connections: 32 });
    agents.set(idleTimeoutMs, agent);
  }
  return agent;
}

/**
 * One registry, spoken to through the OCI distribution API over the shared HTTP layer. This class
 * is the transport (auth rounds, errors, retry policy); the API lives in manifests.ts (get, put,
 * index resolution), blobs.ts (HEAD, ranged GET) and uploads.ts (mounts, monolithic, chunked and
 * hashing uploads), and auth in auth.ts.
 */
export class RegistryClient {
  readonly registry: string;
  readonly baseUrl: URL;
  readonly retry: RetryPolicy;
  readonly logger: Logger | undefined;
  private readonly auth: RegistryAuth;
  private readonly agent: Dispatcher;

  constructor(private readonly options: RegistryClientOptions) {
    this.registry = options.registry;
    this.baseUrl = new URL(`${options.insecure ? 'http' : 'https'}://${options.registry}/`);
    this.retry = new RetryPolicy({ ...registryRules, ...options.retry });
    this.logger = options.logger;
    this.agent = agentFor(options.idleTimeoutMs ?? 120_000);
    this.auth = new RegistryAuth({
      registry: options.registry, baseUrl: this.baseUrl, insecure: options.insecure ?? false,
      credentials: options.credentials, credentialsHint: options.credentialsHint,
      exchange: (req) => this.raw(req), failure: (res, action) => this.failure(res, action),
    });
  }

  /** One HTTP exchange; network faults become REGISTRY_UNAVAILABLE, a failing body stream its own error. */
  private async raw(o: { method: string; url: URL; headers: Record<string, string>; body?: Buffer | Readable; signal?: AbortSignal; onChunk?: (chunk: Buffer) => void }): Promise<HttpResponse> {
    try {
      return await send(this.agent, {
        method: o.method, url: o.url, headers: { 'user-agent': USER_AGENT, ...o.headers }, body: o.body, signal: o.signal, onChunk: o.onChunk,
      });
    } catch (err) {
      if (err instanceof BodyStreamError) throw err.original;
      if (o.signal?.aborted) throw o.signal.reason;
      const code = errorCode(err);
      throw new MllError('REGISTRY_UNAVAILABLE',
        `The registry ${o.url.host} cannot be reached (${code ?? (err as Error).message}); it will be retried`,
        { cause: err, details: { registry: o.url.host, code } });
    }
  }

  /** A request with auth: follows one 401 challenge (new token or credentials), then gives up with a clear error. */
  async request(o: RequestOptions): Promise<HttpResponse> {
    const url = o.url ?? new URL(o.path!, this.baseUrl);
    const sameHost = url.host === this.baseUrl.host;
    let scheme: Scheme = o.noAuth || !sameHost ? { kind: 'none' } : await this.auth.discover(o.signal);
    let scopes = o.scopes;
    for (let round = 0; ; round++) {
      const authorization = await this.auth.authorization(scheme, scopes, round > 0, o.signal);
      const headers = { ...o.headers };
      if (authorization) headers.authorization = authorization;
      const res = await this.raw({ method: o.method, url, headers, body: o.body ? await o.body() : undefined, signal: o.signal, onChunk: o.onChunk });
      if (res.status === 403) {
        const detail = await registryErrors(res);
        const user = this.auth.credentials ? ` to user "${this.auth.credentials.username}"` : '';
        throw new MllError('REGISTRY_AUTH_FAILED',
          `The registry ${this.registry} denied access${user} (${detail || '403 Forbidden'})${this.auth.hint()}`,
          { details: { registry: this.registry, status: 403, scopes } });
      }
      if (res.status !== 401 || o.noAuth || !sameHost) return res;
      await res.drain();
      const challenges = parseChallenges(res.header('www-authenticate'));
      const fresh = challenges.length > 0 ? this.auth.schemeFrom(challenges) : scheme;
      const wanted = challenges.find((c) => c.scheme === 'bearer')?.params.scope;
      if (fresh.kind === 'basic' && !this.auth.credentials) throw this.auth.needCredentials();
      if (round > 0 || (fresh.kind === 'basic' && authorization)) throw this.auth.refused(401);
      scheme = fresh;
      this.auth.learn(fresh);
      if (wanted) scopes = [...new Set([...scopes, ...wanted.split(' ')])];
    }
  }

  /** Turns an unexpected answer into the error users see; what the retry policy retries is REGISTRY_UNAVAILABLE. */
  async failure(res: HttpResponse, action: string): Promise<MllError> {
    const { text: detail, codes } = await readRegistryErrors(res);
    const status = res.status;
    const text = `${action}: the registry ${this.registry} answered ${status}${detail ? ` (${detail})` : ''}`;
    const details: RegistryFailureDetails = { registry: this.registry, status, ...(codes.length > 0 ? { codes } : {}) };
    if (this.retry.retryable({ status })) {
      const retryAfter = res.header('retry-after');
      return new MllError('REGISTRY_UNAVAILABLE', `${text}; it will be retried`, { details: { ...details, ...(retryAfter ? { retryAfter } : {}) } });
    }
    if (status === 401 || status === 403) return new MllError('REGISTRY_AUTH_FAILED', `${text}${this.auth.hint()}`, { details });
    return new MllError('REGISTRY_REJECTED', text, { details });
  }

  /** Resolves when the registry's API answers with the configured credentials. */
  async check(signal?: AbortSignal): Promise<void> {
    const res = await this.request({ method: 'GET', path: '/v2/', scopes: [], signal });
    if (res.status !== 200) throw await this.failure(res, 'Checking the registry API');
    await res.drain();
  }

  /** A manifest by tag or digest, or undefined when the registry does not have it. */
  getManifest(repository: string, reference: string, accept: string, signal?: AbortSignal): Promise<Manifest | undefined> {
    return getManifest(this, repository, reference, accept, signal);
  }

  /** PUTs a manifest by tag (or digest) and returns its digest. */
  putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string, signal?: AbortSignal): Promise<string> {
    return putManifest(this, repository, reference, bytes, mediaType, signal);
  }

  blobExists(repository: string, digest: string, signal?: AbortSignal, scopes?: string[]): Promise<boolean> {
    return blobExists(this, repository, digest, signal, scopes);
  }

  /** Bytes [start, end) of a blob (the whole blob by default); follows redirects to storage. */
  getBlob(repository: string, digest: string, range?: { start: number; end: number }, signal?: AbortSignal): Promise<Readable> {
    return getBlob(this, repository, digest, range, signal);
  }

  /** Uploads a blob unless the repository has it (HEAD) or can mount it from `mountFrom`. */
  uploadBlob(repository: string, source: BlobSource, options?: UploadOptions): Promise<UploadOutcome> {
    return uploadBlob(this, repository, source, options);
  }

  /** Uploads a new layer while `reader` hashes it; returns the digest. */
  uploadHashing(repository: string, reader: HashingReader, options?: UploadOptions): Promise<string> {
    return uploadHashing(this, repository, reader, options);
  }
}

/** What `failure` puts in an error's details: `codes` are the distribution API's error codes of the answer. */
export interface RegistryFailureDetails {
  registry: string;
  status: number;
  codes?: string[];
}

/** The registry's own explanation of an answer (its `errors` JSON, or the start of the body). */
export async function registryErrors(res: HttpResponse): Promise<string> {
  return (await readRegistryErrors(res)).text;
}

/** The answer's `errors` as text, and their codes (MANIFEST_BLOB_UNKNOWN, DIGEST_INVALID, …). */
async function readRegistryErrors(res: HttpResponse): Promise<{ text: string; codes: string[] }> {
  if (res.body.readableEnded) return { text: '', codes: [] };
  const text = await res.text(64 * 1024).catch(() => '');
  try {
    const parsed = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    if (Array.isArray(parsed.errors) && parsed.errors.length > 0) {
      return {
        text: parsed.errors.map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; '),
        codes: parsed.errors.flatMap((e) => (typeof e.code === 'string' ? [e.code] : [])),
      };
    }
  } catch { /* not JSON */ }
  return { text: text.trim().slice(0, 200), codes: [] };
}
