import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { createServices } from '../../src/app/services.js';
import { versionTopic } from '../../src/catalog/event-hub.js';
import { loadConfig } from '../../src/config.js';
import { connectRedis, isCluster } from '../../src/redis/connect.js';
import { waitForRedis } from '../../src/redis/ready.js';
import { answers } from '../support/redis-server.js';
import { freePort } from '../support/registry.js';
import { cleanRedis } from '../support/redis.js';
import { services as svc } from '../support/services.js';
import { uniqueName } from '../support/unique.js';

describe('Redis connections: credentials and cluster pub/sub', () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('uses the password from REDIS_URL or MLL_REDIS_PASSWORD, and names refused credentials at once', async () => {
    const port = await freePort();
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', 's3cret'], { stdio: 'ignore' });
    cleanups.push(() => child.kill('SIGKILL'));
    await answers(`redis://:s3cret@127.0.0.1:${port}`);
    for (const env of [{ REDIS_URL: `redis://:s3cret@127.0.0.1:${port}` }, { REDIS_URL: `redis://127.0.0.1:${port}`, MLL_REDIS_PASSWORD: 's3cret' }]) {
      const { redis } = loadConfig(env);
      const client = connectRedis(redis, 'commands');
      await waitForRedis(client, redis, 5000);
      assert.equal(await client.ping(), 'PONG');
      client.disconnect();
    }
    const { redis } = loadConfig({ REDIS_URL: `redis://:wrong@127.0.0.1:${port}` });
    const client = connectRedis(redis, 'commands');
    client.on('error', () => undefined);
    const started = Date.now();
    await assert.rejects(waitForRedis(client, redis, 10_000), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'QUEUE_UNAVAILABLE');
      assert.match(err.message, new RegExp(`^Redis at redis://127\\.0\\.0\\.1:${port} refuses the credentials \\(WRONGPASS.*\\): check the user and password in REDIS_URL or MLL_REDIS_PASSWORD$`));
      assert.doesNotMatch(err.message, /wrong/);
      return true;
    });
    assert.ok(Date.now() - started < 5000, 'no waiting for credentials that will not change');
    client.disconnect();
  });

  it('carries event notices over a Redis Cluster, from any node to the subscriber', async () => {
    const prefix = uniqueName('pubsub');
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), `${prefix}-`));
    const config = loadConfig({ REDIS_URL: svc.redisCluster(), MLL_PREFIX: prefix, MLL_DATA_DIR: dataDir, MLL_LOG_LEVEL: 'silent', MLL_AUTH: 'none' });
    const services = await createServices(config);
    cleanups.push(async () => {
      await services.close();
      await cleanRedis(prefix, svc.redisCluster());
      await fs.rm(dataDir, { recursive: true, force: true });
    });
    assert.ok(isCluster(services.redis));
    const model = uniqueName('m');
    const seen: string[] = [];
    services.events.on(versionTopic(model, 1), (notice) => void seen.push(notice.id));
    await services.events.start();
    // Ten notices: PUBLISH has no key, so they leave from several nodes; the cluster bus carries them.
    const sent: string[] = [];
    for (let i = 0; i < 10; i++) sent.push(await services.catalog.appendEvent(model, 1, { type: 'log', message: `line ${i}` }));
    const deadline = Date.now() + 5000;
    while (seen.length < sent.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    // Notices from different nodes may overtake each other; they only wake readers, who read the stream in order.
    assert.deepEqual([...seen].sort(), [...sent].sort());
    assert.deepEqual((await services.catalog.readEvents(model, 1)).map((e) => e.message), sent.map((_, i) => `line ${i}`));
  });
});
