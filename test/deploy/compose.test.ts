import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import * as yaml from 'js-yaml';
import { configDocs, loadConfig, type Config } from '../../src/config.js';
import { parseReference } from '../../src/image/registry/reference.js';
import { repoRoot } from '../support/paths.js';

const exec = promisify(execFile);
const composeFile = path.join(repoRoot, 'docker-compose.yml');

interface ComposeService {
  image?: string;
  build?: { context: string };
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  ports?: { published: number; target: number }[];
  healthcheck?: { test: string[] };
  stop_grace_period?: string;
}
interface Compose {
  services: Record<string, ComposeService>;
}

// docker-compose.yml is for users (it pulls MinIO, Redis and registry images, which this machine
// cannot): here it is rendered by docker-compose and checked; test/deploy/public-endpoints.test.ts
// runs the same internal/public topology on the local services.
describe('docker-compose.yml', () => {
  let dir: string;

  /** `docker-compose config` with an .env file of these values and nothing from this process's env. */
  async function render(dotEnv: Record<string, string> = {}): Promise<Compose> {
    const envFile = path.join(dir, `${Object.keys(dotEnv).length}-${Date.now()}.env`);
    await fs.writeFile(envFile, Object.entries(dotEnv).map(([k, v]) => `${k}=${v}\n`).join(''));
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir };
    await exec('docker-compose', ['-f', composeFile, '--env-file', envFile, 'config', '-q'], { cwd: repoRoot, env });
    const { stdout } = await exec('docker-compose', ['-f', composeFile, '--env-file', envFile, 'config'], { cwd: repoRoot, env });
    return yaml.load(stdout) as Compose;
  }
  const configOf = (service: ComposeService): Config => loadConfig({ ...service.environment, MLL_DATA_DIR: '/data' });
  const published = (service: ComposeService, target: number) => service.ports?.find((p) => p.target === target)?.published;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mll-compose-'));
  });
  after(() => fs.rm(dir, { recursive: true, force: true }));

  it('runs MinIO, Redis, a registry, the API and the workers from images pinned to versions', async () => {
    const compose = await render();
    assert.deepEqual(Object.keys(compose.services).sort(), ['api', 'minio', 'redis', 'registry', 'workers']);
    assert.deepEqual(compose.services.api!.command, ['node', 'dist/src/bin/api.js']);
    assert.deepEqual(compose.services.workers!.command, ['node', 'dist/src/bin/workers.js']);
    for (const [name, service] of Object.entries(compose.services)) {
      assert.ok(service.image, `${name} names its image`);
      const ref = parseReference(service.image);
      assert.ok(ref.tag && ref.tag !== 'latest' && service.image.endsWith(`:${ref.tag}`), `${name}: ${service.image} is pinned to a version`);
    }
  });

  it('the service talks to the stack by service name; clients get the published localhost ports', async () => {
    const compose = await render();
    const known = new Set(configDocs.map((d) => d.env));
    for (const role of ['api', 'workers']) {
      const service = compose.services[role]!;
      for (const name of Object.keys(service.environment!)) assert.ok(known.has(name), `${role}: ${name} is not a configuration variable`);
      const config = configOf(service);
      assert.equal(config.store, 'minio');
      assert.equal(config.target, 'registry');
      // Inside: compose service names and their container ports.
      const s3 = new URL(config.s3Endpoint!);
      assert.ok(compose.services[s3.hostname], `${s3.hostname} is a service of the stack`);
      const [registryHost, registryPort] = config.registry!.split(':');
      assert.ok(compose.services[registryHost!], `${registryHost} is a service of the stack`);
      // Outside: the ports those services publish on this machine.
      const s3Public = new URL(config.s3PublicEndpoint!);
      assert.equal(s3Public.hostname, 'localhost');
      assert.equal(Number(s3Public.port), published(compose.services[s3.hostname]!, Number(s3.port)));
      const [publicHost, publicPort] = config.registryPublic!.split(':');
      assert.equal(publicHost, 'localhost');
      assert.equal(Number(publicPort), published(compose.services[registryHost!]!, Number(registryPort)));
      const api = new URL(config.publicUrl!);
      assert.equal(api.hostname, 'localhost');
      assert.equal(Number(api.port), published(compose.services.api!, 8080), 'MLL_PUBLIC_URL is the API\'s published port');
      // The credentials MinIO is started with are the ones the service uses.
      assert.equal(compose.services.minio!.environment!.MINIO_ROOT_USER, config.s3AccessKey);
      assert.equal(compose.services.minio!.environment!.MINIO_ROOT_PASSWORD, config.s3SecretKey);
    }
  });

  it('the Python runtime is configured, and the README pushes exactly that image to the stack\'s registry', async () => {
    const compose = await render();
    const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const push = /^docker build -t (\S+) runtimes\/python && docker push (\S+)$/m.exec(readme);
    assert.ok(push, 'the README builds and pushes the runtime');
    assert.equal(push[1], push[2]);
    for (const role of ['api', 'workers']) {
      const config = configOf(compose.services[role]!);
      const inside = parseReference(config.runtimes.python!);
      const pushed = parseReference(push[1]!);
      assert.equal(inside.registry, config.registry, 'the runtime lives in the stack\'s registry');
      assert.equal(pushed.registry, config.registryPublic, 'pushed from this machine through the published port');
      assert.deepEqual([pushed.repository, pushed.tag], [inside.repository, inside.tag]);
    }
  });

  it('health checks, start order on healthy dependencies, and a stop grace above the drain time', async () => {
    const compose = await render();
    for (const [name, service] of Object.entries(compose.services)) assert.ok(service.healthcheck?.test.length, `${name} has a health check`);
    for (const role of ['api', 'workers']) {
      const service = compose.services[role]!;
      for (const dep of ['minio', 'redis', 'registry']) assert.equal(service.depends_on?.[dep]?.condition, 'service_healthy', `${role} waits for ${dep}`);
      const grace = /^(\d+)s$/.exec(service.stop_grace_period ?? '');
      assert.ok(grace && Number(grace[1]) * 1000 > configOf(service).shutdownGraceMs, `${role}: stop_grace_period above MLL_SHUTDOWN_GRACE_MS`);
    }
    const workers = compose.services.workers!;
    const port = configOf(workers).workersPort;
    assert.ok(port, 'the workers open their health listener');
    assert.match(workers.healthcheck!.test.join(' '), new RegExp(`http://127\\.0\\.0\\.1:${port}/readyz`));
    assert.match(compose.services.api!.healthcheck!.test.join(' '), /http:\/\/127\.0\.0\.1:8080\/readyz/);
  });

  it('takes the admin token, credentials and public host names from .env', async () => {
    const token = `mll_${'a1B2c3D4e5F6'}_${'x'.repeat(40)}`;
    const compose = await render({
      MLL_BOOTSTRAP_TOKEN: token,
      MLL_S3_SECRET_KEY: 'another-secret-key',
      MLL_PUBLIC_URL: 'http://models.example.com:8080',
      MLL_S3_PUBLIC_ENDPOINT: 'http://models.example.com:9000',
      MLL_REGISTRY_PUBLIC: 'models.example.com:5000',
    });
    const api = configOf(compose.services.api!);
    assert.equal(api.bootstrapToken, token);
    assert.equal(api.baseUrl, 'http://models.example.com:8080');
    assert.equal(api.s3PublicEndpoint, 'http://models.example.com:9000');
    assert.equal(api.registryPublic, 'models.example.com:5000');
    assert.equal(api.s3SecretKey, 'another-secret-key');
    assert.equal(compose.services.minio!.environment!.MINIO_ROOT_PASSWORD, 'another-secret-key');
    assert.equal(configOf(compose.services.workers!).s3SecretKey, 'another-secret-key');
    // Without it the first start prints one instead.
    assert.equal(configOf((await render()).services.api!).bootstrapToken, undefined);
  });

  it('.env.example lists only variables the compose file reads', () => {
    const compose = readFileSync(composeFile, 'utf8');
    const example = readFileSync(path.join(repoRoot, '.env.example'), 'utf8');
    const names = [...example.matchAll(/^([A-Z0-9_]+)=/gm)].map((m) => m[1]!);
    assert.ok(names.includes('MLL_BOOTSTRAP_TOKEN'));
    for (const name of names) assert.match(compose, new RegExp(`\\$\\{${name}[:}]`), `${name} is read by docker-compose.yml`);
  });
});

it('the Dockerfile builds the same entry points the compose file runs', () => {
  const dockerfile = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
  assert.match(dockerfile, /RUN npm run build/);
  assert.match(dockerfile, /CMD \["node", "dist\/src\/bin\/all\.js"\]/);
  assert.match(dockerfile, /USER node/);
});
