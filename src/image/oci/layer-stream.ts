import { Readable } from 'node:stream';
import { keys } from '../../domain/keys.js';
import { MllError } from '../../errors.js';
import { isNotFound, type ObjectStore } from '../../storage/object-store.js';
import type { Segment } from './tar.js';

const ZEROS = Buffer.alloc(64 * 1024);

/**
 * Streams bytes [start, end) of a layer described by segments, reading content blobs from the
 * store (with range reads, so a resumed upload starts mid-layer without reading what came before).
 * Memory stays at a chunk or two whatever the layer size.
 */
export function segmentStream(
  store: ObjectStore,
  segments: Segment[],
  range: { start: number; end: number },
  signal?: AbortSignal,
): Readable {
  async function* generate(): AsyncGenerator<Buffer> {
    let pos = 0;
    for (const seg of segments) {
      const len = seg.kind === 'bytes' ? seg.data.length : seg.size;
      const segStart = pos;
      pos += len;
      if (pos <= range.start) continue;
      if (segStart >= range.end) return;
      const from = Math.max(range.start, segStart) - segStart;
      const to = Math.min(range.end, pos) - segStart; // exclusive
      if (seg.kind === 'bytes') yield seg.data.subarray(from, to);
      else if (seg.kind === 'zeros') {
        for (let left = to - from; left > 0; left -= ZEROS.length) yield ZEROS.subarray(0, Math.min(left, ZEROS.length));
      } else {
        signal?.throwIfAborted();
        const key = keys.blob(seg.digest);
        const whole = from === 0 && to === seg.size;
        const body = await store.get(key, whole ? { signal } : { range: { start: from, end: to - 1 }, signal }).catch((err: unknown) => {
          if (!isNotFound(err)) throw err;
          throw new MllError('NOT_FOUND', `The content ${seg.digest} of a model file is no longer in the object store; upload the model again`, {
            cause: err, details: { digest: seg.digest },
          });
        });
        let got = 0;
        for await (const chunk of body as AsyncIterable<Buffer>) {
          got += chunk.length;
          if (got > to - from) break;
          yield chunk;
        }
        if (got !== to - from) {
          body.destroy();
          throw new MllError('INTERNAL', `Content blob ${seg.digest} in the store has the wrong size (expected ${seg.size} bytes)`, {
            details: { digest: seg.digest },
          });
        }
      }
    }
  }
  return Readable.from(generate(), { objectMode: false });
}
