import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { StreamAppender, type StreamHead } from '../../src/catalog/stream-append.js';
import { connectRedis, type RedisClient } from '../../src/redis/connect.js';
import { waitForRedis } from '../../src/redis/ready.js';
import { parseRedisUrl } from '../../src/redis/target.js';
import { cleanRedis } from '../support/redis.js';
import { services } from '../support/services.js';
import { uniqueName } from '../support/unique.js';
import { sleep, waitFor } from '../support/wait.js';

/**
 * The appender's promises: entries in order, in as few calls as order allows. Each call PUBLISHes
 * one notice (with its last id), so the notices a subscriber hears count the round trips.
 */
describe('StreamAppender on real Redis', () => {
  let redis: RedisClient;
  let subscriber: RedisClient;
  let prefix: string;
  const notices = new Map<string, string[]>();

  before(async () => {
    prefix = uniqueName('append');
    const target = parseRedisUrl(services.redisUrl());
    redis = connectRedis(target, 'commands');
    subscriber = connectRedis(target, 'subscriber');
    await waitForRedis(redis, target, 10_000);
    subscriber.on('message', (channel: string, message: string) => notices.set(channel, [...(notices.get(channel) ?? []), (JSON.parse(message) as { id: string }).id]));
  });
  after(async () => {
    subscriber.disconnect();
    redis.disconnect();
    await cleanRedis(prefix);
  });

  /** A stream of its own (the key under the test's prefix, so cleanRedis finds it) with its own channel. */
  const head = async (): Promise<StreamHead> => {
    const name = uniqueName('s');
    const channel = `${prefix}:events:${name}:channel`;
    await subscriber.subscribe(channel);
    return { stream: `${prefix}:events:${name}:1`, maxLen: 1000, channel, notice: { stream: name } };
  };
  const entries = async (h: StreamHead) => (await redis.xrange(h.stream, '-', '+')).map(([id, fields]) => ({ id, value: fields[1] }));
  /** The notices of a channel once `count` came (and a moment more, so an extra one would show). */
  const heard = async (h: StreamHead, count: number) => {
    await waitFor(`${count} notices`, async () => ((notices.get(h.channel)?.length ?? 0) >= count ? true : undefined), 5000);
    await sleep(50);
    return notices.get(h.channel) ?? [];
  };

  it('lines appended soon go in one call after the window, in order, with one notice carrying the last id', async () => {
    const appender = new StreamAppender(redis, { coalesceMs: 30, maxEntries: 100 });
    const h = await head();
    const ids = await Promise.all(['a', 'b', 'c', 'd'].map((v) => appender.appendSoon(h, ['e', v])));
    assert.deepEqual((await entries(h)).map((e) => e.value), ['a', 'b', 'c', 'd']);
    assert.deepEqual((await entries(h)).map((e) => e.id), ids);
    assert.deepEqual(await heard(h, 1), [ids[3]]);
  });

  it('an append takes the lines waiting for its stream with it, ahead of itself, at once', async () => {
    const appender = new StreamAppender(redis, { coalesceMs: 60_000, maxEntries: 100 });
    const h = await head();
    const other = await head();
    const lines = [appender.appendSoon(h, ['e', 'line 1']), appender.appendSoon(h, ['e', 'line 2'])];
    const elsewhere = appender.appendSoon(other, ['e', 'another stream']);
    const started = Date.now();
    const status = await appender.append(h, ['e', 'status']);
    assert.ok(Date.now() - started < 5000, 'the event did not wait for the window');
    assert.deepEqual((await entries(h)).map((e) => e.value), ['line 1', 'line 2', 'status']);
    assert.deepEqual([...(await Promise.all(lines)), status], (await entries(h)).map((e) => e.id));
    assert.deepEqual(await heard(h, 1), [status]);
    assert.deepEqual(await entries(other), [], 'another stream\'s lines keep waiting');
    await appender.flush();
    assert.deepEqual((await entries(other)).map((e) => [e.id, e.value]), [[await elsewhere, 'another stream']]);
  });

  it('appends made while a call is in flight go together in the next one, after it', async () => {
    const appender = new StreamAppender(redis, { coalesceMs: 60_000, maxEntries: 100 });
    const h = await head();
    const ids = await Promise.all([appender.append(h, ['e', '1']), appender.append(h, ['e', '2']), appender.appendSoon(h, ['e', '3']), appender.append(h, ['e', '4'])]);
    assert.deepEqual((await entries(h)).map((e) => e.value), ['1', '2', '3', '4']);
    assert.deepEqual(await heard(h, 2), [ids[0], ids[3]], 'two calls: the first alone, the rest together');
  });

  it('sends at most maxEntries per call', async () => {
    const appender = new StreamAppender(redis, { coalesceMs: 60_000, maxEntries: 2 });
    const h = await head();
    const ids = await Promise.all([1, 2, 3, 4, 5].map((n) => appender.appendSoon(h, ['e', String(n)])));
    assert.deepEqual((await entries(h)).map((e) => e.value), ['1', '2', '3', '4', '5']);
    assert.deepEqual(await heard(h, 3), [ids[1], ids[3], ids[4]]);
  });

  it('flush sends what waits before its window ends, and waits for it', async () => {
    const appender = new StreamAppender(redis, { coalesceMs: 60_000, maxEntries: 100 });
    const h = await head();
    const line = appender.appendSoon(h, ['e', 'last words']);
    await appender.flush();
    assert.deepEqual((await entries(h)).map((e) => e.value), ['last words']);
    assert.match(await line, /^\d+-\d+$/);
    await appender.flush();
  });

  it('a failed call fails each of its entries; the entries after it go in a call of their own', async () => {
    const appender = new StreamAppender(redis, { coalesceMs: 20, maxEntries: 100 });
    const h = await head();
    await redis.set(h.stream, 'not a stream');
    const failed = await Promise.allSettled([appender.appendSoon(h, ['e', 'x']), appender.append(h, ['e', 'y'])]);
    assert.deepEqual(failed.map((r) => r.status), ['rejected', 'rejected']);
    assert.match(String((failed[0] as PromiseRejectedResult).reason), /WRONGTYPE/);
    await redis.del(h.stream);
    const id = await appender.append(h, ['e', 'z']);
    assert.deepEqual((await entries(h)).map((e) => [e.id, e.value]), [[id, 'z']]);
  });
});
