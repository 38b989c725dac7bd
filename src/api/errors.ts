import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import { isMllError, MllError, toErrorBody } from '../errors.js';
import type { Logger } from '../log.js';
import type { ErrorResponse } from './schemas/common.js';
import { isRedisUnavailable, redisUnavailable } from '../redis/errors.js';

/** One error shape everywhere: {"error":{"code","message","details"}} with the catalogue's status. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    let error: unknown = err;
    const status = (err as { status?: number; type?: string }).status;
    if (!isMllError(err) && (err as { type?: string }).type === 'entity.parse.failed') {
      error = new MllError('BAD_REQUEST', `The JSON body is not valid: ${(err as Error).message}`);
    } else if (!isMllError(err) && (err as { type?: string }).type === 'entity.too.large') {
      error = new MllError('PAYLOAD_TOO_LARGE', 'The JSON body is too large');
    } else if (!isMllError(err) && isRedisUnavailable(err)) {
      error = redisUnavailable(err);
    } else if (!isMllError(err) && status === 400) {
      error = new MllError('BAD_REQUEST', (err as Error).message);
    }
    const body = toErrorBody(error);
    const httpStatus = isMllError(error) ? error.status : 500;
    if (httpStatus >= 500) logger.error({ err, method: req.method, url: req.originalUrl }, 'request failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (!req.complete) drainBriefly(req, res);
    // Any error that knows when a retry may succeed says so (rate limits, a request still in progress).
    if (isMllError(error) && typeof (error.details as { retryAfter?: number })?.retryAfter === 'number') {
      res.setHeader('Retry-After', String((error.details as { retryAfter: number }).retryAfter));
    }
    res.status(httpStatus).json({ error: body } satisfies ErrorResponse);
  };
}

/**
 * Refused before the body was read whole: go on reading (and discarding) what the client still
 * sends for a little while, so it can finish writing and read the answer — a client whose upload
 * is cut off mid-write often never sees the 4xx — but never more than a few seconds or MiB.
 */
function drainBriefly(req: Request, res: Response): void {
  const maxBytes = 16 * 1024 * 1024;
  const socket = req.socket;
  let seen = 0;
  const cut = () => socket.destroy();
  req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > maxBytes) cut();
  });
  req.resume();
  res.once('finish', () => {
    if (req.complete) return;
    const timer = setTimeout(cut, 2000);
    timer.unref();
    req.once('end', () => clearTimeout(timer));
  });
}

export const notFound: RequestHandler = (req, _res, next) => {
  next(new MllError('NOT_FOUND', `No route for ${req.method} ${req.path}`));
};
