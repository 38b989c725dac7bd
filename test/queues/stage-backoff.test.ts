import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Queue, Worker } from 'bullmq';
import { queuePrefix } from '../../queues/names.js';
import { stageBackoffStrategy, stageBackoffType, stageJobOptions, stageRetryPolicy } from '../../queues/options.js';
import { connectRedis } from '../../src/redis/connect.js';
import { parseRedisUrl } from '../../src/redis/target.js';
import { cleanRedis } from '../support/redis.js';
import { services } from '../support/services.js';
import { uniqueName } from '../support/unique.js';

describe('stage jobs back off by the shared retry policy (BullMQ keeps its own retry mechanism)', () => {
  const deployment = uniqueName('mllbackoff');
  const prefix = queuePrefix(deployment);
  const redis = connectRedis(parseRedisUrl(services.redisUrl()), 'queues');
  after(async () => {
    await cleanRedis(deployment);
    redis.disconnect();
  });

  it('names the policy in the job options, with the base delay travelling with the job', () => {
    const opts = stageJobOptions({ stageAttempts: 4, stageBackoffMs: 200 });
    assert.deepEqual(opts.backoff, { type: stageBackoffType, delay: 200 });
    assert.equal(opts.attempts, 4);
    const rules = stageRetryPolicy(200).rules;
    assert.deepEqual([rules.baseDelayMs, rules.maxDelayMs, rules.jitter], [200, 300_000, [0.5, 1]]);
  });

  it('BullMQ waits the policy\'s delays between attempts', async () => {
    const name = 'stage-backoff-test';
    const queue = new Queue(name, { connection: redis, prefix });
    const seen: number[] = [];
    const asked: number[] = [];
    const worker = new Worker(name, async () => {
      seen.push(Date.now());
      if (seen.length < 3) throw new Error('transient');
    }, {
      connection: redis, prefix, concurrency: 1,
      settings: {
        backoffStrategy: (attemptsMade, type, err, job) => {
          const delay = stageBackoffStrategy(attemptsMade, type, err, job) as number;
          asked.push(delay);
          return delay;
        },
      },
    });
    try {
      const done = new Promise<void>((resolve, reject) => {
        worker.on('completed', () => resolve());
        worker.on('failed', (job) => { if (job && job.attemptsMade >= 3) reject(new Error('gave up')); });
      });
      await queue.add('job', {}, stageJobOptions({ stageAttempts: 3, stageBackoffMs: 200 }));
      await done;
      assert.equal(seen.length, 3);
      assert.equal(asked.length, 2);
      assert.ok(asked[0]! >= 100 && asked[0]! <= 200, `first delay ${asked[0]} in [100, 200]`);
      assert.ok(asked[1]! >= 200 && asked[1]! <= 400, `second delay ${asked[1]} in [200, 400]`);
      assert.ok(seen[1]! - seen[0]! >= asked[0]! - 5, 'BullMQ waited the first delay');
      assert.ok(seen[2]! - seen[1]! >= asked[1]! - 5, 'and the second');
    } finally {
      await worker.close();
      await queue.close();
    }
  });
});
