import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { connectRedis, masters } from '../../src/redis/connect.js';
import { waitForRedis } from '../../src/redis/ready.js';
import { RedisScript, runTogether } from '../../src/redis/script.js';
import { parseRedisUrl } from '../../src/redis/target.js';
import { startOwnRedis } from '../support/redis-server.js';
import { services as svc } from '../support/services.js';
import { uniqueName } from '../support/unique.js';
import { waitFor } from '../support/wait.js';

describe('RedisScript: EVALSHA, with the text sent once per server', () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch(() => undefined);
  });

  it('sends the text only when the server lacks the script (first call, after SCRIPT FLUSH), and never repeats a script that failed', async () => {
    const own = await startOwnRedis();
    cleanups.push(() => own.stop());
    const redis = connectRedis(parseRedisUrl(own.url), 'commands');
    cleanups.push(() => redis.disconnect());
    const plain = new Redis(own.url);
    const monitor = await plain.monitor();
    cleanups.push(() => plain.disconnect(), () => monitor.disconnect());
    const seen: string[] = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source !== 'lua') seen.push(String(args[0]).toLowerCase());
    });
    /** The commands the server saw since the last call (up to a GET of a marker sent after them). */
    const sent = async () => {
      const marker = uniqueName('marker');
      await redis.get(marker);
      await waitFor('the monitor to catch up', async () => (seen.at(-1) === 'get' ? true : undefined), 5000);
      return seen.splice(0).slice(0, -1);
    };
    await sent();

    const incr = new RedisScript("return redis.call('INCR', KEYS[1])", 1);
    const key = uniqueName('n');
    assert.deepEqual([await incr.run(redis, [key]), await incr.run(redis, [key]), await incr.run(redis, [key])], [1, 2, 3]);
    assert.deepEqual(await sent(), ['evalsha', 'eval', 'evalsha', 'evalsha'], 'NOSCRIPT once, then the text once, then the SHA only');

    await redis.script('FLUSH');
    await sent();
    assert.equal(await incr.run(redis, [key]), 4);
    assert.deepEqual(await sent(), ['evalsha', 'eval'], 'a server that lost its scripts is taught again');

    const failing = new RedisScript("return redis.error_reply('BOOM the script failed')", 0);
    await assert.rejects(failing.run(redis, []), /BOOM the script failed/);
    await assert.rejects(failing.run(redis, []), /BOOM the script failed/);
    assert.deepEqual(await sent(), ['evalsha', 'eval', 'evalsha'], 'an error other than NOSCRIPT is the answer, not a reason to send again');

    await assert.rejects(incr.run(redis, [key, key]), /takes 1 keys, given 2/);
  });

  it('runTogether: several calls in one pipeline, each taught on NOSCRIPT alone, each failing alone', async () => {
    const own = await startOwnRedis();
    cleanups.push(() => own.stop());
    const redis = connectRedis(parseRedisUrl(own.url), 'commands');
    cleanups.push(() => redis.disconnect());
    const incr = new RedisScript("return redis.call('INCR', KEYS[1])", 1);
    const echo = new RedisScript('return ARGV[1]', 0);
    const failing = new RedisScript("return redis.error_reply('BOOM from the second call')", 0);
    const key = uniqueName('n');
    await redis.script('LOAD', echo.lua);
    // incr is not loaded, echo is: each ends with its own answer.
    assert.deepEqual(await runTogether(redis, [{ script: incr, keys: [key] }, { script: echo, keys: [], args: ['hello'] }]), [1, 'hello']);
    assert.deepEqual(await runTogether(redis, [{ script: incr, keys: [key] }, { script: echo, keys: [], args: ['again'] }]), [2, 'again']);
    await assert.rejects(runTogether(redis, [{ script: incr, keys: [key] }, { script: failing, keys: [] }]), /BOOM from the second call/);
    assert.equal(await redis.get(key), '3', 'the first call ran although the second failed');
    await assert.rejects(runTogether(redis, [{ script: incr, keys: [] }, { script: echo, keys: [] }]), /takes 1 keys, given 0/);
  });

  it('on a Redis Cluster, runs on the node of its keys\' slot, each node learning the script once', async () => {
    const target = parseRedisUrl(svc.redisCluster());
    const cluster = connectRedis(target, 'commands');
    cleanups.push(() => cluster.disconnect());
    await waitForRedis(cluster, target, 10_000);
    const keys = Array.from({ length: 24 }, (_, i) => uniqueName(`slot${i}`));
    cleanups.push(() => Promise.all(keys.map((k) => cluster.unlink(k))));
    // A script text of its own, so no other test has loaded it already.
    const tag = uniqueName('script');
    const set = new RedisScript(`redis.call('SET', KEYS[1], ARGV[1]) return '${tag}'`, 1);
    for (const k of keys) assert.equal(await set.run(cluster, [k], [k]), tag);
    for (const k of keys) assert.equal(await cluster.get(k), k);
    // Calls run together are spread over the nodes of their keys.
    const together = await runTogether(cluster, keys.slice(0, 4).map((k) => ({ script: set, keys: [k], args: [`${k}!`] })));
    assert.deepEqual(together, [tag, tag, tag, tag]);
    assert.deepEqual(await Promise.all(keys.slice(0, 4).map((k) => cluster.get(k))), keys.slice(0, 4).map((k) => `${k}!`));
    const holders = await Promise.all(masters(cluster).map(async (node) => ((await node.script('EXISTS', set.sha)) as number[])[0]));
    assert.ok(holders.filter((h) => h === 1).length >= 2, `the keys spread over several masters, each of which holds the script now: ${JSON.stringify(holders)}`);
  });
});
