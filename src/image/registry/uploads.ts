import { Readable } from 'node:stream';
import { MllError, isMllError } from '../../errors.js';
import type { HttpResponse } from '../../shared/http/index.js';
import type { HashingReader } from '../publish/hashing-reader.js';
import type { BlobSource } from '../publish/sources.js';
import { tiedTo } from './blobs.js';
import { repositoryScope } from './challenges.js';
import type { RegistryClient } from './client.js';

export type { BlobSource, UnhashedSource } from '../publish/sources.js';

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
  /** Testing only: awaited once a body's first chunk is sent (the registry-blob-mid failpoint). */
  afterFirstChunk?: () => Promise<void>;
}

type Session = { location: URL; offset: number };

/**
 * Uploads a blob unless the repository has it (HEAD) or can mount it from `mountFrom`. Retries
 * transient faults: a chunked upload resumes where the registry's upload session says it got to;
 * a monolithic upload, or one whose session is gone, starts again.
 */
export function uploadBlob(client: RegistryClient, repository: string, source: BlobSource, options: UploadOptions = {}): Promise<UploadOutcome> {
  const { signal } = options;
  const scopes = [repositoryScope(repository, 'pull,push')];
  if (options.mountFrom) scopes.push(repositoryScope(options.mountFrom, 'pull'));
  const chunkSize = options.chunkSize ?? 0;
  const chunked = chunkSize > 0 && source.size > chunkSize;
  let session: Session | undefined;
  let mountTried = false;
  return client.retry.run(async (attempt) => {
    if (session) session = await uploadStatus(client, session.location, scopes, signal);
    if (!session) {
      if (await client.blobExists(repository, source.digest, signal, scopes)) return 'exists';
      const start = new URL(`/v2/${repository}/blobs/uploads/`, client.baseUrl);
      if (options.mountFrom && !mountTried) {
        mountTried = true;
        start.searchParams.set('mount', source.digest);
        start.searchParams.set('from', options.mountFrom);
      }
      const res = await client.request({ method: 'POST', url: start, scopes, headers: { 'content-length': '0' }, signal });
      if (res.status === 201) {
        await res.drain();
        return 'mounted';
      }
      if (res.status !== 202) throw await client.failure(res, `Starting the upload of blob ${source.digest} to ${repository}`);
      await res.drain();
      session = { location: location(client, res, start), offset: 0 };
    }
    if (attempt > 1) {
      client.logger?.info({ digest: source.digest, offset: session.offset, attempt },
        session.offset > 0 ? 'registry upload resumed where the registry got to' : 'registry upload started again');
    }
    try {
      if (chunked) {
        while (session.offset < source.size) {
          const begin = session.offset;
          const end = Math.min(source.size, begin + chunkSize);
          session = await patch(client, session, scopes, `Uploading blob ${source.digest} to ${repository}`, {
            begin, end, signal, body: () => counted(source.open(begin, end, signal), options.onBytes, options.afterFirstChunk),
          });
        }
        await commit(client, session.location, source.digest, undefined, scopes, signal, repository);
      } else {
        await commit(client, session.location, source.digest, source, scopes, signal, repository, options.onBytes, options.afterFirstChunk);
      }
    } catch (err) {
      if (!chunked) session = undefined;
      throw err;
    }
    return 'uploaded';
  }, {
    signal,
    onRetry: (err, attempt, delayMs) => client.logger?.warn({ err: errText(err), digest: source.digest, attempt, delayMs }, 'registry upload failed; retrying'),
  });
}

/**
 * Uploads bytes whose digest is not known yet while `reader` hashes them: POST, then PATCH (one,
 * or one per chunk), then PUT ?digest=<what was hashed>. This is how a new layer is hashed and
 * uploaded in one pass. After a transient fault the upload resumes at the last chunk the registry
 * acknowledged, or starts again when the session is gone.
 */
