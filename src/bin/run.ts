import { startWorkers, type WorkerPool } from '../../workers/index.js';
import { ensureAdminToken } from '../app/bootstrap-token.js';
import { recoverIfRedisWasLost, watchForRedisLoss } from '../app/recovery.js';
import { createServices, type Services } from '../app/services.js';
import { startWorkersThread, type WorkersThread } from '../app/workers-thread.js';
import { loadConfig, type Config } from '../config.js';
import { errorMessage } from '../errors.js';
import { settleWithin } from '../shared/deadline.js';
import { startApi, type RunningApi } from './server.js';
import { startWorkersProbes, type RunningProbes } from './workers-probes.js';

export interface Running {
  services: Services;
  api?: RunningApi;
  /** The workers, when they run on this thread. */
  workers?: WorkerPool;
  /** The workers, when they run on a thread of their own beside the API (MLL_WORKERS_THREAD). */
  workersThread?: WorkersThread;
  /** The workers' health and metrics listener (MLL_WORKERS_PORT). */
  probes?: RunningProbes;
  stop(): Promise<void>;
}

/**
 * Starts the API, the workers, or both in one process, on one configuration. Before taking work
 * it rebuilds Redis from the object store when Redis has lost its state, and re-enqueues every
 * version that is not terminal (stages are idempotent, so a duplicate is harmless). With both,
 * the workers get a thread of their own unless MLL_WORKERS_THREAD=false; it is up before the API
 * listens (so /readyz answers for a whole process), and learns the API's address once it listens
 * (MLL_PORT=0 picks it then).
 */
export async function run(roles: { api: boolean; workers: boolean }, config: Config = loadConfig()): Promise<Running> {
  const inThread = roles.api && roles.workers && config.workersThread;
  const services = await createServices(config, { servesRequestsOnly: roles.api && (!roles.workers || inThread) });
  const { logger } = services;
  await recoverIfRedisWasLost(services);
  const stopWatching = watchForRedisLoss(services, config.recoveryCheckMs);
  const workers = roles.workers && !inThread ? startWorkers(services) : undefined;
  const probes = workers && config.workersPort !== undefined ? await startWorkersProbes(services, workers, config.workersPort) : undefined;
  let workersThread: WorkersThread | undefined;
  let api: RunningApi | undefined;
  try {
    if (inThread) workersThread = await startWorkersThread(config, logger);
    if (roles.api) await ensureAdminToken(services);
    api = roles.api ? await startApi(services, { moreMetrics: workersThread ? () => workersThread!.metrics() : undefined }) : undefined;
  } catch (err) {
    stopWatching();
    await workersThread?.close(0);
    await services.close();
    throw err;
  }
  if (workersThread) {
    workersThread.useBaseUrl(config.baseUrl);
    void workersThread.crashed.then((err) => logger.error({ err }, "the workers' thread stopped: this process runs no stages until it is restarted"));
  }
  if (api) logger.info({ url: api.url, store: config.store, builder: config.builder, target: config.target }, 'ML Lambda API listening');
  if (workers || workersThread) logger.info({ stages: config.workerStages, probes: probes?.url ?? workersThread?.probesUrl, thread: workersThread !== undefined }, 'ML Lambda workers started');
  let stopping: Promise<void> | undefined;
  return {
    services, api, workers, workersThread, probes,
    stop() {
      stopping ??= (async () => {
        stopWatching();
        if (probes) probes.draining.value = true;
        // Intake stops at once; uploads and stages in flight get the grace period, together.
        await Promise.all([api?.drain(config.shutdownGraceMs), workers?.close(config.shutdownGraceMs), workersThread?.close(config.shutdownGraceMs)]);
        await api?.close();
        await settleWithin(probes?.close() ?? Promise.resolve(), 1_000);
        await services.close();
        services.outages.summary();
      })();
      return stopping;
    },
  };
}

/** Beyond the grace period, what closing may take before the process exits regardless. */
const shutdownOverrunMs = 10_000;

/** Process entry: SIGTERM/SIGINT drain (second signal forces), fatal errors exit non-zero. */
export function main(roles: { api: boolean; workers: boolean }): void {
  run(roles).then((running) => {
    let signals = 0;
    const shutdown = (signal: string) => {
      signals += 1;
      if (signals > 1) process.exit(130);
      const { logger, config } = running.services;
      logger.info({ signal, graceMs: config.shutdownGraceMs }, 'shutting down: no new uploads, draining running stages');
      // Every close has its own deadline; this one covers whatever was missed.
      setTimeout(() => {
        logger.error({ overrunMs: shutdownOverrunMs }, 'shutdown did not finish in time; exiting anyway');
        process.exit(1);
      }, config.shutdownGraceMs + shutdownOverrunMs);
      running.stop().then(() => process.exit(0), (err: unknown) => {
        running.services.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      });
    };
    // A process without its workers would take uploads it never builds: exit, to be restarted.
    void running.workersThread?.crashed.then(() => {
      running.services.logger.error('exiting: the workers thread stopped');
      setTimeout(() => process.exit(1), 5_000).unref();
      running.stop().finally(() => process.exit(1));
    });
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
  }, (err: unknown) => {
    process.stderr.write(`ml-lambda: cannot start: ${errorMessage(err)}\n`);
    process.exit(1);
  });
}
