import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { it } from 'node:test';
import { promisify } from 'node:util';
import { repoRoot } from '../support/paths.js';
import { services, testBucket } from '../support/services.js';
import { uniqueName } from '../support/unique.js';

const run = promisify(execFile);

/**
 * The MinIO client buffers one part per upload in memory. With the adapter's fixed part size a
 * 256 MiB stream of unknown length must not need more than a few parts of RAM: measured as the
 * peak RSS (VmHWM) of a child process that does nothing else.
 */
it('uploads a 256 MiB stream of unknown length to S3 with flat memory', async () => {
  const s3 = services.s3();
  const script = path.join(repoRoot, 'test', 'storage', 'memory-child.ts');
  const { stdout } = await run(process.execPath, ['--import', 'tsx', script], {
    cwd: repoRoot,
    env: { ...process.env, MEM_BUCKET: testBucket, MEM_PREFIX: `${uniqueName('mem')}/`, MEM_MIB: '256', S3_ENDPOINT: s3.endpoint },
    maxBuffer: 1 << 20,
  });
  const result = JSON.parse(stdout.trim().split('\n').pop()!) as { peakRssMiB: number; baselineMiB: number; size: number };
  assert.equal(result.size, 256 * 1024 * 1024);
  const growth = result.peakRssMiB - result.baselineMiB;
  assert.ok(growth < 100, `peak RSS grew by ${growth.toFixed(0)} MiB while streaming 256 MiB (expected < 100)`);
});
