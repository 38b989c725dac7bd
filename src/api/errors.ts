import type { ErrorRequestHandler, RequestHandler } from 'express';
import { isMllError, MllError, toErrorBody } from '../errors.js';
import type { Logger } from '../log.js';

/** One error shape everywhere: {"error":{"code","message","details"}} with the catalogue's status. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    let error: unknown = err;
    const status = (err as { status?: number; type?: string }).status;
    if (!isMllError(err) && (err as { type?: string }).type === 'entity.parse.failed') {
      error = new MllError('BAD_REQUEST', `The JSON body is not valid: ${(err as Error).message}`);
    } else if (!isMllError(err) && (err as { type?: string }).type === 'entity.too.large') {
      error = new MllError('PAYLOAD_TOO_LARGE', 'The JSON body is too large');
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
    // Refused before the body was read whole: answer, then close rather than drain gigabytes.
    if (!req.complete) res.setHeader('Connection', 'close');
    if (isMllError(error) && error.code === 'RATE_LIMITED' && typeof (error.details as { retryAfter?: number })?.retryAfter === 'number') {
      res.setHeader('Retry-After', String((error.details as { retryAfter: number }).retryAfter));
    }
    res.status(httpStatus).json({ error: body });
  };
}

export const notFound: RequestHandler = (req, _res, next) => {
  next(new MllError('NOT_FOUND', `No route for ${req.method} ${req.path}`));
};
