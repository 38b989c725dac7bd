import { sha256Digest } from '../../shared/digest.js';
import { createHash, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import { MllError, isMllError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { effectiveDomain, parseChallenges, repositoryScope, type Challenge } from './auth.js';
import { BodyStreamError, send, type HttpResponse } from './http.js';
import { defaultRetry, withRetry, type RetryPolicy } from './retry.js';

export interface Credentials {
  username: string;
  password: string;
}

export interface RegistryClientOptions {
  /** host[:port] */
  registry: string;
  /** Plain HTTP instead of HTTPS. */
  insecure?: boolean;
  credentials?: Credentials;
  /** Appended to auth errors: where the user sets the credentials. */
  credentialsHint?: string;
  retry?: RetryPolicy;
  logger?: Logger;
  idleTimeoutMs?: number;
}

/** Where the bytes of a blob come from for an upload: any byte range [start, end) on demand. */
export interface BlobSource {
  digest: string;
  size: number;
  open(start: number, end: number, signal?: AbortSignal): Promise<Readable> | Readable;
}

/** Bytes to upload whose digest is not known yet. */
export interface UnhashedSource {
  size: number;
  open(start: number, end: number, signal?: AbortSignal): Promise<Readable> | Readable;
}

export type UploadOutcome = 'exists' | 'mounted' | 'uploaded';

export interface UploadOptions {
  /** A repository on the same registry that has the blob: try a cross-repository mount first. */
  mountFrom?: string;
  /**
   * Blobs up to this size go in one monolithic PUT; larger ones in PATCH chunks of this size, so an
   * interrupted upload can resume where the registry says it got to. 0 = always monolithic.
   */
  chunkSize?: number;
  signal?: AbortSignal;
  /** Bytes sent so far for this blob (counted once they reach the socket). */
  onBytes?: (bytes: number) => void;
}

export interface Manifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

type Scheme = { kind: 'none' } | { kind: 'basic'; realm?: string } | { kind: 'bearer'; realm: string; service?: string };

const USER_AGENT = 'ml-lambda/0.1 (+oci-distribution)';
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;


interface RequestOptions {
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

/**
 * One registry, spoken to through the OCI distribution API: manifests and blobs by digest, HEAD to
 * skip what exists, cross-repository mounts, monolithic and chunked uploads (resumed where the
 * registry says it got to, restarted when it lost the session), and auth that follows the
 * registry's `WWW-Authenticate` challenge: anonymous, basic, or bearer tokens from its token service.
 */
export class RegistryClient {
  readonly registry: string;
  readonly baseUrl: URL;
  private scheme: Promise<Scheme> | undefined;
  private readonly tokens = new Map<string, { value: string; expiresAt: number }>();
  private readonly retry: RetryPolicy;

  constructor(private readonly options: RegistryClientOptions) {
    this.registry = options.registry;
    this.baseUrl = new URL(`${options.insecure ? 'http' : 'https'}://${options.registry}/`);
    this.retry = options.retry ?? defaultRetry;
  }

  // ---------------------------------------------------------------------------------------------
  // auth

  private discover(signal?: AbortSignal): Promise<Scheme> {
    this.scheme ??= (async () => {
      const res = await this.raw({ method: 'GET', url: new URL('/v2/', this.baseUrl), headers: {}, signal });
      if (res.status === 200) {
        await res.drain();
        return { kind: 'none' } as Scheme;
      }
      if (res.status === 401) {
        await res.drain();
        return this.schemeFrom(parseChallenges(res.header('www-authenticate')));
      }
      throw await this.failure(res, 'Checking the registry API');
    })();
    this.scheme.catch(() => { this.scheme = undefined; });
    return this.scheme;
  }

  private schemeFrom(challenges: Challenge[]): Scheme {
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
    if (bearer) return { kind: 'bearer', realm: bearer.params.realm!, service: bearer.params.service };
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (basic) return { kind: 'basic', realm: basic.params.realm };
    throw new MllError('REGISTRY_AUTH_FAILED',
      `The registry ${this.registry} asks for an authentication scheme ML Lambda does not speak (${challenges.map((c) => c.scheme).join(', ') || 'none given'})`);
  }

  private needCredentials(): MllError {
    return new MllError('REGISTRY_AUTH_FAILED',
      `The registry ${this.registry} requires authentication and no credentials are configured${this.hint()}`,
      { details: { registry: this.registry } });
  }

  private hint(): string {
    return this.options.credentialsHint ? `: ${this.options.credentialsHint}` : '';
  }

  private basicHeader(): string | undefined {
    const c = this.options.credentials;
    return c ? `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` : undefined;
  }

  private async authorization(scheme: Scheme, scopes: string[], refresh: boolean, signal?: AbortSignal): Promise<string | undefined> {
    if (scheme.kind === 'none') return undefined;
    if (scheme.kind === 'basic') return this.basicHeader();
    const key = [...new Set(scopes)].sort().join(' ');
    const cached = this.tokens.get(key);
    if (!refresh && cached && cached.expiresAt > Date.now() + 5000) return `Bearer ${cached.value}`;
    const token = await this.fetchToken(scheme, [...new Set(scopes)], signal);
    this.tokens.set(key, token);
    return `Bearer ${token.value}`;
  }

  private async fetchToken(scheme: Extract<Scheme, { kind: 'bearer' }>, scopes: string[], signal?: AbortSignal) {
    let realm: URL;
    try {
      realm = new URL(scheme.realm);
    } catch {
      throw new MllError('REGISTRY_AUTH_FAILED', `The registry ${this.registry} names an invalid token service "${scheme.realm}"`);
    }
    if (realm.protocol !== 'https:' && !(realm.protocol === 'http:' && this.options.insecure)) {
      throw new MllError('REGISTRY_AUTH_FAILED',
        `The registry ${this.registry} sends its token service at ${realm.origin}; ML Lambda only sends credentials there over HTTPS`);
    }
    if (scheme.service) realm.searchParams.set('service', scheme.service);
    for (const scope of scopes) realm.searchParams.append('scope', scope);
    // Credentials go only to a token service of the registry's own domain.
    const sendCredentials = effectiveDomain(realm.host) === effectiveDomain(this.registry);
    const headers: Record<string, string> = {};
    const basic = sendCredentials ? this.basicHeader() : undefined;
    if (basic) headers.authorization = basic;
    const res = await this.raw({ method: 'GET', url: realm, headers, signal });
    if (res.status === 401 || res.status === 403) {
      await res.drain();
      if (!basic && this.options.credentials) {
        throw new MllError('REGISTRY_AUTH_FAILED',
          `The registry ${this.registry} sends clients to the token service ${realm.host}, outside its own domain; ML Lambda does not send the credentials there`,
          { details: { registry: this.registry, realm: realm.origin } });
      }
      if (!basic) throw this.needCredentials();
      throw new MllError('REGISTRY_AUTH_FAILED',
        `The token service of registry ${this.registry} refused the credentials of user "${this.options.credentials!.username}"${this.hint()}`,
        { details: { registry: this.registry, status: res.status } });
    }
    if (res.status !== 200) throw await this.failure(res, 'Getting a registry token');
    const body = JSON.parse(await res.text(MAX_MANIFEST_BYTES)) as { token?: string; access_token?: string; expires_in?: number };
    const value = body.token ?? body.access_token;
    if (!value) throw new MllError('REGISTRY_AUTH_FAILED', `The token service of registry ${this.registry} answered without a token`);
    return { value, expiresAt: Date.now() + (body.expires_in ?? 60) * 1000 };
  }

  // ---------------------------------------------------------------------------------------------
  // requests

  /** One HTTP exchange; network faults become REGISTRY_UNAVAILABLE, a failing body stream its own error. */
  private async raw(o: { method: string; url: URL; headers: Record<string, string>; body?: Buffer | Readable; signal?: AbortSignal; onChunk?: (chunk: Buffer) => void }): Promise<HttpResponse> {
    try {
      return await send({
        method: o.method, url: o.url, headers: { 'user-agent': USER_AGENT, ...o.headers }, body: o.body,
        signal: o.signal, idleTimeoutMs: this.options.idleTimeoutMs, onChunk: o.onChunk,
      });
    } catch (err) {
      if (err instanceof BodyStreamError) throw err.original;
      if (o.signal?.aborted) throw o.signal.reason;
      const code = (err as NodeJS.ErrnoException).code;
      throw new MllError('REGISTRY_UNAVAILABLE',
        `The registry ${o.url.host} cannot be reached (${code ?? (err as Error).message}); it will be retried`,
        { cause: err, details: { registry: o.url.host, code } });
    }
  }

  /** A request with auth: follows one 401 challenge (new token or credentials), then gives up with a clear error. */
  async request(o: RequestOptions): Promise<HttpResponse> {
    const url = o.url ?? new URL(o.path!, this.baseUrl);
    const sameHost = url.host === this.baseUrl.host;
    let scheme = o.noAuth || !sameHost ? ({ kind: 'none' } as Scheme) : await this.discover(o.signal);
    let scopes = o.scopes;
    for (let round = 0; ; round++) {
      const auth = await this.authorization(scheme, scopes, round > 0, o.signal);
      const headers = { ...o.headers };
      if (auth) headers.authorization = auth;
      const res = await this.raw({ method: o.method, url, headers, body: o.body ? await o.body() : undefined, signal: o.signal, onChunk: o.onChunk });
      if (res.status === 403) {
        const detail = await registryErrors(res);
        throw new MllError('REGISTRY_AUTH_FAILED',
          `The registry ${this.registry} denied access${this.options.credentials ? ` to user "${this.options.credentials.username}"` : ''} (${detail || '403 Forbidden'})${this.hint()}`,
          { details: { registry: this.registry, status: 403, scopes } });
      }
      if (res.status !== 401 || o.noAuth || !sameHost) return res;
      await res.drain();
      const challenges = parseChallenges(res.header('www-authenticate'));
      const fresh = challenges.length > 0 ? this.schemeFrom(challenges) : scheme;
      const wanted = challenges.find((c) => c.scheme === 'bearer')?.params.scope;
      if (fresh.kind === 'basic' && !this.options.credentials) throw this.needCredentials();
      if (round > 0 || (fresh.kind === 'basic' && auth)) {
        if (!this.options.credentials) throw this.needCredentials();
        throw new MllError('REGISTRY_AUTH_FAILED',
          `The registry ${this.registry} refused the credentials of user "${this.options.credentials.username}"${this.hint()}`,
          { details: { registry: this.registry, status: 401 } });
      }
      scheme = fresh;
      this.scheme = Promise.resolve(fresh);
      if (wanted) scopes = [...new Set([...scopes, ...wanted.split(' ')])];
    }
  }

  /** Turns an unexpected answer into the error users see. */
  async failure(res: HttpResponse, action: string): Promise<MllError> {
    const detail = await registryErrors(res);
    const status = res.status;
    const text = `${action}: the registry ${this.registry} answered ${status}${detail ? ` (${detail})` : ''}`;
    if (status === 408 || status === 429 || status >= 500) {
      return new MllError('REGISTRY_UNAVAILABLE', `${text}; it will be retried`, { details: { registry: this.registry, status } });
    }
    if (status === 401 || status === 403) return new MllError('REGISTRY_AUTH_FAILED', `${text}${this.hint()}`, { details: { registry: this.registry, status } });
    return new MllError('REGISTRY_REJECTED', text, { details: { registry: this.registry, status } });
  }

  // ---------------------------------------------------------------------------------------------
  // API

  /** Resolves when the registry's API answers with the configured credentials. */
  async check(signal?: AbortSignal): Promise<void> {
    const res = await this.request({ method: 'GET', path: '/v2/', scopes: [], signal });
    if (res.status !== 200) throw await this.failure(res, 'Checking the registry API');
    await res.drain();
  }

  /** A manifest by tag or digest, or undefined when the registry does not have it. */
  async getManifest(repository: string, reference: string, accept: string, signal?: AbortSignal): Promise<Manifest | undefined> {
    return withRetry(async () => {
      const res = await this.request({
        method: 'GET', path: `/v2/${repository}/manifests/${reference}`, scopes: [repositoryScope(repository, 'pull')],
        headers: { accept }, signal,
      });
      if (res.status === 404) {
        await res.drain();
        return undefined;
      }
      if (res.status !== 200) throw await this.failure(res, `Reading manifest ${repository}:${reference}`);
      const bytes = await res.buffer(MAX_MANIFEST_BYTES + 1);
      if (bytes.length > MAX_MANIFEST_BYTES) throw new MllError('REGISTRY_REJECTED', `The manifest ${repository}:${reference} is larger than 4 MiB`);
      const digest = sha256Digest(bytes);
      if (reference.startsWith('sha256:') && reference !== digest) {
        throw new MllError('REGISTRY_REJECTED', `The registry ${this.registry} returned a manifest for ${repository}@${reference} whose digest is ${digest}`);
      }
      const declared = (() => { try { return (JSON.parse(bytes.toString('utf8')) as { mediaType?: string }).mediaType; } catch { return undefined; } })();
      const mediaType = declared ?? res.header('content-type')?.split(';')[0]?.trim() ?? '';
      return { bytes, mediaType, digest };
    }, this.retry, { signal });
  }

  async blobExists(repository: string, digest: string, signal?: AbortSignal, scopes?: string[]): Promise<boolean> {
    const res = await this.request({
      method: 'HEAD', path: `/v2/${repository}/blobs/${digest}`, scopes: scopes ?? [repositoryScope(repository, 'pull')], signal,
    });
    await res.drain();
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw await this.failure(res, `Checking blob ${digest} in ${repository}`);
  }

  /** Bytes [start, end) of a blob (the whole blob by default); follows redirects to storage. */
  async getBlob(repository: string, digest: string, range?: { start: number; end: number }, signal?: AbortSignal): Promise<Readable> {
    const headers: Record<string, string> = {};
    if (range) headers.range = `bytes=${range.start}-${range.end - 1}`;
    let res = await this.request({
      method: 'GET', path: `/v2/${repository}/blobs/${digest}`, scopes: [repositoryScope(repository, 'pull')], headers, signal,
    });
    for (let hops = 0; [301, 302, 303, 307, 308].includes(res.status) && hops < 3; hops++) {
      const location = res.header('location');
      await res.drain();
      if (!location) break;
      res = await this.request({ method: 'GET', url: new URL(location, this.baseUrl), scopes: [], headers, signal, noAuth: true });
    }
    if (res.status === 206 || (res.status === 200 && !range)) return res.body;
    if (res.status === 200 && range) return skipBytes(res.body, range.start, range.end - range.start);
    throw await this.failure(res, `Reading blob ${digest} from ${repository}`);
  }

  /**
   * Uploads a blob unless the repository has it (HEAD) or can mount it from `mountFrom`.
   * Retries transient faults: a chunked upload resumes where the registry's upload session says it
   * got to; a monolithic upload, or one whose session is gone, starts again.
   */
  async uploadBlob(repository: string, source: BlobSource, options: UploadOptions = {}): Promise<UploadOutcome> {
    const { signal } = options;
    const scopes = [repositoryScope(repository, 'pull,push')];
    if (options.mountFrom) scopes.push(repositoryScope(options.mountFrom, 'pull'));
    const chunkSize = options.chunkSize ?? 0;
    const chunked = chunkSize > 0 && source.size > chunkSize;
    let session: { location: URL; offset: number } | undefined;
    let mountTried = false;
    return withRetry(async (attempt) => {
      if (session) session = await this.uploadStatus(session.location, scopes, signal);
      if (!session) {
        if (await this.blobExists(repository, source.digest, signal, scopes)) return 'exists';
        const start = new URL(`/v2/${repository}/blobs/uploads/`, this.baseUrl);
        if (options.mountFrom && !mountTried) {
          mountTried = true;
          start.searchParams.set('mount', source.digest);
          start.searchParams.set('from', options.mountFrom);
        }
        const res = await this.request({ method: 'POST', url: start, scopes, headers: { 'content-length': '0' }, signal });
        if (res.status === 201) {
          await res.drain();
          return 'mounted';
        }
        if (res.status !== 202) throw await this.failure(res, `Starting the upload of blob ${source.digest} to ${repository}`);
        await res.drain();
        session = { location: this.location(res, start), offset: 0 };
      }
      if (attempt > 1) {
        this.options.logger?.info({ digest: source.digest, offset: session.offset, attempt },
          session.offset > 0 ? 'registry upload resumed where the registry got to' : 'registry upload started again');
      }
      try {
        if (chunked) {
          while (session.offset < source.size) {
            const begin = session.offset;
            const end = Math.min(source.size, begin + chunkSize);
            const res = await this.request({
              method: 'PATCH', url: session.location, scopes, signal,
              headers: {
                'content-type': 'application/octet-stream', 'content-length': String(end - begin), 'content-range': `${begin}-${end - 1}`,
              },
              body: () => counted(source.open(begin, end, signal), options.onBytes),
            });
            if (res.status !== 202) throw await this.failure(res, `Uploading blob ${source.digest} to ${repository}`);
            await res.drain();
            session = { location: this.location(res, session.location), offset: end };
          }
          await this.commit(session.location, source.digest, undefined, scopes, signal, repository);
        } else {
          await this.commit(session.location, source.digest, source, scopes, signal, repository, options.onBytes);
        }
      } catch (err) {
        if (!chunked) session = undefined;
        throw err;
      }
      return 'uploaded';
    }, this.retry, {
      signal,
      onRetry: (err, attempt, delayMs) => this.options.logger?.warn({ err: errText(err), digest: source.digest, attempt, delayMs }, 'registry upload failed; retrying'),
    });
  }

  /**
   * Uploads bytes whose digest is not known yet, hashing them on the way: POST, then PATCH (one, or
   * one per chunk), then PUT ?digest=<what was hashed>. This is how a new layer is hashed and
   * uploaded in one pass. After a transient fault the upload resumes at the last chunk the registry
   * acknowledged (the hash state is kept per chunk), or starts again when the session is gone.
   */
  async uploadHashing(repository: string, source: UnhashedSource, options: UploadOptions = {}): Promise<string> {
    const { signal } = options;
    const scopes = [repositoryScope(repository, 'pull,push')];
    const chunk = options.chunkSize && options.chunkSize > 0 ? options.chunkSize : Math.max(1, source.size);
    let checkpoint: { location: URL; offset: number; hash: Hash } | undefined;
    return withRetry(async () => {
      if (checkpoint) {
        const status = await this.uploadStatus(checkpoint.location, scopes, signal);
        checkpoint = status && status.offset === checkpoint.offset ? { ...checkpoint, location: status.location } : undefined;
        this.options.logger?.info({ repository, offset: checkpoint?.offset ?? 0 }, checkpoint ? 'registry upload resumed where the registry got to' : 'registry upload started again');
      }
      if (!checkpoint) {
        const start = new URL(`/v2/${repository}/blobs/uploads/`, this.baseUrl);
        const res = await this.request({ method: 'POST', url: start, scopes, headers: { 'content-length': '0' }, signal });
        if (res.status !== 202) throw await this.failure(res, `Starting a blob upload to ${repository}`);
        await res.drain();
        checkpoint = { location: this.location(res, start), offset: 0, hash: createHash('sha256') };
      }
      while (checkpoint.offset < source.size) {
        const begin = checkpoint.offset;
        const end = Math.min(source.size, begin + chunk);
        // A fresh copy of the hash state for each attempt at this chunk (auth may resend it).
        let hash = checkpoint.hash.copy();
        let sent = 0;
        const from = checkpoint.hash;
        const res = await this.request({
          method: 'PATCH', url: checkpoint.location, scopes, signal,
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(end - begin), 'content-range': `${begin}-${end - 1}` },
          body: async () => {
            hash = from.copy();
            sent = 0;
            return source.open(begin, end, signal);
          },
          onChunk: (c) => {
            hash.update(c);
            sent += c.length;
            options.onBytes?.(c.length);
          },
        });
        if (res.status !== 202) throw await this.failure(res, `Uploading a blob to ${repository}`);
        await res.drain();
        if (sent !== end - begin) throw new MllError('INTERNAL', `A layer came out ${sent} bytes long where ${end - begin} were expected`);
        checkpoint = { location: this.location(res, checkpoint.location), offset: end, hash };
      }
      const digest = `sha256:${checkpoint.hash.copy().digest('hex')}`;
      await this.commit(checkpoint.location, digest, undefined, scopes, signal, repository);
      return digest;
    }, this.retry, {
      signal,
      onRetry: (err, attempt, delayMs) => this.options.logger?.warn({ err: errText(err), repository, attempt, delayMs }, 'registry upload failed; retrying'),
    });
  }

  private async commit(location: URL, digest: string, source: BlobSource | undefined, scopes: string[], signal: AbortSignal | undefined, repository: string, onBytes?: (n: number) => void): Promise<void> {
    const url = new URL(location);
    url.searchParams.set('digest', digest);
    const res = await this.request({
      method: 'PUT', url, scopes, signal,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(source?.size ?? 0) },
      body: source ? () => counted(source.open(0, source.size, signal), onBytes) : undefined,
    });
    if (res.status !== 201) throw await this.failure(res, `Uploading blob ${digest} to ${repository}`);
    await res.drain();
    const got = res.header('docker-content-digest');
    if (got && got !== digest) throw new MllError('REGISTRY_REJECTED', `The registry ${this.registry} stored blob ${digest} as ${got}`);
  }

  /** Where an upload session stands, or undefined when the registry no longer knows it. */
  private async uploadStatus(location: URL, scopes: string[], signal?: AbortSignal): Promise<{ location: URL; offset: number } | undefined> {
    const res = await this.request({ method: 'GET', url: location, scopes, signal });
    await res.drain();
    if (res.status !== 204) {
      if (res.status >= 500) throw await this.failure(res, 'Checking an upload session');
      return undefined;
    }
    const m = /^(?:bytes=)?0-(\d+)$/.exec(res.header('range') ?? '');
    const offset = m ? Number(m[1]) + 1 : 0;
    return { location: this.location(res, location), offset };
  }

  private location(res: HttpResponse, base: URL): URL {
    const value = res.header('location');
    if (!value) throw new MllError('REGISTRY_REJECTED', `The registry ${this.registry} started an upload without a Location`);
    return new URL(value, base);
  }

  /** PUTs a manifest by tag (or digest) and returns its digest. */
  async putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string, signal?: AbortSignal): Promise<string> {
    const digest = sha256Digest(bytes);
    return withRetry(async () => {
      const res = await this.request({
        method: 'PUT', path: `/v2/${repository}/manifests/${reference}`, scopes: [repositoryScope(repository, 'pull,push')],
        headers: { 'content-type': mediaType, 'content-length': String(bytes.length) }, body: () => bytes, signal,
      });
      if (res.status !== 201 && res.status !== 200) throw await this.failure(res, `Writing manifest ${repository}:${reference}`);
      await res.drain();
      const got = res.header('docker-content-digest');
      if (got && got !== digest) throw new MllError('REGISTRY_REJECTED', `The registry ${this.registry} stored manifest ${digest} as ${got}`);
      return digest;
    }, this.retry, { signal });
  }
}

