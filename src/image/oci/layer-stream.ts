import { Readable } from 'node:stream';
import { keys } from '../../domain/keys.js';
import { isMllError, MllError } from '../../errors.js';
import { getBuffer, isNotFound, type ObjectStore } from '../../storage/object-store.js';
import type { Segment } from './tar.js';

const ZEROS = Buffer.alloc(64 * 1024);
/** Content blobs up to this size are read whole rather than streamed. */
const smallBlobBytes = 256 * 1024;

const wrongSize = (digest: string, size: number) =>
  new MllError('INTERNAL', `Content blob ${digest} in the store has the wrong size (expected ${size} bytes)`, { details: { digest } });

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
        const gone = (err: unknown) => {
          if (!isNotFound(err)) throw err;
          throw new MllError('NOT_FOUND', `The content ${seg.digest} of a model file is no longer in the object store; upload the model again`, {
            cause: err, details: { digest: seg.digest },
          });
        };
        if (whole && seg.size <= smallBlobBytes) {
          // A small file whole: one read of it (a store with getSmall skips the stream).
          const bytes = await getBuffer(store, key, seg.size).catch((err: unknown) => {
            if (isMllError(err) && err.code === 'INTERNAL') throw wrongSize(seg.digest, seg.size);
            return gone(err);
          });
          if (bytes.length !== seg.size) throw wrongSize(seg.digest, seg.size);
          if (bytes.length > 0) yield bytes;
          continue;
        }
        const body = await store.get(key, whole ? { signal } : { range: { start: from, end: to - 1 }, signal }).catch(gone);
        let got = 0;
        for await (const chunk of body as AsyncIterable<Buffer>) {
          got += chunk.length;
          if (got > to - from) break;
          yield chunk;
        }
        if (got !== to - from) {
          body.destroy();
          throw wrongSize(seg.digest, seg.size);
        }
      }
    }
  }
  return Readable.from(generate(), { objectMode: false });
}