export function uploadHashing(client: RegistryClient, repository: string, reader: HashingReader, options: UploadOptions = {}): Promise<string> {
  const { signal } = options;
  const scopes = [repositoryScope(repository, 'pull,push')];
  const chunk = options.chunkSize && options.chunkSize > 0 ? options.chunkSize : Math.max(1, reader.size);
  let session: Session | undefined;
  return client.retry.run(async () => {
    if (session) {
      const status = await uploadStatus(client, session.location, scopes, signal);
      session = status && status.offset === reader.offset ? status : undefined;
      client.logger?.info({ repository, offset: session?.offset ?? 0 }, session ? 'registry upload resumed where the registry got to' : 'registry upload started again');
    }
    if (!session) {
      reader.restart();
      const start = new URL(`/v2/${repository}/blobs/uploads/`, client.baseUrl);
      const res = await client.request({ method: 'POST', url: start, scopes, headers: { 'content-length': '0' }, signal });
      if (res.status !== 202) throw await client.failure(res, `Starting a blob upload to ${repository}`);
      await res.drain();
      session = { location: location(client, res, start), offset: 0 };
    }
    while (!reader.done) {
      const part = reader.part(Math.min(reader.size, reader.offset + chunk));
      session = await patch(client, session, scopes, `Uploading a blob to ${repository}`, {
        begin: part.begin, end: part.end, signal, body: () => counted(part.open(), options.onBytes, options.afterFirstChunk),
      });
      part.accept();
    }
    const digest = reader.digest();
    await commit(client, session.location, digest, undefined, scopes, signal, repository);
    return digest;
  }, {
    signal,
    onRetry: (err, attempt, delayMs) => client.logger?.warn({ err: errText(err), repository, attempt, delayMs }, 'registry upload failed; retrying'),
  });
}

/** One PATCH of bytes [begin, end) to an upload session; returns where the session stands after it. */
async function patch(
  client: RegistryClient, session: Session, scopes: string[], action: string,
  part: { begin: number; end: number; signal?: AbortSignal; body: () => Promise<Readable> },
): Promise<Session> {
  const res = await client.request({
    method: 'PATCH', url: session.location, scopes, signal: part.signal,
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(part.end - part.begin), 'content-range': `${part.begin}-${part.end - 1}` },
    body: part.body,
  });
  if (res.status !== 202) throw await client.failure(res, action);
  await res.drain();
  return { location: location(client, res, session.location), offset: part.end };
}

async function commit(
  client: RegistryClient, at: URL, digest: string, source: BlobSource | undefined, scopes: string[], signal: AbortSignal | undefined,
  repository: string, onBytes?: (n: number) => void, afterFirstChunk?: () => Promise<void>,
): Promise<void> {
  const url = new URL(at);
  url.searchParams.set('digest', digest);
  const res = await client.request({
    method: 'PUT', url, scopes, signal,
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(source?.size ?? 0) },
    body: source ? () => counted(source.open(0, source.size, signal), onBytes, afterFirstChunk) : undefined,
  });
  if (res.status !== 201) throw await client.failure(res, `Uploading blob ${digest} to ${repository}`);
  await res.drain();
  const got = res.header('docker-content-digest');
  if (got && got !== digest) throw new MllError('REGISTRY_REJECTED', `The registry ${client.registry} stored blob ${digest} as ${got}`);
}

/** Where an upload session stands, or undefined when the registry no longer knows it. */
async function uploadStatus(client: RegistryClient, at: URL, scopes: string[], signal?: AbortSignal): Promise<Session | undefined> {
  const res = await client.request({ method: 'GET', url: at, scopes, signal });
  await res.drain();
  if (res.status !== 204) {
    if (res.status >= 500) throw await client.failure(res, 'Checking an upload session');
    return undefined;
  }
  const m = /^(?:bytes=)?0-(\d+)$/.exec(res.header('range') ?? '');
  const offset = m ? Number(m[1]) + 1 : 0;
  return { location: location(client, res, at), offset };
}

function location(client: RegistryClient, res: HttpResponse, base: URL): URL {
  const value = res.header('location');
  if (!value) throw new MllError('REGISTRY_REJECTED', `The registry ${client.registry} started an upload without a Location`);
  return new URL(value, base);
}

function errText(err: unknown): string {
  return isMllError(err) ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
}

async function counted(stream: Promise<Readable> | Readable, onBytes?: (n: number) => void, afterFirstChunk?: () => Promise<void>): Promise<Readable> {
  const s = await stream;
  if (!onBytes && !afterFirstChunk) return s;
  let first = true;
  async function* gen(): AsyncGenerator<Buffer> {
    for await (const chunk of s as AsyncIterable<Buffer>) {
      onBytes?.(chunk.length);
      yield chunk;
      if (first && afterFirstChunk) await afterFirstChunk();
      first = false;
    }
  }
  return tiedTo(Readable.from(gen(), { objectMode: false }), s);
}
