import type { Queue, Worker } from 'bullmq';
import type { Logger } from '../src/log.js';
import type { Metrics } from '../src/metrics.js';
import type { ActiveJobs } from './active-jobs.js';

/** One worker of the pool as the watchdog sees it: the jobs its processor runs, and how to start another like it. */
export interface WatchedWorker {
  worker: Worker;
  /** This worker's processor calls (a child of the pool's tracker). */
  jobs: ActiveJobs;
  /** Starts a replacement: a new worker on the same queue with a tracker of its own. */
  restart(): WatchedWorker;
}

export interface WorkerWatchdogOptions {
  queue: (name: string) => Queue;
  logger: Logger;
  metrics?: Metrics;
  /** Jobs ready in its queue while a worker with free slots starts none for this long: it is stuck. */
  stuckMs: number;
  /** Called with each replacement, so the pool lists the live worker. */
  replaced(index: number, next: WatchedWorker, old: WatchedWorker): void;
}

/** How long a replaced worker's running jobs may take before it is closed regardless. */
const retireWaitMs = 60 * 60_000;

/**
 * Restarts a worker that has stopped taking jobs while its queue holds ready ones. BullMQ's
 * workers wait for jobs on a blocking connection of their own; after some Redis failovers
 * (Sentinel above all) that connection can end up closed for good while the worker still
 * reports itself running, and the only mend upstream offers is a new worker (BullMQ issues
 * #3088, #3185, #4378). Healthy workers block for at most 10 s between looks at their queue,
 * so `stuckMs` well above that cannot mistake a quiet worker for a stuck one; a worker whose
 * slots are all busy is never counted as stuck. The old worker is paused (it fetches nothing
 * more) and closed once the jobs it was running have finished.
 */
export class WorkerWatchdog {
  /** Since when each worker has looked stuck, and how many jobs it had started then. */
  private readonly since = new Map<WatchedWorker, { at: number; started: number }>();
  /** Workers replaced and not closed yet (finishing the jobs they had): a shutdown closes them with force. */
  readonly retiring = new Set<Worker>();
  private timer: NodeJS.Timeout | undefined;
  private checking = false;

  constructor(private readonly watched: WatchedWorker[], private readonly options: WorkerWatchdogOptions) {}

  start(): void {
    if (this.options.stuckMs <= 0 || this.timer) return;
    this.timer = setInterval(() => void this.check(), Math.max(100, Math.floor(this.options.stuckMs / 6)));
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One look at every worker; public for tests that drive the clock themselves. */
  async check(now = Date.now()): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      for (const [index, w] of this.watched.entries()) {
        const ready = await this.readyWhileIdle(w);
        const since = this.since.get(w);
        // Stuck: jobs were ready at every look for stuckMs, and it started none of them.
        if (ready === undefined) {
          this.since.delete(w);
          continue;
        }
        if (since === undefined || w.jobs.started !== since.started) this.since.set(w, { at: now, started: w.jobs.started });
        else if (now - since.at >= this.options.stuckMs) this.replace(index, w, ready);
      }
    } finally {
      this.checking = false;
    }
  }

  /** The jobs ready in the worker's queue when it runs with a free slot, else undefined (also when Redis does not answer). */
  private async readyWhileIdle(w: WatchedWorker): Promise<number | undefined> {
    const { worker, jobs } = w;
    if (worker.closing || !worker.isRunning() || jobs.count >= worker.concurrency) return undefined;
    const queue = this.options.queue(worker.name);
    const ready = await queue.getJobCountByTypes('wait', 'prioritized').catch(() => 0);
    if (ready === 0) return undefined;
    // A queue paused on purpose (BullMQ's tools can) holds ready jobs that no worker may take.
    return (await queue.isPaused().catch(() => true)) ? undefined : ready;
  }

  private replace(index: number, old: WatchedWorker, ready: number): void {
    this.since.delete(old);
    const next = old.restart();
    this.watched[index] = next;
    this.options.replaced(index, next, old);
    this.options.metrics?.workerRestarts.inc({ queue: old.worker.name });
    this.options.logger.warn({ queue: old.worker.name, ready, stuckMs: this.options.stuckMs, running: old.jobs.count },
      'a worker took no job for too long while its queue held ready ones (its Redis connection did not recover); started a new one in its place');
    this.retiring.add(old.worker);
    // Paused, it fetches nothing more should its connection come back.
    void old.worker.pause(true).catch(() => undefined);
    // Its jobs finish first (they renew their locks on the other connection); then it is closed
    // without waiting for its fetch loop, which may never return.
    void old.jobs.idle(retireWaitMs)
      .then(() => old.worker.close(true))
      .catch((err: unknown) => this.options.logger.warn({ err, queue: old.worker.name }, 'the stuck worker did not close cleanly'))
      .finally(() => this.retiring.delete(old.worker));
  }
}
