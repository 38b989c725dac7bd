import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createServices } from '../../src/app/services.js';
import { redisKeys } from '../../src/catalog/redis-keys.js';
import { loadConfig } from '../../src/config.js';
import { cleanRedis, testRedis } from '../support/redis.js';
import { services as svc } from '../support/services.js';
import { uniqueName } from '../support/unique.js';

describe('Closing the services', () => {
  it('sends the log lines still waiting to be coalesced before it disconnects', async () => {
    const prefix = uniqueName('close');
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), `${prefix}-`));
    const redis = testRedis();
    try {
      const services = await createServices(loadConfig({ REDIS_URL: svc.redisUrl(), MLL_PREFIX: prefix, MLL_DATA_DIR: dataDir, MLL_LOG_LEVEL: 'silent', MLL_AUTH: 'none' }));
      const model = uniqueName('m');
      const lines = ['one', 'two'].map((message) => services.catalog.appendEvent(model, 1, { type: 'log', stage: 'build', message }, { soon: true }));
      await services.close();
      const ids = await Promise.all(lines);
      const rows = await redis.xrange(redisKeys(prefix).events(model, 1), '-', '+');
      assert.deepEqual(rows.map(([id]) => id), ids);
      assert.deepEqual(rows.map(([, fields]) => (JSON.parse(fields[1]!) as { message: string }).message), ['one', 'two']);
    } finally {
      redis.disconnect();
      await cleanRedis(prefix);
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  });
});
