// The stage workers of a process that also serves the API, on a thread of their own
// (MLL_WORKERS_THREAD; started and spoken to by src/app/workers-thread.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { startWorkers } from '../../workers/index.js';
import { createServices } from '../app/services.js';
import { nameThisThread } from '../app/thread-name.js';
import { lowerThisThreadPriority } from '../app/thread-priority.js';
import { workersThreadName, type FromWorkersThread, type ToWorkersThread } from '../app/workers-thread-messages.js';
import type { Config } from '../config.js';
import { errorMessage, isMllError } from '../errors.js';
import { createLogger } from '../log.js';
import { createMetrics } from '../metrics.js';
import { startWorkersProbes } from './workers-probes.js';

const port = parentPort!;
const { config } = workerData as { config: Config };
const send = (message: FromWorkersThread) => port.postMessage(message);

try {
  nameThisThread(workersThreadName);
  const niced = lowerThisThreadPriority(config.workersThreadNice);
  // Process-wide instruments (CPU, memory) are the main thread's to report; counted here too they would double.
  const services = await createServices(config, { logger: createLogger(config.logLevel, { thread: 'workers' }), metrics: createMetrics({ processMetrics: false }) });
  if (!niced) services.logger.info({ nice: config.workersThreadNice }, "this platform cannot lower one thread's priority; the workers' thread runs at the API's");
  const pool = startWorkers(services);
  const probes = config.workersPort !== undefined ? await startWorkersProbes(services, pool, config.workersPort) : undefined;
  port.on('message', (message: ToWorkersThread) => {
    if (message.type === 'metrics') {
      void services.metrics.registry.getMetricsAsJSON().then((metrics) => send({ type: 'metrics', id: message.id, metrics }));
      return;
    }
    if (message.type === 'base-url') {
      // Read where it is needed (batch links, fs upload URLs), so setting it here reaches them.
      config.baseUrl = message.url;
      return;
    }
    if (probes) probes.draining.value = true;
    void (async () => {
      try {
        await pool.close(message.graceMs);
        await probes?.close();
        await services.close();
      } finally {
        send({ type: 'closed' });
        port.close();
      }
    })();
  });
  send({ type: 'ready', workers: pool.workers.map((w) => w.name), probesUrl: probes?.url });
} catch (err) {
  send({ type: 'failed', code: isMllError(err) ? err.code : 'INTERNAL', message: errorMessage(err) });
  port.close();
}
