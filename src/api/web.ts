import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type RequestHandler, type Response } from 'express';

/**
 * The web interface: plain ES modules and CSS from `web/`, served as they are (no build step).
 * Two middlewares, deliberately not routes, so the OpenAPI walk sees only the API:
 *  - the files of `web/` with a strict Content-Security-Policy;
 *  - a single-page fallback that answers `index.html` to GET/HEAD of a browser page address
 *    (Accept: text/html), never under /api/ or the operational endpoints.
 */

/** Only our own files, no inline script or style, nothing framed; the API is same-origin. */
export const webContentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

const notPages = /^\/(api|healthz|readyz|metrics)(\/|$)/;

/** `web/` next to package.json, from src/api (tsx) or dist/src/api (compiled). */
export function findWebDir(from = path.dirname(fileURLToPath(import.meta.url))): string | undefined {
  let dir = from;
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, 'web');
    if (existsSync(path.join(candidate, 'index.html'))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return undefined;
}

function secureHeaders(res: Response): void {
  res.setHeader('Content-Security-Policy', webContentSecurityPolicy);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  // Files are small and unversioned: always revalidate (ETag / Last-Modified make that cheap).
  res.setHeader('Cache-Control', 'no-cache');
}

export function webInterface(dir = findWebDir()): RequestHandler {
  if (!dir) return (_req, _res, next) => next();
  const files = express.static(dir, {
    index: 'index.html',
    redirect: false,
    dotfiles: 'ignore',
    fallthrough: true,
    setHeaders: secureHeaders,
  });
  const index = path.join(dir, 'index.html');
  const page: RequestHandler = (req, res, next) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || notPages.test(req.path)) return next();
    // Only browsers asking for a page: API clients (JSON, SSE, curl's */*) get the API's 404.
    if (!req.headers.accept?.includes('text/html')) return next();
    secureHeaders(res);
    res.sendFile(index, (err) => {
      if (err) next(err);
    });
  };
  return (req, res, next) => {
    if (notPages.test(req.path)) return next();
    files(req, res, (err?: unknown) => (err ? next(err) : page(req, res, next)));
  };
}
