import net from 'node:net';

/**
 * A TCP proxy in front of a real service, which a test can take down (refusing and cutting
 * connections) and bring back, without stopping the service other tests share.
 */
export interface TcpProxy {
  host: string;
  port: number;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;
  const listen = () => new Promise<void>((resolve, reject) => {
    if (server) return resolve();
    server = net.createServer((client) => {
      const upstream = net.connect(targetPort, targetHost);
      sockets.add(client);
      sockets.add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream).pipe(client);
    });
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      port = (server!.address() as net.AddressInfo).port;
      resolve();
    });
  });
  const stop = () => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy();
    sockets.clear();
    if (!server) return resolve();
    server.close(() => resolve());
    server = undefined;
  });
  await listen();
  return {
    host: '127.0.0.1',
    get port() {
      return port;
    },
    down: stop,
    up: listen,
    close: stop,
  };
}

/** A proxy that cuts one request midway: see startCuttingProxy. */
export interface CuttingProxy {
  url: string;
  /** Connections whose request started with the watched prefix, cut or not. */
  matched: number;
  /** Whether the cut was made. */
  cut: boolean;
  /** When the last connection with the watched request started (ms since the epoch). */
  lastMatchedAt: number | undefined;
  close(): Promise<void>;
}

/**
 * A TCP proxy that passes everything through, except that it cuts (both ways, at once) the first
 * connection whose first request (a connection's first bytes) starts with `requestPrefix` (e.g. "POST /api/v1/batches") once `afterBytes` of it
 * have gone upstream: a client's request cut off midway, as a dropped connection or a stopped API cut it.
 */
export async function startCuttingProxy(targetHost: string, targetPort: number, requestPrefix: string, afterBytes: number): Promise<CuttingProxy> {
  const sockets = new Set<net.Socket>();
  const state: { matched: number; cut: boolean; lastMatchedAt?: number } = { matched: 0, cut: false };
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, targetHost);
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    let watched: boolean | undefined;
    let sent = 0;
    client.on('data', (chunk: Buffer) => {
      if (watched === undefined) {
        const matches = chunk.subarray(0, requestPrefix.length).toString('latin1') === requestPrefix;
        if (matches) {
          state.matched += 1;
          state.lastMatchedAt = Date.now();
        }
        watched = matches && !state.cut;
      }
      sent += chunk.length;
      if (watched && sent >= afterBytes) {
        state.cut = true;
        drop();
        return;
      }
      if (!upstream.write(chunk)) {
        client.pause();
        upstream.once('drain', () => client.resume());
      }
    });
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    get matched() {
      return state.matched;
    },
    get cut() {
      return state.cut;
    },
    get lastMatchedAt() {
      return state.lastMatchedAt;
    },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
