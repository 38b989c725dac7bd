import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../support/paths.js';
import { services } from '../support/services.js';
import { pull } from './support.js';

const runtimeDir = path.join(repoRoot, 'runtimes', 'python');

describe('the Python runtime\'s own unit tests (stdlib unittest, in the runtime image)', () => {
  it('pass against the sources in this checkout', () => {
    const image = services.baseImages().python;
    pull(image);
    // The checkout's sources, run by the image's Python with its Debian packages.
    const r = spawnSync('docker', [
      'run', '--rm', '-v', `${runtimeDir}/app:/app/src:ro`, '-v', `${runtimeDir}/tests:/app/tests:ro`, '-e', 'PYTHONDONTWRITEBYTECODE=1',
      image, 'python3', '-m', 'unittest', 'discover', '-s', '/app/tests', '-t', '/app', '-v',
    ], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    const ran = /Ran (\d+) tests/.exec(r.stderr);
    assert.ok(ran && Number(ran[1]) >= 30, `expected the whole unittest suite to run:\n${r.stderr}`);
    assert.match(r.stderr, /\nOK\n/);
  });

  it('have generated protobuf modules that match the .proto files (gen-protos.sh --check)', () => {
    const r = spawnSync('bash', [path.join(runtimeDir, 'gen-protos.sh'), '--check'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });
});
