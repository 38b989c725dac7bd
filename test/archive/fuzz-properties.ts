import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { readArchive } from '../../src/archive/read-archive.js';
import { isMllError } from '../../src/errors.js';
import type { FuzzTier } from '../support/fuzz-tier.js';
import { bufferStream, makeTar } from '../support/tar.js';

const limits = { maxUnpackedBytes: 1 << 20, maxEntries: 200, maxDepth: 16 };
const seed = 20261125;

/** Reads an archive to the end; resolves with 'ok' or the error; never takes more than 2 s. */
async function outcome(bytes: Uint8Array): Promise<unknown> {
  const run = (async () => {
    const gen = readArchive(bufferStream(Buffer.from(bytes), 257), limits);
    for (let n = await gen.next(); !n.done; n = await gen.next()) {
      if (n.value.body) for await (const _ of n.value.body) { /* drain */ }
    }
    return 'ok';
  })().catch((err: unknown) => err);
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise((resolve) => (timer = setTimeout(() => resolve(new Error('hung')), 2000)));
  const result = await Promise.race([run, hang]);
  clearTimeout(timer);
  return result;
}

const expectTypedOrOk = (r: unknown) => r === 'ok' || (isMllError(r) && ['INVALID_ARCHIVE', 'UNSAFE_ARCHIVE', 'ARCHIVE_TOO_LARGE', 'EMPTY_PAYLOAD'].includes(r.code));

/**
 * The archive reader's property tests: registered by fuzz.unit.test.ts (a tenth of the runs) and
 * fuzz-deep.test.ts (all of them).
 */
export function archiveFuzzTests(tier: FuzzTier): void {
  describe(`archive reader fuzz${tier.label}`, () => {
    it('random bytes never crash or hang the archive reader: a typed error every time', async () => {
      await fc.assert(fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 4096 }), fc.boolean(), async (bytes, gzip) => {
        const r = await outcome(gzip ? gzipSync(bytes) : bytes);
        assert.ok(expectTypedOrOk(r), String(r));
      }), { seed, numRuns: tier.runs(1500) });
    });

    it('mutated real archives (flipped, cut, spliced bytes) give a typed error or a safe result', async () => {
      const base = await makeTar([
        { name: 'serving.yaml', body: 'kind: Model\nname: x\n' },
        { name: 'src/', type: 'directory' },
        { name: 'src/func_main.py', body: 'def f(x):\n  return x\n'.repeat(20) },
        { name: 'link', type: 'symlink', linkname: 'src/func_main.py' },
      ]);
      const mutation = fc.oneof(
        fc.record({ kind: fc.constant('flip' as const), at: fc.nat(base.length - 1), value: fc.integer({ min: 0, max: 255 }) }),
        fc.record({ kind: fc.constant('cut' as const), at: fc.nat(base.length - 1) }),
        fc.record({ kind: fc.constant('splice' as const), at: fc.nat(base.length - 1), bytes: fc.uint8Array({ minLength: 1, maxLength: 600 }) }),
      );
      await fc.assert(fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean(), async (mutations, gzip) => {
        let bytes = Buffer.from(base);
        for (const m of mutations) {
          const at = Math.min(m.at, bytes.length - 1);
          if (m.kind === 'flip') bytes[at] = m.value;
          else if (m.kind === 'cut') bytes = bytes.subarray(0, at);
          else bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(m.bytes), bytes.subarray(at)]);
          if (bytes.length === 0) break;
        }
        const r = await outcome(gzip ? gzipSync(bytes) : bytes);
        assert.ok(expectTypedOrOk(r), String(r));
      }), { seed, numRuns: tier.runs(1500) });
    });
  });
}
