import { startWorkers, type WorkerPool } from '../../workers/index.js';
import { ensureAdminToken } from '../app/bootstrap-token.js';
import { recoverIfRedisWasLost, watchForRedisLoss } from '../app/recovery.js';
import { createServices, type Services } from '../app/services.js';
import { loadConfig, type Config } from '../config.js';
import { errorMessage } from '../errors.js';
import { settleWithin } from '../shared/deadline.js';
import { startApi, type RunningApi } from './server.js';
import { startWorkersProbes, type RunningProbes } from './workers-probes.js';

export interface Running {
  services: Services;
  api?: RunningApi;
  workers?: WorkerPool;
  /** The workers' health and metrics listener (MLL_WORKERS_PORT). */
  probes?: RunningProbes;
  stop(): Promise<void>;
}

/**
 * Starts the API, the workers, or both in one process, on one configuration. Before taking work
 * it rebuilds Redis from the object store when Redis has lost its state, and re-enqueues every
 * version that is not terminal (stages are idempotent, so a duplicate is harmless).
 */
export async function run(roles: { api: boolean; workers: boolean }, config: Config = loadConfig()): Promise<Running> {
  const services = await createServices(config);
  const { logger } = services;
  await recoverIfRedisWasLost(services);
  const stopWatching = watchForRedisLoss(services, config.recoveryCheckMs);
  const workers = roles.workers ? startWorkers(services) : undefined;
  const probes = workers && config.workersPort !== undefined ? await startWorkersProbes(services, workers, config.workersPort) : undefined;
  if (roles.api) await ensureAdminToken(services);
  const api = roles.api ? await startApi(services) : undefined;
  if (api) logger.info({ url: api.url, store: config.store, builder: config.builder, target: config.target }, 'ML Lambda API listening');
  if (workers) logger.info({ stages: config.workerStages, probes: probes?.url }, 'ML Lambda workers started');
  let stopping: Promise<void> | undefined;
  return {
    services, api, workers, probes,
    stop() {
      stopping ??= (async () => {
        stopWatching();
        if (probes) probes.draining.value = true;
        // Intake stops at once; uploads and stages in flight get the grace period, together.
        await Promise.all([api?.drain(config.shutdownGraceMs), workers?.close(config.shutdownGraceMs)]);
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
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
  }, (err: unknown) => {
    process.stderr.write(`ml-lambda: cannot start: ${errorMessage(err)}\n`);
    process.exit(1);
  });
}
