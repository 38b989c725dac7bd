/** Why a stage's signal is aborted at the end of a shutdown's grace period. */
export const shutdownAbortReason = 'the worker is shutting down; the job is left to another worker';

/**
 * Processor calls in flight, so a shutdown knows when its workers have nothing left to finish: the
 * process's, and (`child()`) one worker's, which also count in the process's.
 */
export class ActiveJobs {
  private running = 0;
  private readonly waiters = new Set<() => void>();
  /** Calls started so far. */
  started = 0;

  constructor(private readonly parent?: ActiveJobs) {}

  get count(): number {
    return this.running;
  }

  child(): ActiveJobs {
    return new ActiveJobs(this);
  }

  async track<T>(work: () => Promise<T>): Promise<T> {
    if (this.parent) return this.parent.track(() => this.trackHere(work));
    return this.trackHere(work);
  }

  private async trackHere<T>(work: () => Promise<T>): Promise<T> {
    this.running += 1;
    this.started += 1;
    try {
      return await work();
    } finally {
      this.running -= 1;
      if (this.running === 0) for (const wake of this.waiters) wake();
    }
  }

  /** Resolves true once nothing runs, or false after `timeoutMs` with work still running. */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.running === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(wake);
        resolve(this.running === 0);
      }, timeoutMs);
      // Waiting alone keeps no process alive (the work it waits for does, while it runs).
      timer.unref();
      this.waiters.add(wake);
    });
  }
}

/** Whether a job's signal was aborted by a shutdown (then nothing is recorded: another worker takes the job over). */
export function abortedByShutdown(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true && signal.reason === shutdownAbortReason;
}
