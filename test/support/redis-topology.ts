import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './paths.js';
import { sleep } from './wait.js';

const exec = promisify(execFile);
const script = path.join(repoRoot, 'scripts', 'services', 'redis-cluster.sh');

/**
 * A Redis Cluster (3 masters + 3 replicas) or a Sentinel setup (master, replica, 3 sentinels) of a
 * test's own, started by scripts/services/redis-cluster.sh in its own directory on free ports, for
 * tests that kill, restart or reshard nodes without touching the shared one. Nodes are killed and
 * stopped by the pids the script recorded.
 */
export interface RedisTopology {
  /** REDIS_URL for ML Lambda. */
  url: string;
  ports: number[];
  dir: string;
  /** SIGKILL one node (by its recorded pid). */
  kill(port: number): Promise<void>;
  /** Starts a killed node again from its config (a cluster node rejoins with its nodes.conf, empty). */
  restart(port: number): Promise<void>;
  /** `redis-cli` against a node. */
  cli(port: number, ...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A base port whose offsets are all free (cluster bus ports are port + 10000: kept below the ephemeral range). */
async function freeBase(offsets: number[]): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const base = 17000 + Math.floor(Math.random() * 450) * 10;
    if ((await Promise.all(offsets.map((o) => portFree(base + o)))).every(Boolean)) return base;
  }
  throw new Error('no free block of ports for a private Redis topology');
}

export async function startRedisTopology(kind: 'cluster' | 'sentinel', options: { nodeTimeoutMs?: number } = {}): Promise<RedisTopology> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `mll-redis-${kind}-`));
  const offsets = kind === 'cluster' ? [0, 1, 2, 3, 4, 5, 10000, 10001, 10002, 10003, 10004, 10005] : [0, 1, 10, 11, 12];
  const base = await freeBase(offsets);
  const env = {
    ...process.env,
    MLL_SERVICES_DIR: dir,
    MLL_REDIS_CLUSTER_PORT: String(base),
    MLL_REDIS_SENTINEL_PORT: String(base),
    MLL_REDIS_NODE_TIMEOUT_MS: String(options.nodeTimeoutMs ?? 1000),
  };
  const run = (cmd: string) => exec('bash', [script, cmd, kind], { env, maxBuffer: 1 << 20 });
  const started = await run('start').catch(async (err: unknown) => {
    await run('stop').catch(() => undefined);
    throw err;
  });
  const url = /^export MLL_TEST_REDIS_\w+=(.*)$/m.exec(started.stdout)?.[1];
  if (!url) throw new Error(`redis-cluster.sh printed no URL: ${started.stdout}`);
  const ports = offsets.filter((o) => o < 10000).map((o) => base + o);
  const runDir = path.join(dir, 'run');
  const confOf = (port: number) => path.join(dir, kind === 'cluster' ? 'redis-cluster' : 'redis-sentinel', String(port), 'redis.conf');
  const cli = async (port: number, ...args: string[]) => (await exec('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args])).stdout;
  return {
    url, ports, dir, cli,
    async kill(port) {
      const pid = Number(await fs.readFile(path.join(runDir, `redis-${port}.pid`), 'utf8'));
      process.kill(pid, 'SIGKILL');
      for (let i = 0; i < 100 && (await fs.access(`/proc/${pid}`).then(() => true, () => false)); i++) await sleep(50);
    },
    async restart(port) {
      const bin = (await exec('bash', ['-c', 'command -v redis-server'])).stdout.trim();
      const args = [confOf(port), ...(kind === 'sentinel' && port >= base + 10 ? ['--sentinel'] : [])];
      const log = await fs.open(path.join(path.dirname(confOf(port)), 'redis.log'), 'a');
      const child = spawn(bin, args, { detached: true, stdio: ['ignore', log.fd, log.fd] });
      child.unref();
      await log.close();
      // Recorded like the script's own, so `stop` stops it too.
      await fs.writeFile(path.join(runDir, `redis-${port}.pid`), `${child.pid}\n`);
      await fs.writeFile(path.join(runDir, `redis-${port}.cmd`), `${bin} ${confOf(port)}\n`);
      for (let i = 0; i < 200; i++) {
        if ((await cli(port, 'ping').catch(() => '')).trim() === 'PONG') return;
        await sleep(50);
      }
      throw new Error(`redis on :${port} did not come back`);
    },
    async stop() {
      await run('stop').catch(() => undefined);
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

export interface ClusterNode {
  id: string;
  port: number;
  role: 'master' | 'replica';
  masterId: string | null;
  failed: boolean;
  slots: [number, number][];
}

/** CLUSTER NODES as one node sees it. */
export async function clusterNodes(topology: RedisTopology, askPort: number): Promise<ClusterNode[]> {
  const text = await topology.cli(askPort, 'cluster', 'nodes');
  return text.trim().split('\n').map((line) => {
    const [id, addr, flags, master, , , , , ...slots] = line.split(' ');
    return {
      id: id!,
      port: Number(addr!.split('@')[0]!.split(':')[1]),
      role: flags!.includes('master') ? 'master' : 'replica',
      masterId: master === '-' ? null : master!,
      failed: /fail(?!\?)/.test(flags!) && !flags!.includes('fail?'),
      slots: slots.filter((s) => /^\d/.test(s)).map((s) => {
        const [a, b] = s.split('-').map(Number);
        return [a!, b ?? a!] as [number, number];
      }),
    };
  });
}

/** The master serving a slot, as a live node sees it. */
export async function masterOfSlot(topology: RedisTopology, slot: number, askPort: number): Promise<ClusterNode> {
  const nodes = await clusterNodes(topology, askPort);
  const owner = nodes.find((n) => n.role === 'master' && !n.failed && n.slots.some(([a, b]) => slot >= a && slot <= b));
  if (!owner) throw new Error(`no master serves slot ${slot}`);
  return owner;
}

/** Waits until every live node reports cluster_state:ok. */
export async function clusterHealthy(topology: RedisTopology, livePorts: number[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = await Promise.all(livePorts.map((p) => topology.cli(p, 'cluster', 'info').catch(() => '')));
    if (states.every((s) => s.includes('cluster_state:ok'))) return;
    if (Date.now() > deadline) throw new Error(`cluster not ok after ${timeoutMs} ms`);
    await sleep(100);
  }
}
