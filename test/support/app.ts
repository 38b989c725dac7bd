import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../../src/config.js';
import { run, type Running } from '../../src/bin/run.js';
import { services as svc, testBucket } from './services.js';
import { cleanRedis } from './redis.js';
import { uniqueName } from './unique.js';

export interface TestApp {
  running: Running;
  /** The environment the app was configured from: give it to worker processes to join the same deployment. */
  env: Record<string, string>;
  config: Config;
  url: string;
  prefix: string;
  /** The registry namespace images go to (registry tests): host/namespace. */
  registry?: string;
  stop(): Promise<void>;
}

export interface TestAppOptions {
  store?: 'fs' | 'minio';
  target?: 'registry' | 'oci-layout';
  builder?: 'oci' | 'docker';
  api?: boolean;
  workers?: boolean;
  env?: Record<string, string>;
}

/**
 * Starts ML Lambda in this process against the real services, isolated by a unique Redis/queue
 * prefix, data dir, bucket prefix and registry namespace; stop() removes all of it again.
 */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const prefix = uniqueName('mllt');
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), `${prefix}-`));
  const env: Record<string, string> = {
    MLL_PORT: '0',
    MLL_HOST: '127.0.0.1',
    MLL_DATA_DIR: dataDir,
    MLL_PREFIX: prefix,
    MLL_LOG_LEVEL: process.env.MLL_TEST_LOG_LEVEL ?? 'silent',
    REDIS_URL: svc.redisUrl(),
    MLL_STAGE_BACKOFF_MS: '200',
    MLL_SHUTDOWN_GRACE_MS: '5000',
    // Most suites test other things; test/auth turns token auth on and checks every route.
    MLL_AUTH: 'none',
  };
  if ((options.store ?? 'fs') === 'minio') {
    const s3 = svc.s3();
    Object.assign(env, {
      MLL_STORE: 'minio', MLL_S3_ENDPOINT: s3.endpoint, MLL_S3_ACCESS_KEY: s3.accessKey, MLL_S3_SECRET_KEY: s3.secretKey,
      MLL_S3_REGION: s3.region, MLL_S3_BUCKET: testBucket, MLL_STORE_PREFIX: `${prefix}/`, MLL_S3_PART_SIZE: String(5 * 1024 * 1024),
    });
  }
  let registry: string | undefined;
  if ((options.target ?? 'oci-layout') === 'registry') {
    registry = `${svc.registry()}/${prefix}`;
    const base = svc.baseImages();
    Object.assign(env, {
      MLL_TARGET: 'registry', MLL_REGISTRY: registry, MLL_REGISTRY_INSECURE: 'true',
      MLL_RUNTIMES: `python=${base.python},tensorflow=${base.tensorflow}`,
    });
  }
  if (options.builder === 'docker') Object.assign(env, { MLL_BUILDER: 'docker', DOCKER_HOST: svc.dockerHost() });
  Object.assign(env, options.env ?? {});
  const config = loadConfig(env);
  const running = await run({ api: options.api ?? true, workers: options.workers ?? true }, config);
  return {
    running, config, prefix, registry, env,
    url: config.baseUrl,
    async stop() {
      await running.stop();
      await cleanRedis(prefix);
      if (config.store === 'minio') {
        for await (const info of running.services.store.list('')) await running.services.store.delete(info.key).catch(() => undefined);
      }
      // The data dir may have been given in options.env (to join another app's deployment).
      await fs.rm(config.dataDirAbs, { recursive: true, force: true });
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}
