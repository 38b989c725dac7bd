import type { Socket } from 'node:net';
import { Cluster, type Redis } from 'ioredis';
import type { RedisClient } from './connect.js';

const coalesced = new WeakSet<Socket>();

/**
 * Makes the commands one burst of code sends (everything that runs before `process.nextTick`)
 * leave in one system call instead of one each, as Node's HTTP responses do: the socket is corked
 * at the first write and uncorked on the next tick. Unlike ioredis's auto-pipelining, no command
 * waits for the answers to earlier ones: they go out as written, in order, just together. A
 * write to Redis over loopback costs about as much CPU as the command it carries, and a busy
 * process sends dozens at a time.
 */
export function coalesceWrites(socket: Socket): void {
  if (coalesced.has(socket)) return;
  coalesced.add(socket);
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  socket.write = ((...args: unknown[]) => {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    return write(...args);
  }) as typeof socket.write;
}

/** Applies coalesceWrites to every connection the client makes (each reconnect opens a new socket; a Cluster has one per node). */
export function coalesceClientWrites(client: RedisClient): void {
  const onConnection = (redis: Redis) => {
    const apply = () => {
      const stream = (redis as unknown as { stream?: Socket }).stream;
      if (stream && typeof stream.cork === 'function') coalesceWrites(stream);
    };
    redis.on('connect', apply);
    apply();
  };
  if (client instanceof Cluster) client.on('+node', onConnection);
  else onConnection(client);
}
