import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { it } from 'node:test';
import { promisify } from 'node:util';
import * as yaml from 'js-yaml';
import { configDocs, loadConfig } from '../../src/config.js';
import { repoRoot } from '../support/paths.js';

const exec = promisify(execFile);
const composeFile = path.join(repoRoot, 'docker-compose.yml');

interface Compose {
  services: Record<string, { image?: string; build?: unknown; command?: string[]; environment?: Record<string, string>; depends_on?: Record<string, unknown> }>;
}

// docker-compose.yml is for users (it pulls MinIO, Redis and registry images, which this machine
// cannot); here it is validated, not started.
it('docker-compose.yml is valid for docker-compose and wires MinIO, Redis, a registry, the API and the workers', async () => {
  await exec('docker-compose', ['-f', composeFile, 'config', '-q'], { cwd: repoRoot });
  const { stdout } = await exec('docker-compose', ['-f', composeFile, 'config'], { cwd: repoRoot });
  const compose = yaml.load(stdout) as Compose;
  assert.deepEqual(Object.keys(compose.services).sort(), ['api', 'minio', 'redis', 'registry', 'workers']);
  assert.deepEqual(compose.services.api!.command, ['node', 'dist/src/bin/api.js']);
  assert.deepEqual(compose.services.workers!.command, ['node', 'dist/src/bin/workers.js']);
  const known = new Set(configDocs.map((d) => d.env));
  for (const role of ['api', 'workers']) {
    const env = compose.services[role]!.environment!;
    for (const name of Object.keys(env)) assert.ok(known.has(name), `${role}: ${name} is not a configuration variable`);
    const config = loadConfig({ ...env, MLL_DATA_DIR: '/data' });
    assert.equal(config.store, 'minio');
    assert.equal(config.target, 'registry');
    for (const dep of ['minio', 'redis', 'registry']) assert.ok(compose.services[role]!.depends_on?.[dep], `${role} waits for ${dep}`);
  }
});

it('the Dockerfile builds the same entry points the compose file runs', () => {
  const dockerfile = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
  assert.match(dockerfile, /RUN npm run build/);
  assert.match(dockerfile, /CMD \["node", "dist\/src\/bin\/all\.js"\]/);
  assert.match(dockerfile, /USER node/);
});
