import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { makeTar, type TarSpec } from '../support/tar.js';

/**
 * Hydrosphere's clients on the wire, byte for byte as HYDROSPHERE.md describes them: python-requests
 * (+ requests_toolbelt's MultipartEncoder) and sseclient-py. Nothing here is ML Lambda code.
 */

export type FormPart = { name: string; value: string | Buffer } | { name: string; file: Buffer; filename: string };

/** requests_toolbelt MultipartEncoder: a uuid4().hex boundary, parts with only Content-Disposition. */
export function requestsMultipart(parts: FormPart[]): { body: Buffer; contentType: string; boundary: string } {
  const boundary = randomBytes(16).toString('hex');
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = 'file' in p
      ? `Content-Disposition: form-data; name="${p.name}"; filename="${p.filename}"`
      : `Content-Disposition: form-data; name="${p.name}"`;
    chunks.push(Buffer.from(`--${boundary}\r\n${disposition}\r\n\r\n`));
    chunks.push('file' in p ? p.file : Buffer.isBuffer(p.value) ? p.value : Buffer.from(p.value, 'utf8'));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}`, boundary };
}

/** What python-requests sends for a cluster address with userinfo: Basic auth from it, and its usual headers. */
export function requestsHeaders(server: string, extra: Record<string, string> = {}): Record<string, string> {
  const url = new URL(server);
  const headers: Record<string, string> = {
    'User-Agent': 'python-requests/2.23.0',
    'Accept-Encoding': 'gzip, deflate',
    Accept: '*/*',
    Connection: 'keep-alive',
    ...extra,
  };
  if (url.username || url.password) {
    headers.Authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
  }
  return headers;
}

export interface WireResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: unknown;
}

function target(server: string, path: string): URL {
  const url = new URL(server);
  url.username = '';
  url.password = '';
  return new URL(path, url);
}

/** One request as python-requests makes it: the whole body with a Content-Length (or chunked for a generator), then the answer. */
export function requestsCall(server: string, method: string, path: string, options: { body?: Buffer | Buffer[]; headers?: Record<string, string> } = {}): Promise<WireResponse> {
  const url = target(server, path);
  const chunked = Array.isArray(options.body);
  const headers = requestsHeaders(server, options.headers);
  if (options.body && !chunked) headers['Content-Length'] = String((options.body as Buffer).length);
  if (chunked) headers['Transfer-Encoding'] = 'chunked';
  if (!options.body && (method === 'POST' || method === 'PUT')) headers['Content-Length'] = '0';
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (chunked) {
      for (const c of options.body as Buffer[]) req.write(c);
      req.end();
    } else req.end(options.body);
  });
}

/** requests' `files={"payload": ("filename", f)}` with the given text fields first (v1 order), or in the order given. */
export async function requestsUpload(server: string, path: string, parts: FormPart[]): Promise<WireResponse> {
  const form = requestsMultipart(parts);
  return requestsCall(server, 'POST', path, { body: form.body, headers: { 'Content-Type': form.contentType } });
}

export interface SseEvent {
  id: string | null;
  event: string;
  data: string;
}

/**
 * sseclient-py 1.7 over `requests.get(url, stream=True)`: resolves with the open response once the
 * headers arrived (as requests does), then yields events as that client dispatches them (comments
 * skipped, events without data not dispatched, trailing newline of data removed) until the
 * connection closes.
 */
export function sseConnect(server: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; contentType: string; events: AsyncGenerator<SseEvent>; close: () => void; body?: string }> {
  const url = target(server, path);
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'GET', headers: requestsHeaders(server, headers), agent: false }, (res) => {
      const close = () => req.destroy();
      if ((res.statusCode ?? 0) >= 300) {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, contentType: String(res.headers['content-type']), events: (async function* () {})(), close, body: Buffer.concat(chunks).toString() }));
        return;
      }
      resolve({ status: res.statusCode!, contentType: String(res.headers['content-type']), events: parse(res), close });
    });
    req.on('error', reject);
    req.end();
  });
}

async function* parse(res: http.IncomingMessage): AsyncGenerator<SseEvent> {
  let pending = '';
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      pending += chunk.toString('utf8');
      let cut: number;
      while ((cut = pending.search(/\r?\n\r?\n/)) >= 0) {
        const block = pending.slice(0, cut);
        pending = pending.slice(cut).replace(/^\r?\n\r?\n/, '');
        const event = toEvent(block);
        if (event) yield event;
      }
    }
  } catch {
    // The connection was closed (by us or the server): the stream is over.
  }
  const last = pending.trim() ? toEvent(pending) : undefined;
  if (last) yield last;
}

function toEvent(block: string): SseEvent | undefined {
  const event: SseEvent = { id: null, event: 'message', data: '' };
  for (const line of block.split(/\r?\n/)) {
    if (!line.trim() || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ +/, '');
    if (field === 'data') event.data += `${value}\n`;
    else if (field === 'id') event.id = value;
    else if (field === 'event') event.event = value;
  }
  if (!event.data) return undefined;
  if (event.data.endsWith('\n')) event.data = event.data.slice(0, -1);
  return event;
}

/** Python's tarfile.open(path, 'w:gz') + tar.add(dir): directory entries first, then their files. */
export function hydrosphereTarball(files: Record<string, string | Buffer>): Promise<Buffer> {
  const dirs = new Set<string>();
  for (const name of Object.keys(files)) {
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  const entries: TarSpec[] = [...[...dirs].sort().map((name) => ({ name, type: 'directory' as const })), ...Object.entries(files).map(([name, body]) => ({ name, body }))];
  return makeTar(entries, { gzip: true });
}
