import type { Worker } from 'bullmq';
import type { Services } from '../src/app/services.js';
import path from 'node:path';
import type { StagePorts } from '../src/pipeline/ports.js';
import { parseFailpoints } from '../src/failpoints.js';
import { sweepScratch } from '../src/pipeline/extract.js';
import { startBuildWorker } from './build.js';
import { startExtractWorker } from './extract.js';
import { startPushWorker } from './push.js';
import { startWebhookWorker } from './webhooks.js';

export interface WorkerPool {
  workers: Worker[];
  /**
   * Stops taking jobs and waits up to `graceMs` for running stages; after that, aborts them.
   * Their jobs are left to be taken over by another worker once their locks expire.
   */
  close(graceMs: number): Promise<void>;
}

export function startWorkers(services: Services): WorkerPool {
  const { config } = services;
  const scratchDir = path.join(config.dataDirAbs, 'work');
  const ports: StagePorts = {
    failpoints: config.failpoints ? parseFailpoints(config.failpoints) : undefined,
    settings: { scratchDir, maxUnpackedBytes: config.maxUnpackedBytes, maxFiles: config.maxFiles, maxPathDepth: config.maxPathDepth, servingYaml: config.servingYaml },
    store: services.store, builder: services.builder, target: services.target, logger: services.logger,
  };
  sweepScratch(scratchDir).then((n) => {
    if (n > 0) services.logger.info({ removed: n }, 'removed scratch directories left by workers that died mid-extract');
  }, (err: unknown) => services.logger.warn({ err }, 'could not sweep scratch directories'));
  const common = { connection: services.queueRedis, prefix: services.queuePrefix, metrics: services.metrics, lockMs: config.stageLockMs };
  const workers = [
    startExtractWorker(ports, services.catalog, { ...common, concurrency: config.extractConcurrency }),
    startBuildWorker(ports, services.catalog, { ...common, concurrency: config.buildConcurrency }),
    startPushWorker(ports, services.catalog, { ...common, concurrency: config.pushConcurrency }),
    startWebhookWorker(services),
  ];
  return {
    workers,
    async close(graceMs) {
      const graceful = Promise.all(workers.map((w) => w.close()));
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
      const outcome = await Promise.race([graceful.then(() => 'done' as const), deadline]);
      clearTimeout(timer);
      if (outcome === 'late') {
        services.logger.warn({ graceMs }, 'stages still running after the shutdown grace period; aborting them');
        await Promise.all(workers.map((w) => w.close(true)));
      }
    },
  };
}
