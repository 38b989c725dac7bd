import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { it } from 'node:test';
import { promisify } from 'node:util';
import { repoRoot } from '../support/paths.js';
import { services, testBucket } from '../support/services.js';
import { uniqueName } from '../support/unique.js';

const run = promisify(execFile);

/** Streams `mib` MiB of unknown length to S3 in a child process that does nothing else; returns its RSS growth. */
async function growthMiB(mib: number): Promise<number> {
  const s3 = services.s3();
  const script = path.join(repoRoot, 'test', 'storage', 'memory-child.ts');
  const { stdout } = await run(process.execPath, ['--import', 'tsx', script], {
    cwd: repoRoot,
    env: { ...process.env, MEM_BUCKET: testBucket, MEM_PREFIX: `${uniqueName('mem')}/`, MEM_MIB: String(mib), S3_ENDPOINT: s3.endpoint },
    maxBuffer: 1 << 20,
  });
  const result = JSON.parse(stdout.trim().split('\n').pop()!) as { peakRssMiB: number; baselineMiB: number; size: number };
  assert.equal(result.size, mib * 1024 * 1024);
  return result.peakRssMiB - result.baselineMiB;
}

/**
 * The MinIO client would buffer whole parts of up to 528 MiB for a stream of unknown length; the
 * adapter holds at most three 8 MiB parts. Peak RSS (VmHWM) must not grow with the object's size.
 */
it('uploads streams of unknown length to S3 with flat memory (128 MiB and 512 MiB)', async () => {
  const small = await growthMiB(128);
  const large = await growthMiB(512);
  assert.ok(small < 100 && large < 100, `RSS grew by ${small.toFixed(0)} MiB (128 MiB) and ${large.toFixed(0)} MiB (512 MiB); expected < 100`);
  assert.ok(large - small < 40, `4x the bytes cost ${(large - small).toFixed(0)} MiB more memory; it should cost about nothing`);
});
