import type { Worker } from 'bullmq';
import type { Services } from '../src/app/services.js';
import type { WorkerKind } from '../src/config.js';
import path from 'node:path';
import type { StagePorts } from '../src/pipeline/ports.js';
import { sweepScratch } from '../src/pipeline/extract.js';
import { buildStage, extractStage, pushStage } from '../src/pipeline/stages.js';
import { stages, type Stage } from '../src/domain/version.js';
import { startStageWorker, startVersionWorker, type StageChain } from './stage-worker.js';
import { stageRunner, type StageRunner } from './stage-runner.js';
import { startWebhookWorker } from './webhooks.js';
import { settleWithin } from '../src/shared/deadline.js';
import { ActiveJobs, shutdownAbortReason } from './active-jobs.js';
import { WorkerWatchdog, type WatchedWorker } from './watchdog.js';
import { redisSource } from '../src/app/outage-log.js';

/** With nothing left running, how long the workers may take to close before their connections are cut. */
const closeDeadlineMs = 1_000;

export interface WorkerPool {
  workers: Worker[];
  /**
   * Stops taking jobs at once and waits up to `graceMs` for running ones. Then it closes the
   * connections (cutting them if Redis does not answer), and aborts what still runs: those jobs
   * stay active in Redis with a lock that runs out, and another worker takes them over. Resolves
   * within `graceMs` plus a second or two, whatever state Redis is in.
   */
  close(graceMs: number): Promise<void>;
}

export function startWorkers(services: Services): WorkerPool {
  const { config } = services;
  const scratchDir = path.join(config.dataDirAbs, 'work');
  const ports: StagePorts = {
    failpoints: config.failpoints,
    settings: { scratchDir, maxUnpackedBytes: config.maxUnpackedBytes, maxFiles: config.maxFiles, maxPathDepth: config.maxPathDepth, servingYaml: config.servingYaml },
    store: services.store, builder: services.builder, target: services.target, logger: services.logger,
  };
  sweepScratch(scratchDir).then((n) => {
    if (n > 0) services.logger.info({ removed: n }, 'removed scratch directories left by workers that died mid-extract');
  }, (err: unknown) => services.logger.warn({ err }, 'could not sweep scratch directories'));
  const active = new ActiveJobs();
  const concurrency: Record<Stage, number> = { extract: config.extractConcurrency, build: config.buildConcurrency, push: config.pushConcurrency };
  const served = stages.filter((s) => config.workerStages.includes(s));
  const runnerOptions = (s: Stage) => ({ metrics: services.metrics, outages: services.outages, concurrency: concurrency[s] });
  const runnerOf: Record<Stage, () => StageRunner> = {
    extract: () => stageRunner(extractStage, ports, services.catalog, runnerOptions('extract')),
    build: () => stageRunner(buildStage, ports, services.catalog, runnerOptions('build')),
    push: () => stageRunner(pushStage, ports, services.catalog, runnerOptions('push')),
  };
  const chain: StageChain = {
    runners: Object.fromEntries(served.map((s) => [s, runnerOf[s]()])), catalog: services.catalog, flows: services.flows, config,
  };
  // Version jobs run the stages served in a row from extract on: a job for each extract slot, and
  // one more for each of those past extract, up to all their stages' slots.
  const inChain = (s: Stage) => stages.slice(0, stages.indexOf(s) + 1).every((earlier) => served.includes(earlier));
  const chainSlots = { base: concurrency.extract, most: served.filter(inChain).reduce((n, s) => n + concurrency[s], 0) };
  const common = {
    connection: services.queueRedis, prefix: services.queuePrefix, lockMs: config.stageLockMs, outages: services.outages, logger: services.logger,
  };
  const startStage = (stage: Stage) => (jobs: ActiveJobs) => startStageWorker(stage, chain, { ...common, active: jobs, concurrency: concurrency[stage] });
  const start: Record<WorkerKind | 'versions', (jobs: ActiveJobs) => Worker> = {
    versions: (jobs) => startVersionWorker(chain, chainSlots, { ...common, active: jobs }),
    extract: startStage('extract'),
    build: startStage('build'),
    push: startStage('push'),
    webhooks: (jobs) => startWebhookWorker(services, { active: jobs }),
  };
  const watched = (kind: WorkerKind | 'versions'): WatchedWorker => {
    const jobs = active.child();
    return { worker: start[kind](jobs), jobs, restart: () => watched(kind) };
  };
  // A process that serves extract takes version jobs too.
  const pool = [...config.workerStages, ...(served.includes('extract') ? ['versions' as const] : [])].map(watched);
  const workers = pool.map((w) => w.worker);
  const watchdog = new WorkerWatchdog(pool, {
    queue: services.queue, logger: services.logger, metrics: services.metrics, stuckMs: config.workerStuckMs,
    replaced: (index, next) => (workers[index] = next.worker),
  });
  watchdog.start();
  return {
    workers,
    async close(graceMs) {
      watchdog.stop();
      // close() stops fetching at once, then waits for the jobs in flight (and for Redis).
      const closing = Promise.all(workers.map((w) => w.close()));
      const drained = await active.idle(graceMs);
      // Replaced workers fetch nothing already; closed only now, so their jobs' locks were renewed
      // through the grace period. Their fetch loop may never return: not waited for (force).
      const retired = [...watchdog.retiring];
      const all = [...workers, ...retired];
      const closingAll = Promise.all([closing, ...retired.map((w) => w.close(true))]);
      if (!drained) {
        services.logger.warn({ graceMs, running: active.count }, 'jobs still running after the shutdown grace period; leaving them to another worker');
      }
      const quitWithin = drained && !services.outages.isDown(redisSource('queues')) ? closeDeadlineMs : 0;
      if ((await settleWithin(closingAll, quitWithin)) === 'late') {
        // Disconnected first, so an aborted job cannot be recorded as failed: it stays active and
        // its lock runs out. A Redis that is down never answers BullMQ's QUIT either.
        await settleWithin(Promise.all(all.map((w) => w.disconnect())), closeDeadlineMs);
        for (const w of all) w.cancelAllJobs(shutdownAbortReason);
      }
    },
  };
}
