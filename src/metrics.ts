import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics of one process, served at /metrics. Modules register their instruments on
 * `metrics.registry` here so names stay in one place. `processMetrics: false` leaves out Node's
 * default instruments (CPU, memory, event loop), for a second thread of a process that reports them once.
 */
export function createMetrics(options: { processMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'mll_process_' });
  return {
    registry,
    stageDuration: new Histogram({
      name: 'mll_stage_duration_seconds',
      help: 'Duration of pipeline stage runs, by stage and outcome',
      labelNames: ['stage', 'outcome'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'mll_queue_jobs',
      help: 'Jobs per stage queue and state',
      labelNames: ['queue', 'state'] as const,
      registers: [registry],
    }),
    versionsByStatus: new Gauge({
      name: 'mll_versions',
      help: 'Versions by status (from the catalogue index)',
      labelNames: ['status'] as const,
      registers: [registry],
    }),
    uploads: new Counter({
      name: 'mll_uploads_total',
      help: 'Upload requests by outcome',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    uploadBytes: new Counter({ name: 'mll_upload_bytes_total', help: 'Payload bytes accepted', registers: [registry] }),
    webhookDeliveries: new Counter({
      name: 'mll_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome (delivered, retrying, gave_up, failed, disabled)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    workerRestarts: new Counter({
      name: 'mll_worker_restarts_total',
      help: 'Workers replaced because they took no job for MLL_WORKER_STUCK_MS while their queue held ready ones, by queue',
      labelNames: ['queue'] as const,
      registers: [registry],
    }),
    httpRequestDuration: new Histogram({
      name: 'mll_http_request_duration_seconds',
      help: 'HTTP request durations by route and status class',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
