import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { promisify } from 'node:util';
import { repoRoot } from '../support/paths.js';

const run = promisify(execFile);

it('the test preload times out a hung test alone, and a test with its own timeout keeps it', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mll-timeout-'));
  try {
    const file = path.join(dir, 'sample.test.mjs');
    await writeFile(file, [
      "import { it } from 'node:test';",
      "it('hangs', () => new Promise((r) => setTimeout(r, 5000)));",
      "it('quick', () => new Promise((r) => setTimeout(r, 10)));",
      "it('slow with its own timeout', { timeout: 5000 }, () => new Promise((r) => setTimeout(r, 1500)));",
    ].join('\n'));
    // A clean environment for the inner runner: inside a test process NODE_TEST_CONTEXT would make it report to us in its binary form.
    const { NODE_TEST_CONTEXT: _inner, ...env } = process.env;
    const out = await run(process.execPath, ['--import', 'tsx', '--import', './test/support/default-test-timeout.ts', '--test', '--test-reporter=tap', file], {
      cwd: repoRoot, env: { ...env, MLL_TEST_TIMEOUT_MS: '800' },
    }).then((r) => r.stdout, (err: { stdout: string }) => err.stdout);
    assert.match(out, /not ok 1 - hangs[\s\S]*test timed out after 800ms/);
    assert.match(out, /\nok 2 - quick/);
    assert.match(out, /\nok 3 - slow with its own timeout/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
