import { createHash, randomUUID } from 'node:crypto';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { smallFileBytes } from '../shared/local-fs.js';
import { SpillingPut } from './spilling-put.js';
import type { ArchiveLimits } from '../archive/entry-policy.js';
import { readArchive, type ArchiveSummary } from '../archive/read-archive.js';
import { keys } from '../domain/keys.js';
import type { PayloadInfo } from '../domain/version.js';
import { isMllError, MllError } from '../errors.js';
import type { ObjectStore } from '../storage/object-store.js';

/** What intake refuses before a version number is spent. */
export interface IntakeLimits {
  maxUploadBytes: number;
  archive: ArchiveLimits;
}

export interface ReceivedPayload extends PayloadInfo {
  uploadId: string;
  /** The client put the bytes in the store itself (a presigned upload): they are its to send again. */
  presigned?: true;
  /** The request that took the presigned upload, when one names it (PresignedUploads.claim's owner). */
  claimedBy?: string;
}

/** Drains an archive entry by entry: the whole policy runs, no entry byte is kept. */
async function validateArchive(stream: Readable, limits: ArchiveLimits): Promise<ArchiveSummary> {
  const gen = readArchive(stream, limits);
  let next = await gen.next();
  while (!next.done) {
    const body = next.value.body;
    if (body) for await (const _ of body) { /* discard */ }
    next = await gen.next();
  }
  return next.value;
}

/**
 * Streams an upload body into the object store while, in the same pass, hashing it and checking
 * it as an archive (format, paths, links, limits). Memory stays flat: the slower of the two
 * consumers sets the pace. If anything fails, the partial object is removed and the archive's
 * own error (more precise than the store's) is raised.
 */
export async function receivePayload(
  body: Readable,
  store: ObjectStore,
  limits: IntakeLimits,
  options: { declaredSize?: number; uploadId?: string; signal?: AbortSignal } = {},
): Promise<ReceivedPayload> {
  if (options.declaredSize !== undefined && options.declaredSize > limits.maxUploadBytes) {
    body.resume();
    throw tooLarge(limits.maxUploadBytes);
  }
  // A body destroyed before it is read (a multipart part whose request was cut off while it waited)
  // has already said so, and would never say so again to the listeners below.
  if (body.destroyed) {
    throw new MllError('BAD_REQUEST', 'The upload was cut off before its end (the connection closed); send it again', { cause: body.errored ?? undefined });
  }
  const uploadId = options.uploadId ?? randomUUID();
  const key = keys.upload(uploadId);
  const hash = createHash('sha256');
  let size = 0;
  const toArchive = new PassThrough({ highWaterMark: 1024 * 1024 });
  const tap = new Transform({
    highWaterMark: 1024 * 1024,
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > limits.maxUploadBytes) return done(tooLarge(limits.maxUploadBytes));
      hash.update(chunk);
      if (toArchive.write(chunk)) return done(null, chunk);
      const resume = () => {
        toArchive.off('close', resume);
        toArchive.off('drain', resume);
        done(null, chunk);
      };
      toArchive.once('drain', resume);
      toArchive.once('close', resume);
    },
    flush(done) {
      toArchive.end();
      done();
    },
  });
  const validation = validateArchive(toArchive, limits.archive);
  validation.catch((err: unknown) => tap.destroy(err instanceof Error ? err : new Error(String(err))));
  // No content type: nothing reads it back, S3 stores bytes as octet-stream by default, and the fs
  // store would write a metadata sidecar per upload for it.
  const sink = new SpillingPut(store, key, smallFileBytes, options.declaredSize);
  // The body is piped, not handed to pipeline(): on failure it must be drained, not destroyed, so
  // the client still gets its error response and a multipart request can go on to its next part.
  const onBodyError = (err: Error) => tap.destroy(err);
  body.once('error', onBodyError);
  body.pipe(tap);
  const feeding = pipeline(tap, sink, { signal: options.signal });
  feeding.catch(() => undefined);
  const putting = sink.stored;
  try {
    const [, summary] = await Promise.all([putting, validation, feeding]);
    body.off('error', onBodyError);
    if (size === 0) throw new MllError('EMPTY_PAYLOAD', 'The upload carried no bytes: send a tar or tar.gz of the model files');
    return {
      uploadId, key, digest: `sha256:${hash.digest('hex')}`, size, format: summary.format,
      files: summary.files, unpackedSize: summary.unpackedBytes,
    };
  } catch (err) {
    // Stop every stream first (so nothing can still be waiting), then let the store's put settle
    // before removing its object: a put that completes after the delete would leave it behind.
    body.unpipe(tap);
    body.off('error', onBodyError);
    body.resume();
    tap.destroy();
    sink.destroy();
    toArchive.destroy();
    const settled = await Promise.allSettled([validation, putting, feeding]);
    await store.delete(key).catch(() => undefined);
    throw meaningful(err, settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : [])));
  }
}

/** The first error, if it says what went wrong; else the most telling of the ones it caused. */
function meaningful(first: unknown, others: unknown[]): unknown {
  if (isMllError(first) && first.code !== 'BAD_REQUEST') return first;
  const explained = others.find((e) => isMllError(e) && e.code !== 'BAD_REQUEST');
  if (explained) return explained;
  if (isClientAbort(first)) return new MllError('BAD_REQUEST', 'The upload was interrupted before it completed', { cause: first });
  return first;
}

function isClientAbort(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || (err as Error)?.message === 'aborted';
}

function tooLarge(limit: number): MllError {
  return new MllError('PAYLOAD_TOO_LARGE', `The upload is larger than ${limit} bytes (MLL_MAX_UPLOAD_BYTES)`, { details: { limit } });
}

/**
 * Checks a payload that reached the store on its own (a presigned upload) exactly as a streamed
 * upload is checked, and hashes it. The object stays where it is; a bad one is removed.
 */
export async function validateStoredPayload(store: ObjectStore, uploadId: string, limits: IntakeLimits): Promise<ReceivedPayload> {
  const key = keys.upload(uploadId);
  const info = await store.stat(key);
  if (info.size > limits.maxUploadBytes) {
    await store.delete(key).catch(() => undefined);
    throw tooLarge(limits.maxUploadBytes);
  }
  if (info.size === 0) {
    await store.delete(key).catch(() => undefined);
    throw new MllError('EMPTY_PAYLOAD', 'The uploaded object is empty: PUT a tar or tar.gz of the model files to the upload URL');
  }
  const hash = createHash('sha256');
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    const source = await store.get(key);
    const summary = await validateArchive(source.pipe(tap), limits.archive);
    return { uploadId, presigned: true, key, digest: `sha256:${hash.digest('hex')}`, size: info.size, format: summary.format, files: summary.files, unpackedSize: summary.unpackedBytes };
  } catch (err) {
    if (isMllError(err) && !err.transient) await store.delete(key).catch(() => undefined);
    throw err;
  }
}