async function registryErrors(res: HttpResponse): Promise<string> {
  if (res.body.readableEnded) return '';
  const text = await res.text(64 * 1024).catch(() => '');
  try {
    const parsed = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    if (Array.isArray(parsed.errors) && parsed.errors.length > 0) {
      return parsed.errors.map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; ');
    }
  } catch { /* not JSON */ }
  return text.trim().slice(0, 200);
}

function errText(err: unknown): string {
  return isMllError(err) ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
}

async function counted(stream: Promise<Readable> | Readable, onBytes?: (n: number) => void): Promise<Readable> {
  const s = await stream;
  if (!onBytes) return s;
  async function* gen(): AsyncGenerator<Buffer> {
    for await (const chunk of s as AsyncIterable<Buffer>) {
      onBytes!(chunk.length);
      yield chunk;
    }
  }
  return tiedTo(Readable.from(gen(), { objectMode: false }), s);
}

/**
 * A wrapper destroyed before it was read never runs its generator, so the source it wraps (an
 * HTTP response from another registry, say) would stay open and hold its connection forever.
 */
function tiedTo(wrapper: Readable, source: Readable): Readable {
  wrapper.once('close', () => {
    if (!source.destroyed) source.destroy();
  });
  return wrapper;
}

function skipBytes(body: Readable, skip: number, length: number): Readable {
  async function* gen(): AsyncGenerator<Buffer> {
    let toSkip = skip;
    let left = length;
    for await (const raw of body as AsyncIterable<Buffer>) {
      let chunk = raw;
      if (toSkip > 0) {
        if (chunk.length <= toSkip) { toSkip -= chunk.length; continue; }
        chunk = chunk.subarray(toSkip);
        toSkip = 0;
      }
      if (chunk.length >= left) { yield chunk.subarray(0, left); body.destroy(); return; }
      left -= chunk.length;
      yield chunk;
    }
  }
  return tiedTo(Readable.from(gen(), { objectMode: false }), body);
}
