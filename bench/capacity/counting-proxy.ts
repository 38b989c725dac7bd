import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP reverse proxy on a free loopback port that forwards every request unchanged (Host header
 * included, so S3 signatures and registry Location headers stay valid) to `target`, and counts
 * requests, request body bytes (in) and response body bytes (out) per `classify(method, path)`.
 */
export interface Tally {
  requests: number;
  bytesIn: number;
  bytesOut: number;
}

export interface CountingProxy {
  url: string;
  host: string;
  /** A copy of the counts so far, by class. */
  snapshot(): Map<string, Tally>;
  close(): Promise<void>;
}

export async function startCountingProxy(target: string, classify: (method: string, path: string) => string): Promise<CountingProxy> {
  const upstream = new URL(target);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const counts = new Map<string, Tally>();
  const tally = (key: string) => {
    let t = counts.get(key);
    if (!t) counts.set(key, (t = { requests: 0, bytesIn: 0, bytesOut: 0 }));
    return t;
  };
  const server = http.createServer((req, res) => {
    const t = tally(classify(req.method ?? 'GET', req.url ?? '/'));
    t.requests += 1;
    const out = http.request({
      host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent,
    }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
      answer.on('data', (chunk: Buffer) => (t.bytesOut += chunk.length));
      answer.pipe(res);
    });
    out.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`counting proxy: ${err.message}`);
    });
    req.on('data', (chunk: Buffer) => (t.bytesIn += chunk.length));
    req.pipe(out);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    snapshot: () => new Map([...counts].map(([k, v]) => [k, { ...v }])),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}

/** The difference of two snapshots (after − before), classes with no requests left out. */
export function tallyDelta(after: Map<string, Tally>, before: Map<string, Tally>): Map<string, Tally> {
  const out = new Map<string, Tally>();
  for (const [k, a] of after) {
    const b = before.get(k) ?? { requests: 0, bytesIn: 0, bytesOut: 0 };
    if (a.requests - b.requests > 0) out.set(k, { requests: a.requests - b.requests, bytesIn: a.bytesIn - b.bytesIn, bytesOut: a.bytesOut - b.bytesOut });
  }
  return out;
}

/**
 * S3 requests (path-style: /bucket/storePrefix/key?query) by method and by what the key holds
 * (src/domain/keys.ts).
 */
export const classifyS3 = (storePrefix: string) => (method: string, url: string): string => {
  const [pathPart = '', query = ''] = url.split('?');
  const inBucket = decodeURIComponent(pathPart).replace(/^\/[^/]+\/?/, '');
  const key = inBucket.startsWith(storePrefix) ? inBucket.slice(storePrefix.length) : inBucket;
  const kind = key === '' ? (query.includes('list-type') || query === '' ? 'bucket (list)' : 'bucket')
    : key.startsWith('blobs/') ? 'blobs/'
      : key.startsWith('uploads/') ? 'uploads/'
        : /^models\/.*\/version\.json$/.test(key) ? 'version.json'
          : /^models\/.*\/image\.json$/.test(key) ? 'image.json'
            : key.startsWith('stage-outputs/') ? `stage-outputs/${key.split('/')[1] ?? ''}`
              : `${key.split('/')[0] ?? ''}/`;
  const multipart = /(^|&)uploads(=|&|$)/.test(query) ? ' (multipart start)' : /(^|&)partNumber=/.test(query) ? ' (part)' : /(^|&)uploadId=/.test(query) ? ' (multipart end)' : '';
  return `${method} ${kind}${multipart}`;
};

/** Registry (distribution API v2) requests by method and endpoint kind. */
export function classifyRegistry(method: string, url: string): string {
  const p = url.split('?')[0] ?? '';
  const kind = p === '/v2/' || p === '/v2' ? 'ping'
    : p.includes('/blobs/uploads/') ? 'blob upload'
      : p.includes('/blobs/') ? 'blob'
        : p.includes('/manifests/') ? 'manifest'
          : p.includes('/tags/') ? 'tags' : 'other';
  return `${method} ${kind}`;
}
