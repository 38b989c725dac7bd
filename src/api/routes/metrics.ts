import { Router } from 'express';
import { AggregatorRegistry } from 'prom-client';
import { versionStatuses } from '../../domain/version.js';
import { pipelineQueueNames } from '../../../queues/names.js';
import type { ApiDeps } from '../deps.js';

/**
 * Prometheus metrics. Queue depths and versions by status are read when scraped (gauges set
 * from Redis), so every API process reports the same totals.
 */
export function metricsRouter(deps: Pick<ApiDeps, 'metrics' | 'queue' | 'catalog' | 'moreMetrics'>, extraQueues: string[] = []): Router {
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    const { metrics } = deps;
    for (const name of [...pipelineQueueNames, ...extraQueues]) {
      const counts = await deps.queue(name).getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed', 'waiting-children', 'prioritized');
      for (const [state, n] of Object.entries(counts)) metrics.queueDepth.set({ queue: name, state }, n);
    }
    const byStatus = await deps.catalog.countByStatus();
    for (const status of versionStatuses) metrics.versionsByStatus.set({ status }, byStatus[status] ?? 0);
    const more = await deps.moreMetrics?.();
    if (!more) {
      res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
      return;
    }
    // The two sets name different instruments, or the same ones with values in one set only: summing joins them.
    const merged = AggregatorRegistry.aggregate([await metrics.registry.getMetricsAsJSON(), more]);
    res.type(merged.contentType).send(await merged.metrics());
  });
  return router;
}
