import { createHash, type Hash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { MllError } from '../../errors.js';
import type { UnhashedSource } from './sources.js';

/** One stretch of a layer on its way out: its bytes extend the hash only once `accept` says they arrived. */
export interface HashingPart {
  begin: number;
  end: number;
  /** The bytes, hashed as they are read (a new stream, and a fresh hash, each time it is opened). */
  open(): Promise<Readable>;
  /** The receiver has them all: keep their hash and move on. */
  accept(): void;
}

/**
 * Hashes a new layer in the same pass that publishes it, so a new payload is read once after
 * extraction, not twice. Both image targets write new layers through it: the registry in one PATCH
 * or one per chunk (after a fault it resumes at the last chunk the registry acknowledged, the hash
 * state kept per chunk), the layout in one stream to a temp file. The digest is known once every
 * byte was accepted.
 */
export class HashingReader {
  private hash: Hash = createHash('sha256');
  private accepted = 0;

  constructor(private readonly source: UnhashedSource, private readonly signal?: AbortSignal) {}

  get size(): number {
    return this.source.size;
  }

  /** Bytes accepted so far: where the next part begins. */
  get offset(): number {
    return this.accepted;
  }

  get done(): boolean {
    return this.accepted === this.source.size;
  }

  /** The next part, up to `end` (the rest of the layer by default). */
  part(end = this.source.size): HashingPart {
    const begin = this.accepted;
    if (end <= begin && begin < this.source.size) throw new MllError('INTERNAL', `An empty part at ${begin} of a ${this.source.size}-byte layer`);
    const from = this.hash;
    let hash = from.copy();
    let read = 0;
    return {
      begin,
      end,
      open: async () => {
        hash = from.copy();
        read = 0;
        const stream = await this.source.open(begin, end, this.signal);
        const hashing = new Transform({
          transform(chunk: Buffer, _enc, done) {
            hash.update(chunk);
            read += chunk.length;
            done(null, chunk);
          },
        });
        stream.once('error', (err) => hashing.destroy(err));
        hashing.once('close', () => {
          if (!stream.destroyed) stream.destroy();
        });
        return stream.pipe(hashing);
      },
      accept: () => {
        if (this.accepted !== begin) throw new MllError('INTERNAL', 'A layer part was accepted out of order');
        if (read !== end - begin) throw new MllError('INTERNAL', `A layer came out ${read} bytes long where ${end - begin} were expected`);
        this.hash = hash;
        this.accepted = end;
      },
    };
  }

  /** The receiver lost what it had (a new upload session): start again from the first byte. */
  restart(): void {
    this.hash = createHash('sha256');
    this.accepted = 0;
  }

  /** sha256:<hex> of every byte, once all were accepted. */
  digest(): string {
    if (!this.done) throw new MllError('INTERNAL', `A layer was hashed up to ${this.accepted} of ${this.source.size} bytes only`);
    return `sha256:${this.hash.copy().digest('hex')}`;
  }
}
