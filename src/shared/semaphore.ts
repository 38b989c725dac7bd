/**
 * Lets at most `limit` holders in at once; the rest wait in order. `onFull` runs when a caller
 * starts waiting and `onFree` once nobody waits any more (the last waiter got in), so a producer
 * can stop and resume its source (e.g. pause reading a request) instead of buffering. Resuming
 * then, and not only at the next free slot, matters: the last waiter may itself need more of the
 * source to finish (a part of a request whose body has not all arrived), and with one slot
 * nothing else would ever free one.
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
    if (next) {
      next();
      if (this.waiting.length === 0) this.resume();
      return;
    }
    this.held -= 1;
    this.resume();
  }

  private resume(): void {
    if (!this.full) return;
    this.full = false;
    this.hooks.onFree?.();
  }
}
