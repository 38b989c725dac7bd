/**
 * Lets at most `limit` holders in at once; the rest wait in order. `onFull` runs when a caller
 * starts waiting and `onFree` when the last waiter got in and a slot opened again, so a producer
 * can stop and resume its source (e.g. pause reading a request) instead of buffering.
 */
export class Semaphore {
  private held = 0;
  private full = false;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly limit: number,
    private readonly hooks: { onFull?: () => void; onFree?: () => void } = {},
  ) {}

  acquire(): Promise<void> {
    if (this.held < this.limit) {
      this.held += 1;
      return Promise.resolve();
    }
    if (!this.full) {
      this.full = true;
      this.hooks.onFull?.();
    }
    return new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) return next();
    this.held -= 1;
    if (this.full) {
      this.full = false;
      this.hooks.onFree?.();
    }
  }
}
