import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import { isMllError, MllError } from '../errors.js';
import { parseMetadataJson, type UploadMetadata } from '../intake/metadata.js';
import { Semaphore } from '../shared/semaphore.js';
import { pipeRequest, RequestCutOff } from './request-pipe.js';

export type BatchPartHandler = (index: number, model: string, stream: Readable, metadata: UploadMetadata | MllError) => Promise<void>;

/**
 * Parts being stored and released at once; beyond that the request stops being read. Two: one
 * part's store and catalogue round trips overlap the parsing of the next (with an S3 store one
 * alone would wait out every round trip), while more only interleave CPU work on a busy event loop
 * and make every other request wait longer (bench/batch --split, 1,000 tiny parts: p99 GET 42-49
 * ms with four, 32-35 ms with two, the same uploads/s).
 */
const partsInFlight = 2;

/**
 * Streams the parts of a multipart batch to `onPart` as they arrive. One file part per model: its
 * field name is the model name, or it is named `payload` and the `metadata` JSON part just before
 * it names the model (`{"model": "...", "model-type": ..., "labels": ..., "description": ...}`).
 * With `partsInFlight` parts in progress the request is no longer read, so TCP slows the client
 * down instead of hundreds of parts competing with every other request.
 */
export function receiveBatchParts(req: IncomingMessage, onPart: BatchPartHandler): Promise<void> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { fieldSize: 64 * 1024, files: 10_000, parts: 20_000 } });
    } catch (err) {
      reject(new MllError('BAD_REQUEST', `Malformed multipart request: ${(err as Error).message}`, { cause: err }));
      return;
    }
    const slots = new Semaphore(partsInFlight, { onFull: () => req.unpipe(parser), onFree: () => void (parser.destroyed || req.pipe(parser)) });
    // A metadata part applies to the file part that follows it; its mistakes fail that item alone.
    let pending: { model?: string; metadata: UploadMetadata | MllError } | undefined;
    let index = 0;
    let chain = Promise.resolve();
    let failure: unknown;
    parser.on('field', (name, value) => {
      if (name !== 'metadata') {
        pending = { model: name, metadata: new MllError('BAD_REQUEST', `Unexpected field "${name}": a batch has file parts and "metadata" parts`) };
        return;
      }
      try {
        const raw = JSON.parse(value) as Record<string, unknown>;
        const { model, ...rest } = raw ?? {};
        pending = { model: typeof model === 'string' ? model : undefined, metadata: parseMetadataJson(JSON.stringify(rest), 'metadata part') };
      } catch (err) {
        pending = { metadata: isMllError(err) ? err : new MllError('INVALID_METADATA', `A metadata part is not valid JSON: ${(err as Error).message}`) };
      }
    });
    parser.on('file', (name, stream) => {
      // A part cut off with its request is destroyed with an error, also while it waits for a slot
      // or is being drained: its reader learns it from the stream's state (receivePayload), and the
      // error must not go unheard.
      stream.on('error', () => undefined);
      const i = index++;
      const model = name === 'payload' ? pending?.model ?? '' : name;
      const metadata = pending?.metadata ?? {};
      pending = undefined;
      const work = slots.acquire()
        .then(() => onPart(i, model || '(unnamed part)', stream, metadata))
        .catch((err: unknown) => void (failure ??= err))
        .finally(() => slots.release());
      chain = chain.then(() => work);
    });
    parser.on('error', (err: Error) => {
      req.unpipe(parser);
      req.resume();
      const failure = err instanceof RequestCutOff
        ? new MllError('BAD_REQUEST', 'The batch was cut off before its end (the connection closed); send it again with the same Idempotency-Key to go on where it stopped', { cause: err })
        : new MllError('BAD_REQUEST', `Malformed multipart request: ${err.message}`, { cause: err });
      chain.then(() => reject(failure), reject);
    });
    parser.on('close', () => {
      chain.then(() => (failure ? reject(failure) : resolve()), reject);
    });
    pipeRequest(req, parser);
  });
}
