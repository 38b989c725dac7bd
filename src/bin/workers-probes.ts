import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { WorkerPool } from '../../workers/index.js';
import { readinessHandler } from '../api/routes/health.js';
import { metricsRouter } from '../api/routes/metrics.js';
import type { Services } from '../app/services.js';

export interface RunningProbes {
  url: string;
  /** Set when the process starts draining: /readyz answers 503, /healthz stays up. */
  draining: { value: boolean };
  close(): Promise<void>;
}

/**
 * The listener of a process that runs the workers (MLL_WORKERS_PORT), for an orchestrator's probes
 * and for scraping:
 *   /healthz  200 while every stage worker's loop runs (or the process drains); 503 when one has
 *             stopped on its own, which only a restart mends
 *   /readyz   Redis, the store, the builder and the target answer (the API's checks)
 *   /metrics  this process's instruments (stage durations, webhook deliveries) and the queue depths
 *             read from Redis when scraped, which is what the workers' autoscaler follows
 * No token is asked: it serves counts and health only, on a port that only the cluster reaches.
 */
export async function startWorkersProbes(services: Services, pool: WorkerPool, port: number): Promise<RunningProbes> {
  const draining = { value: false };
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    const stopped = pool.workers.filter((w) => !w.isRunning()).map((w) => w.name);
    const live = stopped.length === 0 || draining.value;
    res.status(live ? 200 : 503).json({ status: live ? 'ok' : 'stopped', workers: pool.workers.length, stopped });
  });
  app.get('/readyz', readinessHandler({ ...services, draining }));
  app.use(metricsRouter(services));
  const server = http.createServer(app);
  server.keepAliveTimeout = services.config.httpKeepAliveTimeoutMs;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, services.config.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    draining,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
