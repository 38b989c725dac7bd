import { PassThrough, Writable } from 'node:stream';
import type { ObjectInfo, ObjectStore } from '../storage/object-store.js';

/**
 * A writable that stores what it is given under `key`: a body that ends within `limit` bytes is
 * stored in one put of a Buffer (for the fs store, one synchronous write; for S3, one PUT with its
 * length), and a larger one is streamed, starting with what was held. Most model uploads are small,
 * and a streamed put costs a file stream, a pipeline and its abort machinery per upload. Memory
 * stays bounded by `limit`. `stored` settles once the store's put has: with its info, or its error.
 */
export class SpillingPut extends Writable {
  readonly stored: Promise<ObjectInfo>;
  private held: Buffer[] = [];
  private heldBytes = 0;
  private stream: PassThrough | undefined;
  /** Whether the store's put has started (it then settles `stored` itself). */
  private putStarted = false;
  private resolveStored!: (info: ObjectInfo) => void;
  private rejectStored!: (err: unknown) => void;

  constructor(
    private readonly store: ObjectStore,
    private readonly key: string,
    private readonly limit: number,
    private readonly declaredSize?: number,
  ) {
    super({ highWaterMark: 1024 * 1024 });
    this.stored = new Promise<ObjectInfo>((resolve, reject) => {
      this.resolveStored = resolve;
      this.rejectStored = reject;
    });
    this.stored.catch(() => undefined);
    // A body declared larger than the limit is streamed from its first byte.
    if (declaredSize !== undefined && declaredSize > limit) this.startStream();
  }

  private startStream(): PassThrough {
    const stream = new PassThrough({ highWaterMark: 1024 * 1024 });
    this.stream = stream;
    this.putStarted = true;
    this.store.put(this.key, stream, { size: this.declaredSize }).then(this.resolveStored, (err: unknown) => {
      this.rejectStored(err);
      this.destroy(err instanceof Error ? err : new Error(String(err)));
    });
    for (const chunk of this.held) stream.write(chunk);
    this.held = [];
    return stream;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    if (!this.stream && this.heldBytes + chunk.length <= this.limit) {
      this.held.push(chunk);
      this.heldBytes += chunk.length;
      done();
      return;
    }
    const stream = this.stream ?? this.startStream();
    if (stream.write(chunk)) done();
    else stream.once('drain', () => done());
  }

  override _final(done: (err?: Error | null) => void): void {
    if (this.stream) {
      this.stream.end();
    } else {
      const body = this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held, this.heldBytes);
      this.held = [];
      this.putStarted = true;
      this.store.put(this.key, body, { size: this.declaredSize }).then(this.resolveStored, this.rejectStored);
    }
    this.stored.then(() => done(), (err: unknown) => done(err instanceof Error ? err : new Error(String(err))));
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    const cause = err ?? new Error('The upload was cut off');
    // A streamed put sees the failure and removes what it wrote; a put already started settles
    // `stored` on its own (the caller waits for it before removing the object); nothing else was put.
    this.stream?.destroy(cause);
    if (!this.putStarted) this.rejectStored(cause);
    this.held = [];
    done(err);
  }
}
