import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from '../lib/proc.js';

/**
 * A redis-server of the benchmark's own (free loopback port, nothing saved), so INFO commandstats
 * counts only ML Lambda's commands, and what one shard sustains is measured on the same server.
 */
export interface OwnRedis {
  url: string;
  port: number;
  pid: number;
  /** Calls and microseconds per command since start (INFO commandstats), and the server's CPU seconds. */
  stats(): Promise<RedisStats>;
  stop(): Promise<void>;
}

export interface RedisStats {
  commands: Map<string, { calls: number; usec: number }>;
  cpuSeconds: number;
}

const run = promisify(execFile);

export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  for (let i = 0; ; i++) {
    try {
      await client.connect();
      await client.ping();
      break;
    } catch {
      if (i > 100) throw new Error(`redis-server on port ${port} did not answer`);
      client.disconnect();
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url, port, pid: child.pid!,
    async stats() {
      const [commandstats, cpu] = await Promise.all([client.info('commandstats'), client.info('cpu')]);
      const commands = new Map<string, { calls: number; usec: number }>();
      for (const m of commandstats.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
        commands.set(m[1]!, { calls: Number(m[2]), usec: Number(m[3]) });
      }
      const field = (name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(cpu)?.[1] ?? 0);
      return { commands, cpuSeconds: field('used_cpu_user') + field('used_cpu_sys') };
    },
    async stop() {
      client.disconnect();
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export function commandDelta(after: RedisStats, before: RedisStats): { commands: Map<string, { calls: number; usec: number }>; cpuSeconds: number } {
  const commands = new Map<string, { calls: number; usec: number }>();
  for (const [name, a] of after.commands) {
    const b = before.commands.get(name) ?? { calls: 0, usec: 0 };
    if (a.calls > b.calls) commands.set(name, { calls: a.calls - b.calls, usec: a.usec - b.usec });
  }
  return { commands, cpuSeconds: after.cpuSeconds - before.cpuSeconds };
}

/**
 * Requests per second one shard answers with redis-benchmark (pipelined, 16 commands per round
 * trip, 50 clients; best of three): SET and GET of 2 KiB (a record's size) and an EVAL of one SET
 * (a script call, as most of ML Lambda's writes are). Run on the benchmark's own server after the batches.
 */
export async function benchmarkShard(port: number, requests = 200_000): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const tests: [string, string[]][] = [
    ['SET (2 KiB)', ['-t', 'set', '-d', '2048']],
    ['GET (2 KiB)', ['-t', 'get', '-d', '2048']],
    ['EVAL (1 SET)', ['eval', "redis.call('SET', KEYS[1], ARGV[1]) return 1", '1', 'bench:eval:__rand_int__', 'x']],
  ];
  // Best of three runs: the machine is shared, and the best run is the one least slowed by others.
  for (let round = 0; round < 3; round++) {
    for (const [name, args] of tests) {
      const { stdout } = await run('redis-benchmark', ['-h', '127.0.0.1', '-p', String(port), '-n', String(requests), '-c', '50', '-P', '16', '-r', '100000', '-q', ...args], { maxBuffer: 1 << 20 });
      // -q prints "NAME: 123456.78 requests per second, p50=..." (the \r progress lines come first).
      const rates = [...stdout.matchAll(/([0-9.]+) requests per second/g)].map((m) => Number(m[1]));
      if (rates.length > 0) out.set(name, Math.max(out.get(name) ?? 0, rates.at(-1)!));
    }
  }
  return out;
}
