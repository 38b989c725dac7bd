import http from 'node:http';
import type net from 'node:net';

export interface ProxyRequestLog {
  method: string;
  path: string;
  bodyBytes: number;
  status?: number;
}

/**
 * A counting HTTP proxy in front of a registry: it forwards every request unchanged (Host included,
 * so the registry's upload Locations point back at the proxy) and records each request's method,
 * path and body bytes. `onBody` sees the running total of request body bytes (to stop a registry
 * mid-blob).
 */
export interface CountingProxy {
  host: string;
  requests: ProxyRequestLog[];
  /** Body bytes of blob uploads (PATCH/PUT under /blobs/uploads/). */
  uploadedBytes(): number;
  reset(): void;
  onBody?: (total: number) => void;
  /**
   * Runs before a request is forwarded (to change the registry's storage under it); what it returns
   * runs once the registry has answered, before the client sees the answer.
   */
  around?: (request: ProxyRequestLog) => Promise<(() => Promise<void>) | void>;
  close(): Promise<void>;
}

export async function startCountingProxy(upstream: string): Promise<CountingProxy> {
  const [upHost, upPort] = upstream.split(':');
  const sockets = new Set<net.Socket>();
  let total = 0;
  const proxy: CountingProxy = {
    host: '',
    requests: [],
    uploadedBytes: () => proxy.requests
      .filter((r) => (r.method === 'PATCH' || r.method === 'PUT') && r.path.includes('/blobs/uploads/'))
      .reduce((sum, r) => sum + r.bodyBytes, 0),
    reset() { proxy.requests.length = 0; total = 0; },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
  const server = http.createServer(async (req, res) => {
    const entry: ProxyRequestLog = { method: req.method ?? '', path: req.url ?? '', bodyBytes: 0 };
    proxy.requests.push(entry);
    const after = await proxy.around?.(entry);
    const out = http.request({ host: upHost, port: Number(upPort), method: req.method, path: req.url, headers: req.headers }, async (upRes) => {
      entry.status = upRes.statusCode;
      await after?.();
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
      upRes.on('error', () => res.destroy());
    });
    out.on('error', () => { req.destroy(); res.destroy(); });
    req.on('data', (chunk: Buffer) => {
      entry.bodyBytes += chunk.length;
      total += chunk.length;
      proxy.onBody?.(total);
    });
    req.pipe(out);
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.host = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return proxy;
}
