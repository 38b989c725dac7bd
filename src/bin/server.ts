import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from '../api/app.js';
import type { ApiDeps } from '../api/deps.js';
import type { Services } from '../app/services.js';
import { settleWithin } from '../shared/deadline.js';

export interface RunningApi {
  server: http.Server;
  url: string;
  draining: { value: boolean };
  /**
   * Refuses new uploads from now on (503 SHUTTING_DOWN; still listening, so clients get that answer
   * rather than a refused connection) and waits up to `ms` for the requests in flight to end. Event
   * streams are not waited for. Resolves true if nothing was left running.
   */
  drain(ms: number): Promise<boolean>;
  /** Stops listening and cuts every connection still open. Never hangs. */
  close(): Promise<void>;
}

const isEventStream = (req: http.IncomingMessage) => (req.headers.accept ?? '').includes('text/event-stream');

/** Listens with the API; timeouts guard against slow clients without cutting long uploads. */
export async function startApi(services: Services, extra: Pick<ApiDeps, 'moreMetrics'> = {}): Promise<RunningApi> {
  const draining = { value: false };
  const app = createApp({ ...services, ...extra, draining });
  // Node checks header timeouts on this interval; keep it well below the timeout itself.
  const connectionsCheckingInterval = Math.min(30_000, Math.max(100, Math.floor(services.config.httpHeadersTimeoutMs / 2)));
  const server = http.createServer({ connectionsCheckingInterval }, app);
  server.headersTimeout = services.config.httpHeadersTimeoutMs;
  // Uploads can take long; what must not happen is a client that stops sending.
  server.requestTimeout = 0;
  server.timeout = services.config.httpIdleTimeoutMs;
  server.keepAliveTimeout = services.config.httpKeepAliveTimeoutMs;
  const inFlight = new Set<http.ServerResponse>();
  let settled: (() => void) | undefined;
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (isEventStream(req)) return;
    inFlight.add(res);
    res.once('close', () => {
      inFlight.delete(res);
      if (inFlight.size === 0) settled?.();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(services.config.port, services.config.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  if (services.config.port === 0) {
    services.config.baseUrl = services.config.baseUrl.replace(/:0$/, `:${port}`);
  }
  return {
    server,
    url: services.config.baseUrl,
    draining,
    async drain(ms) {
      draining.value = true;
      if (inFlight.size === 0) return true;
      const quiet = new Promise<void>((resolve) => (settled = resolve));
      return (await settleWithin(quiet, ms)) === 'settled';
    },
    async close() {
      draining.value = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await settleWithin(closed, 1_000);
    },
  };
}
