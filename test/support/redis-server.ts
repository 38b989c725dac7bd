import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from './registry.js';

/**
 * A redis-server of a test's own (free loopback port, nothing saved to disk), for tests that stop
 * it, restart it empty or cut it off, without touching the shared Redis. Stopped by its pid.
 */
export interface OwnRedis {
  url: string;
  port: number;
  readonly pid: number | undefined;
  /** SIGKILL: to its clients, Redis is gone. */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty, and waits until it answers. */
  start(): Promise<void>;
  /** stop() then start(): Redis restarted with none of its keys. */
  restartEmpty(): Promise<void>;
}

export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  };
  const start = async () => {
    if (child) return;
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await answers(url);
  };
  await start();
  return {
    url, port,
    get pid() {
      return child?.pid;
    },
    stop, start,
    async restartEmpty() {
      await stop();
      await start();
    },
  };
}

/** Waits until the Redis at `url` answers PING. */
export async function answers(url: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on('error', () => undefined);
    try {
      await r.connect();
      if ((await r.ping()) === 'PONG') return;
    } catch {
      if (Date.now() > deadline) throw new Error(`Redis at ${url} did not answer within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      r.disconnect();
    }
  }
}
