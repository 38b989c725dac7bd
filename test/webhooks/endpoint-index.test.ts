import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { redisKeys } from '../../src/catalog/redis-keys.js';
import { connectRedis, type RedisClient } from '../../src/redis/connect.js';
import { waitForRedis } from '../../src/redis/ready.js';
import { parseRedisUrl } from '../../src/redis/target.js';
import { FsObjectStore } from '../../src/storage/fs-store.js';
import type { WebhookEndpoint } from '../../src/webhooks/types.js';
import { WebhookRepository } from '../../src/webhooks/repository.js';
import { cleanRedis } from '../support/redis.js';
import { services } from '../support/services.js';
import { uniqueName } from '../support/unique.js';

const endpoint = (id: string, createdAt: string): WebhookEndpoint => ({
  id, url: `https://hooks.example/${id}`, events: ['version.released'], models: null, description: null,
  secret: 'whsec_x', enabled: true, disabledReason: null, createdAt, updatedAt: createdAt,
});

describe('The webhook endpoint index (listed in one call, rebuilt from the store when Redis lost it)', () => {
  let dir: string;
  let redis: RedisClient;
  let prefix: string;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mll-endpoints-'));
    prefix = uniqueName('wh');
    const target = parseRedisUrl(services.redisUrl());
    redis = connectRedis(target, 'commands');
    await waitForRedis(redis, target, 10_000);
  });
  after(async () => {
    redis.disconnect();
    await cleanRedis(prefix);
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('lists from the index once built, and from a rebuild when its marker is gone', async () => {
    const repo = new WebhookRepository(new FsObjectStore({ root: dir }), redis, prefix);
    const k = redisKeys(prefix);
    await repo.saveEndpoint(endpoint('b', '2026-01-02T00:00:00Z'));
    await repo.saveEndpoint(endpoint('a', '2026-01-01T00:00:00Z'));
    assert.equal(await redis.exists(k.webhookEndpointsIndexed()), 0);
    assert.deepEqual((await repo.listEndpoints()).map((e) => e.id), ['a', 'b'], 'built from the store, oldest first');
    assert.equal(await redis.exists(k.webhookEndpointsIndexed()), 1);

    // Built: the index is what is listed (an entry only the index has shows, the store is not read).
    await redis.hset(k.webhookEndpoints(), 'c', JSON.stringify(endpoint('c', '2026-01-03T00:00:00Z')));
    assert.deepEqual((await repo.listEndpoints()).map((e) => e.id), ['a', 'b', 'c']);

    // Redis lost the index and its marker: rebuilt from the store.
    await redis.del(k.webhookEndpoints(), k.webhookEndpointsIndexed());
    assert.deepEqual((await repo.listEndpoints()).map((e) => e.id), ['a', 'b']);
    assert.equal(await redis.hlen(k.webhookEndpoints()), 2);
  });
});
