/**
 * The API client: same-origin JSON with the token from localStorage, errors as ApiError with the
 * API's {code, message, details}, conditional GETs with ETags for polling, and uploads through
 * XMLHttpRequest for their progress events.
 */

const TOKEN_KEY = 'mll.token';
export const API = '/api/v1';

export function getToken() {
  try {
    return localStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';
  }
}

export function setToken(token) {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    /* storage disabled: the token lasts for this page only */
  }
}

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** Listeners for "the API wants a token" (401): the app shows the sign-in prompt. */
const authListeners = new Set();
export function onAuthRequired(listener) {
  authListeners.add(listener);
  return () => authListeners.delete(listener);
}
export function authRequired(error) {
  for (const l of authListeners) l(error);
}

export function authHeaders(headers = {}) {
  const token = getToken();
  return token ? { ...headers, Authorization: `Bearer ${token}` } : headers;
}

async function errorFrom(res) {
  let body = null;
  try {
    body = await res.json();
  } catch {
    /* not JSON */
  }
  const e = body?.error;
  const error = new ApiError(
    res.status,
    e?.code ?? `HTTP_${res.status}`,
    e?.message ?? `The server answered ${res.status} ${res.statusText}`.trim(),
    e?.details,
  );
  if (res.status === 401) authRequired(error);
  return error;
}

/** fetch() of an API path; network failures become ApiError(0, 'NETWORK'). */
async function send(path, init = {}) {
  try {
    return await fetch(path.startsWith('/') ? path : `${API}/${path}`, {
      ...init,
      headers: authHeaders({ Accept: 'application/json', ...(init.headers ?? {}) }),
      cache: 'no-store',
    });
  } catch (err) {
    if (err?.name === 'AbortError') throw err;
    throw new ApiError(0, 'NETWORK', 'The service cannot be reached. Check that ML Lambda is running, then try again.');
  }
}

export async function getJson(path, { signal } = {}) {
  const res = await send(path, { signal });
  if (!res.ok) throw await errorFrom(res);
  return res.json();
}

export async function sendJson(method, path, body, { signal } = {}) {
  const res = await send(path, {
    method,
    signal,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw await errorFrom(res);
  if (res.status === 204) return null;
  return res.json();
}

/**
 * A GET that remembers the ETag of the last answer and sends If-None-Match: returns
 * { changed: false } on 304 and { changed: true, body } otherwise. One instance per resource.
 */
export function conditionalGetter(path) {
  let etag = null;
  let last = null;
  return {
    async get({ signal } = {}) {
      // An explicit Cache-Control keeps fetch from adding "no-cache", which makes servers skip the ETag check.
      const res = await send(path, { signal, headers: etag ? { 'If-None-Match': etag, 'Cache-Control': 'max-age=0' } : {} });
      if (res.status === 304 && last !== null) return { changed: false, body: last };
      if (!res.ok) throw await errorFrom(res);
      etag = res.headers.get('ETag');
      last = await res.json();
      return { changed: true, body: last };
    },
    reset() {
      etag = null;
    },
  };
}

/**
 * Sends a body with XMLHttpRequest (fetch has no upload progress). `onProgress(loaded, total)`.
 * Resolves with the parsed JSON answer; rejects with ApiError. `abort()` cancels.
 */
export function uploadWithProgress(method, path, body, { headers = {}, onProgress } = {}) {
  const xhr = new XMLHttpRequest();
  const done = new Promise((resolve, reject) => {
    xhr.open(method, path);
    for (const [k, v] of Object.entries(authHeaders({ Accept: 'application/json', ...headers }))) xhr.setRequestHeader(k, v);
    xhr.responseType = 'text';
    xhr.upload.addEventListener('progress', (e) => onProgress?.(e.loaded, e.lengthComputable ? e.total : undefined));
    xhr.addEventListener('load', () => {
      let parsed = null;
      try {
        parsed = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        /* not JSON */
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(parsed);
        return;
      }
      const e = parsed?.error;
      const error = new ApiError(xhr.status, e?.code ?? `HTTP_${xhr.status}`, e?.message ?? `The upload failed with HTTP ${xhr.status}`, e?.details);
      if (xhr.status === 401) authRequired(error);
      reject(error);
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, 'NETWORK', 'The upload was interrupted: the service cannot be reached. Try again.')));
    xhr.addEventListener('abort', () => reject(new ApiError(0, 'ABORTED', 'The upload was cancelled.')));
    xhr.send(body);
  });
  return { done, abort: () => xhr.abort() };
}

// Paths of the API, in one place.
export const paths = {
  models: (params) => `${API}/models${query(params)}`,
  model: (name) => `${API}/models/${encodeURIComponent(name)}`,
  versions: (name, params) => `${API}/models/${encodeURIComponent(name)}/versions${query(params)}`,
  version: (name, v) => `${API}/models/${encodeURIComponent(name)}/versions/${v}`,
  contract: (name, v) => `${API}/models/${encodeURIComponent(name)}/versions/${v}/contract`,
  versionEvents: (name, v) => `${API}/models/${encodeURIComponent(name)}/versions/${v}/events`,
  batches: () => `${API}/batches`,
  batch: (id) => `${API}/batches/${encodeURIComponent(id)}`,
  webhooks: () => `${API}/webhooks`,
  webhook: (id) => `${API}/webhooks/${encodeURIComponent(id)}`,
  deliveries: (id, params) => `${API}/webhooks/${encodeURIComponent(id)}/deliveries${query(params)}`,
  redeliver: (id, deliveryId) => `${API}/webhooks/${encodeURIComponent(id)}/deliveries/${encodeURIComponent(deliveryId)}/redeliver`,
};

function query(params) {
  if (!params) return '';
  const entries = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== '');
  return entries.length ? `?${new URLSearchParams(entries.map(([k, v]) => [k, String(v)]))}` : '';
}

/** The value of one query parameter of an API `next` link (the API writes absolute URLs). */
export function cursorOf(next, name) {
  if (!next) return null;
  try {
    return new URL(next, location.origin).searchParams.get(name);
  } catch {
    return null;
  }
}
