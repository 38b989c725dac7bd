import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from '../api/app.js';
import type { Services } from '../app/services.js';

export interface RunningApi {
  server: http.Server;
  url: string;
  draining: { value: boolean };
  close(): Promise<void>;
}

/** Listens with the API; timeouts guard against slow clients without cutting long uploads. */
export async function startApi(services: Services): Promise<RunningApi> {
  const draining = { value: false };
  const app = createApp({ ...services, draining });
  // Node checks header timeouts on this interval; keep it well below the timeout itself.
  const connectionsCheckingInterval = Math.min(30_000, Math.max(100, Math.floor(services.config.httpHeadersTimeoutMs / 2)));
  const server = http.createServer({ connectionsCheckingInterval }, app);
  server.headersTimeout = services.config.httpHeadersTimeoutMs;
  // Uploads can take long; what must not happen is a client that stops sending.
  server.requestTimeout = 0;
  server.timeout = services.config.httpIdleTimeoutMs;
  server.keepAliveTimeout = 5_000;
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
    async close() {
      draining.value = true;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    },
  };
}
