import type { Request } from 'express';

/** The request's media type without parameters, lower case ('' when absent). */
export function mediaType(req: Request): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}
