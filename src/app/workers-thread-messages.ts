import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { ErrorCode } from '../errors.js';

/** The workers' thread's name in ps -L, top -H and /proc/<pid>/task/<tid>/comm (Linux). */
export const workersThreadName = 'mll-workers';

/** What the main thread asks of the workers' thread (src/app/workers-thread.ts). */
export type ToWorkersThread =
  | { type: 'metrics'; id: number }
  | { type: 'base-url'; url: string }
  | { type: 'close'; graceMs: number };

export type ThreadMetrics = MetricObjectWithValues<MetricValue<string>>[];

/** What the workers' thread (src/bin/workers-thread.ts) tells the main thread. */
export type FromWorkersThread =
  | { type: 'ready'; workers: string[]; probesUrl?: string }
  | { type: 'failed'; code: ErrorCode; message: string }
  | { type: 'metrics'; id: number; metrics: ThreadMetrics }
  | { type: 'closed' };
