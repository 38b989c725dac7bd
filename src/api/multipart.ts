import type { IncomingMessage } from 'node:http';
import busboy from 'busboy';
import { MllError } from '../errors.js';
import type { Intake } from '../intake/intake.js';
import { parseMetadataJson, type UploadMetadata } from '../intake/metadata.js';
import type { ReceivedPayload } from '../intake/payload.js';

/**
 * multipart/form-data with a `payload` file part and an optional `metadata` JSON part, in either
 * order. The payload streams straight into the store; a bad metadata part removes it again.
 */
export async function receiveMultipart(req: IncomingMessage, intake: Intake): Promise<{ payload: ReceivedPayload; metadata: UploadMetadata }> {
  const { limits } = intake;
  let parser: busboy.Busboy;
  try {
    parser = busboy({ headers: req.headers, limits: { files: 1, fields: 1, fieldSize: 64 * 1024, fileSize: limits.maxUploadBytes + 1 } });
  } catch (err) {
    throw new MllError('BAD_REQUEST', `Malformed multipart request: ${(err as Error).message}`, { cause: err });
  }
  return new Promise((resolve, reject) => {
    let payload: Promise<ReceivedPayload> | undefined;
    let metadataText: string | undefined;
    let failure: MllError | undefined;
    const fail = (err: MllError) => {
      failure ??= err;
    };

    parser.on('file', (name, stream) => {
      if (name !== 'payload') {
        stream.resume();
        return fail(new MllError('BAD_REQUEST', `Unexpected file part "${name}": send the model as a part named "payload"`));
      }
      payload = intake.receive(stream);
      payload.catch(() => undefined);
    });
    parser.on('field', (name, value, info) => {
      if (name !== 'metadata') return fail(new MllError('BAD_REQUEST', `Unexpected field "${name}": only "payload" and "metadata" are accepted`));
      if (info.valueTruncated) return fail(new MllError('INVALID_METADATA', 'The metadata part is larger than 64 KiB'));
      metadataText = value;
    });
    parser.on('filesLimit', () => fail(new MllError('BAD_REQUEST', 'Send exactly one "payload" file part')));
    parser.on('fieldsLimit', () => fail(new MllError('BAD_REQUEST', 'Send at most one "metadata" part')));
    parser.on('error', (err: Error) => {
      fail(new MllError('BAD_REQUEST', `Malformed multipart request: ${err.message}`, { cause: err }));
      req.unpipe(parser);
      req.resume();
      void settle();
    });
    let settled = false;
    const settle = async () => {
      if (settled) return;
      settled = true;
      const received = payload ? await payload.then((p) => p, (err: unknown) => err) : undefined;
      const payloadError = received instanceof Error ? received : undefined;
      const ok = received && !payloadError ? (received as ReceivedPayload) : undefined;
      try {
        if (failure) throw failure;
        if (payloadError) throw payloadError;
        if (!ok) throw new MllError('BAD_REQUEST', 'The multipart request has no "payload" file part');
        const metadata = metadataText === undefined ? {} : parseMetadataJson(metadataText, 'metadata part');
        resolve({ payload: ok, metadata });
      } catch (err) {
        if (ok) await intake.discard(ok);
        reject(err);
      }
    };
    parser.on('close', () => void settle());
    req.pipe(parser);
  });
}
