import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { connectRedis } from '../../src/redis/connect.js';
import { waitForRedis } from '../../src/redis/ready.js';
import { coalesceWrites } from '../../src/redis/write-coalescing.js';
import { cleanRedis } from '../support/redis.js';
import { uniqueName } from '../support/unique.js';

describe('Redis write coalescing: the commands of one burst leave in one system call', () => {
  it('sends what one tick writes in one writev, in order, and the next tick in another', async () => {
    const received: Buffer[] = [];
    const server = net.createServer((s) => s.on('data', (d: Buffer) => received.push(d)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    await new Promise<void>((r) => socket.once('connect', r));
    const batches: number[] = [];
    const writev = (socket as unknown as { _writev: (chunks: unknown[], cb: () => void) => void })._writev.bind(socket);
    (socket as unknown as { _writev: typeof writev })._writev = (chunks, cb) => {
      batches.push(chunks.length);
      writev(chunks, cb);
    };
    coalesceWrites(socket);
    coalesceWrites(socket); // twice is once
    for (const part of ['a', 'b', 'c']) socket.write(part);
    await new Promise((r) => process.nextTick(r));
    for (const part of ['d', 'e']) socket.write(part);
    await new Promise((r) => setTimeout(r, 50));
    socket.end();
    server.close();
    assert.deepEqual(batches, [3, 2], 'one writev per tick');
    assert.equal(Buffer.concat(received).toString(), 'abcde');
  });

  it('answers every command of a burst, each with its own answer, on a real Redis', async () => {
    const { redis: target } = loadConfig({ REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
    const client = connectRedis(target, 'commands');
    const prefix = uniqueName('coalesce');
    try {
      await waitForRedis(client, target, 5000);
      const key = `${prefix}:n`;
      const answers = await Promise.all(Array.from({ length: 200 }, () => client.incr(key)));
      assert.deepEqual(answers, Array.from({ length: 200 }, (_, i) => i + 1));
      const [a, b] = await Promise.all([client.set(`${prefix}:s`, 'x'), client.get(`${prefix}:s`)]);
      assert.equal(a, 'OK');
      assert.equal(b, 'x', 'a read sent in the same burst sees the write before it');
    } finally {
      client.disconnect();
      await cleanRedis(prefix);
    }
  });
});
