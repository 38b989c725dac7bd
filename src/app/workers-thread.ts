import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Config } from '../config.js';
import { MllError } from '../errors.js';
import type { Logger } from '../log.js';
import { settleWithin } from '../shared/deadline.js';
import type { FromWorkersThread, ThreadMetrics, ToWorkersThread } from './workers-thread-messages.js';

/**
 * The stage workers of a process that also serves the API, run on a worker thread (MLL_WORKERS_THREAD):
 * one process still, but stage work (unpacking, hashing, compressing, Lua round trips) no longer
 * queues the API's requests behind it on one event loop, and the two use both cores. The thread
 * builds its own services (connections, store, builder) from the same configuration; everything
 * the two share lives in Redis and the store, as between processes.
 */
export interface WorkersThread {
  /** The workers the thread runs (BullMQ worker names). */
  workers: string[];
  /** The thread's health and metrics listener, when MLL_WORKERS_PORT is set. */
  probesUrl?: string;
  /** The thread's instruments (stage durations, webhook deliveries), to serve with the API's. */
  metrics(): Promise<ThreadMetrics>;
  /** The API's address once it listens (with MLL_PORT=0 the configuration's is a placeholder until then). */
  useBaseUrl(url: string): void;
  /** Stops taking jobs, waits up to `graceMs` for running ones (as WorkerPool.close), then ends the thread. */
  close(graceMs: number): Promise<void>;
  /** Resolves when the thread stops without being asked to (an uncaught error); the process has lost its workers. */
  readonly crashed: Promise<Error>;
}

/** How long the thread may take to answer a metrics request or, beyond the grace period, to close. */
const answerWithinMs = 5_000;

/** Compiled, the thread runs its .js entry; from source (tests, `tsx`), the .ts one through tsx's loader. */
function threadScript(entry: URL): { script: string | URL; eval: boolean } {
  if (path.extname(fileURLToPath(entry)) !== '.ts') return { script: entry, eval: false };
  return { script: `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`, eval: true };
}

const defaultEntry = () => new URL(`../bin/workers-thread${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url);

export async function startWorkersThread(config: Config, logger: Logger, options: { entry?: URL } = {}): Promise<WorkersThread> {
  const { script, eval: isEval } = threadScript(options.entry ?? defaultEntry());
  const thread = new Worker(script, { eval: isEval, workerData: { config }, name: 'ml-lambda workers' });
  const pending = new Map<number, (metrics: ThreadMetrics) => void>();
  let nextId = 0;
  let closing = false;
  let closingDone: Promise<void> | undefined;
  let onClosed: (() => void) | undefined;
  let onReady: ((m: Extract<FromWorkersThread, { type: 'ready' }>) => void) | undefined;
  let onFailed: ((err: Error) => void) | undefined;
  let crash: (err: Error) => void = () => undefined;
  const crashed = new Promise<Error>((resolve) => (crash = resolve));
  const ready = new Promise<Extract<FromWorkersThread, { type: 'ready' }>>((resolve, reject) => {
    onReady = resolve;
    onFailed = reject;
  });
  thread.on('message', (message: FromWorkersThread) => {
    if (message.type === 'ready') onReady?.(message);
    else if (message.type === 'failed') onFailed?.(new MllError(message.code, `the workers' thread could not start: ${message.message}`));
    else if (message.type === 'metrics') pending.get(message.id)?.(message.metrics);
    else onClosed?.();
  });
  let stopped: Error | undefined;
  const stop = (err: Error) => {
    stopped ??= err;
    onFailed?.(err);
    if (!closing) crash(err);
  };
  thread.on('error', (err) => stop(new MllError('INTERNAL', `the workers' thread failed: ${err.message}`, { cause: err })));
  thread.on('exit', (code) => stop(new MllError('INTERNAL', `the workers' thread exited (code ${code})`)));
  const send = (message: ToWorkersThread) => thread.postMessage(message);

  let started: Extract<FromWorkersThread, { type: 'ready' }>;
  try {
    started = await ready;
  } catch (err) {
    closing = true;
    await thread.terminate();
    throw err;
  }
  onFailed = undefined;
  logger.debug({ workers: started.workers, threadId: thread.threadId }, 'workers thread started');
  return {
    workers: started.workers,
    probesUrl: started.probesUrl,
    crashed,
    metrics() {
      if (stopped) return Promise.reject(stopped);
      const id = nextId++;
      return new Promise<ThreadMetrics>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new MllError('TIMEOUT', `the workers' thread did not report its metrics within ${answerWithinMs} ms`));
        }, answerWithinMs);
        pending.set(id, (metrics) => {
          clearTimeout(timer);
          pending.delete(id);
          resolve(metrics);
        });
        send({ type: 'metrics', id });
      });
    },
    useBaseUrl(url) {
      if (!stopped) send({ type: 'base-url', url });
    },
    close(graceMs) {
      closing = true;
      closingDone ??= (async () => {
        if (stopped) return;
        const closed = new Promise<void>((resolve) => (onClosed = resolve));
        send({ type: 'close', graceMs });
        if ((await settleWithin(closed, graceMs + answerWithinMs)) === 'late') {
          logger.warn({ graceMs }, "the workers' thread did not close in time; stopping it");
        }
        await thread.terminate();
      })();
      return closingDone;
    },
  };
}
