import type { IncomingMessage } from 'node:http';
import type { Writable } from 'node:stream';

/** What a multipart parser is destroyed with when its request's connection closed before the body ended. */
export class RequestCutOff extends Error {
  constructor() {
    super('the connection closed before the request body ended');
    this.name = 'RequestCutOff';
  }
}

/**
 * Pipes a request into a multipart parser, and destroys the parser with RequestCutOff when the
 * request's connection closes before its body ended: a pipe does not pass that on, so the parser,
 * and the part being stored, would wait for bytes that never come and the request never end
 * (holding its Idempotency-Key).
 */
export function pipeRequest(req: IncomingMessage, parser: Writable): void {
  req.once('close', () => {
    if (!req.complete) parser.destroy(new RequestCutOff());
  });
  req.pipe(parser);
}
