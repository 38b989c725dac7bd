import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import { MllError } from '../errors.js';
import { pipeRequest, RequestCutOff } from './request-pipe.js';

/** Where the payload part goes: the intake streams it into the store while checking it. */
export interface PayloadSink<P> {
  receive(body: Readable): Promise<P>;
  discard(payload: P): Promise<void>;
}

export interface FormSpec {
  /** The text parts accepted, each with its largest size in bytes. */
  fields: Record<string, number>;
  /** The file part that carries the model archive. */
  payload: string;
  /**
   * Text parts are text: decoded as their part says (UTF-8 by default) and kept as UTF-8. Without
   * it they are kept as the bytes sent (Hydrosphere's v1 sends protobuf bytes as a text part).
   */
  textFields?: boolean;
  /** The payload's largest size in bytes, if the parser should stop reading beyond it. */
  maxPayloadBytes?: number;
  /** The error for a text part over its size (default: BAD_REQUEST naming the part and the size). */
  fieldTooLarge?: (name: string, limit: number) => MllError;
}

/**
 * A multipart form with text parts and one file part carrying the model archive, in any order:
 * ours (`payload` and `metadata`) and Hydrosphere's clients' (python-requests, text parts without
 * a content type; the v1 `model_contract` is raw protobuf bytes sent as a plain field, so every
 * field is kept as bytes, never decoded). The archive streams straight into the store; if
 * anything else in the form is wrong, it is removed again.
 */
export async function receiveForm<P>(req: IncomingMessage, sink: PayloadSink<P>, spec: FormSpec): Promise<{ payload: P; fields: Map<string, Buffer> }> {
  const largest = Math.max(1, ...Object.values(spec.fields));
  const charset = spec.textFields ? 'utf8' : 'latin1';
  let parser: busboy.Busboy;
  try {
    const limits = { files: 1, fields: Object.keys(spec.fields).length, fieldSize: largest + 1, ...(spec.maxPayloadBytes === undefined ? {} : { fileSize: spec.maxPayloadBytes + 1 }) };
    // latin1 maps each byte to one character, so Buffer.from(value, 'latin1') gives back the bytes sent.
    parser = busboy({ headers: req.headers, defCharset: charset, limits });
  } catch (err) {
    throw new MllError('BAD_REQUEST', `Malformed multipart request: ${(err as Error).message}`, { cause: err });
  }
  return new Promise((resolve, reject) => {
    let payload: Promise<P> | undefined;
    const fields = new Map<string, Buffer>();
    let failure: MllError | undefined;
    const fail = (err: MllError) => {
      failure ??= err;
    };
    const expected = () => [...Object.keys(spec.fields), spec.payload].map((n) => `"${n}"`).join(', ');

    parser.on('file', (name, stream, info) => {
      // Destroyed with an error when the request is cut off (pipeRequest); the payload's reader hears it on its own.
      stream.on('error', () => undefined);
      if (name !== spec.payload) {
        stream.resume();
        return fail(new MllError('BAD_REQUEST', `Unexpected file part "${name}" (${info.filename}): this route accepts the parts ${expected()}`));
      }
      payload = sink.receive(stream);
      payload.catch(() => undefined);
    });
    parser.on('field', (name, value, info) => {
      const limit = spec.fields[name];
      if (limit === undefined) {
        if (name === spec.payload) return fail(new MllError('BAD_REQUEST', `The "${name}" part must be a file part (with a filename) holding the model's tar.gz`));
        return fail(new MllError('BAD_REQUEST', `Unexpected part "${name}": this route accepts the parts ${expected()}`));
      }
      const bytes = Buffer.from(value, charset);
      if (info.valueTruncated || bytes.length > limit) return fail(spec.fieldTooLarge?.(name, limit) ?? new MllError('BAD_REQUEST', `The "${name}" part is larger than ${limit} bytes`));
      if (fields.has(name)) return fail(new MllError('BAD_REQUEST', `The "${name}" part is sent twice`));
      fields.set(name, bytes);
    });
    parser.on('filesLimit', () => fail(new MllError('BAD_REQUEST', `Send exactly one "${spec.payload}" file part`)));
    parser.on('fieldsLimit', () => fail(new MllError('BAD_REQUEST', `Too many parts: this route accepts the parts ${expected()}`)));
    parser.on('error', (err: Error) => {
      fail(err instanceof RequestCutOff
        ? new MllError('BAD_REQUEST', 'The upload was cut off before its end (the connection closed); send it again', { cause: err })
        : new MllError('BAD_REQUEST', `Malformed multipart request: ${err.message}`, { cause: err }));
      req.unpipe(parser);
      req.resume();
      void settle();
    });
    let settled = false;
    const settle = async () => {
      if (settled) return;
      settled = true;
      const received = payload ? await payload.then((p) => ({ ok: p }), (err: unknown) => ({ err })) : undefined;
      try {
        if (failure) throw failure;
        if (received && 'err' in received) throw received.err;
        if (!received) throw new MllError('BAD_REQUEST', `The multipart request has no "${spec.payload}" file part: send the model as a tar.gz in a part named "${spec.payload}"`);
        resolve({ payload: received.ok, fields });
      } catch (err) {
        if (received && 'ok' in received) await sink.discard(received.ok);
        reject(err);
      }
    };
    parser.on('close', () => void settle());
    pipeRequest(req, parser);
  });
}
