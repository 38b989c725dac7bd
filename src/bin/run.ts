import { startWorkers, type WorkerPool } from '../../workers/index.js';
import { ensureAdminToken } from '../app/bootstrap-token.js';
import { recoverIfRedisWasLost, watchForRedisLoss } from '../app/recovery.js';
import { createServices, type Services } from '../app/services.js';
import { loadConfig, type Config } from '../config.js';
import { errorMessage } from '../errors.js';
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
  if (workers) logger.info({ stages: ['extract', 'build', 'push'], probes: probes?.url }, 'ML Lambda workers started');
  let stopping: Promise<void> | undefined;
  return {
    services, api, workers, probes,
    stop() {
      stopping ??= (async () => {
        stopWatching();
        if (probes) probes.draining.value = true;
        await api?.close();
        await workers?.close(config.shutdownGraceMs);
        await probes?.close();
        await services.close();
      })();
      return stopping;
    },
  };
}

/** Process entry: SIGTERM/SIGINT drain (second signal forces), fatal errors exit non-zero. */
export function main(roles: { api: boolean; workers: boolean }): void {
  run(roles).then((running) => {
    let signals = 0;
    const shutdown = (signal: string) => {
      signals += 1;
      if (signals > 1) process.exit(130);
      running.services.logger.info({ signal }, 'shutting down: no new uploads, draining running stages');
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
