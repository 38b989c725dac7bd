import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ObjectStore } from './object-store.js';

/**
 * Presigned URLs for the fs store: they point at the API's `/api/v1/store/{key}` route and carry
 * an HMAC of method, key and expiry, so the API can accept one PUT (or serve GETs) without a token.
 */
export const storeRoutePath = '/api/v1/store/';

function signature(secret: string, method: string, key: string, expires: number): string {
  return createHmac('sha256', secret).update(`${method}\n${key}\n${expires}`).digest('base64url');
}

export function signStoreUrl(baseUrl: string, secret: string, method: 'GET' | 'PUT', key: string, expires: number): string {
  const url = new URL(storeRoutePath + key.split('/').map(encodeURIComponent).join('/'), baseUrl);
  url.searchParams.set('method', method);
  url.searchParams.set('expires', String(expires));
  url.searchParams.set('signature', signature(secret, method, key, expires));
  return url.toString();
}

export type StoreUrlCheck = { ok: true; key: string } | { ok: false; reason: string };

/** Checks a signed store URL's query against the request's method and the key in its path. */
export function verifyStoreUrl(
  secret: string,
  method: string,
  key: string,
  query: Record<string, unknown>,
  nowSeconds = Math.floor(Date.now() / 1000),
): StoreUrlCheck {
  const expires = Number(query.expires);
  const given = typeof query.signature === 'string' ? query.signature : '';
  if (query.method !== method) return { ok: false, reason: `the URL was signed for ${String(query.method)}, not ${method}` };
  if (!Number.isInteger(expires)) return { ok: false, reason: 'the URL has no expiry' };
  if (expires < nowSeconds) return { ok: false, reason: 'the URL has expired' };
  const expected = Buffer.from(signature(secret, method, key, expires));
  const actual = Buffer.from(given);
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) {
    return { ok: false, reason: 'the URL signature does not match' };
  }
  return { ok: true, key };
}

/**
 * Serves a presigned fs-store URL: `PUT` streams the body into the store, `GET` streams the object.
 * Plain node:http types, so the API mounts it and tests can serve it bare.
 */
export async function serveStoreUrl(
  store: ObjectStore,
  secret: string,
  req: IncomingMessage,
  res: ServerResponse,
  options: { maxBytes: number },
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://store.local');
  const fail = (status: number, code: string, message: string) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code, message } }));
  };
  if (!url.pathname.startsWith(storeRoutePath)) return fail(404, 'NOT_FOUND', 'Not a store URL');
  let key: string;
  try {
    key = url.pathname.slice(storeRoutePath.length).split('/').map(decodeURIComponent).join('/');
  } catch {
    return fail(400, 'BAD_REQUEST', 'The store URL is not valid');
  }
  const method = req.method === 'HEAD' ? 'GET' : req.method ?? '';
  const check = verifyStoreUrl(secret, method, key, Object.fromEntries(url.searchParams));
  if (!check.ok) return fail(403, 'FORBIDDEN', `Presigned URL refused: ${check.reason}`);
  try {
    if (method === 'PUT') {
      const declared = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
      if (declared !== undefined && declared > options.maxBytes) {
        return fail(413, 'PAYLOAD_TOO_LARGE', `The upload is ${declared} bytes; the limit is ${options.maxBytes}`);
      }
      const info = await store.put(key, req, { size: declared });
      res.writeHead(200, { etag: `"${info.etag ?? ''}"` });
      res.end();
      return;
    }
    const info = await store.stat(key);
    res.writeHead(200, { 'content-length': String(info.size), 'content-type': info.contentType ?? 'application/octet-stream' });
    if (req.method === 'HEAD') return void res.end();
    const body = await store.get(key);
    body.pipe(res);
    await new Promise<void>((resolve) => res.once('close', resolve));
  } catch (err) {
    const status = (err as { status?: number }).status ?? 500;
    const code = (err as { code?: string }).code ?? 'INTERNAL';
    if (!res.headersSent) fail(status, code, status === 500 ? 'Internal error' : (err as Error).message);
    else res.destroy();
  }
}
