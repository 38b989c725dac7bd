import { Redis } from 'ioredis';
import { MllError, errorMessage } from '../errors.js';
import { isCluster, type RedisClient } from './connect.js';
import { describeRedisTarget, type HostPort, type RedisTarget } from './target.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until Redis serves commands — for a Cluster, until it reports every slot served — or
 * `timeoutMs` passes; then stops with an error that says what is missing and what to do.
 */
export async function waitForRedis(client: RedisClient, target: RedisTarget, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (isCluster(client)) {
        const info = String(await client.cluster('INFO'));
        if (!/cluster_state:ok/.test(info)) throw new Error('cluster_state is not ok');
      }
      await client.ping();
      return;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(250, Math.max(0, deadline - Date.now())));
  }
  const where = describeRedisTarget(target);
  if (target.mode === 'cluster') {
    const diagnosis = await diagnoseCluster(target);
    throw new MllError('QUEUE_UNAVAILABLE', `${where} is not usable after ${timeoutMs} ms (MLL_REDIS_WAIT_MS): ${diagnosis}`, { cause: last });
  }
  const hint = target.mode === 'sentinel'
    ? 'check that the sentinels answer and know a master by that name, and that the master answers'
    : 'start it, or point REDIS_URL at one that runs';
  throw new MllError('QUEUE_UNAVAILABLE', `${where} does not answer after ${timeoutMs} ms (MLL_REDIS_WAIT_MS): ${errorMessage(last)}; ${hint}`, { cause: last });
}

interface NodeLine {
  address: string;
  flags: string[];
  role: 'master' | 'replica';
  slots: string[];
}

function parseClusterNodes(text: string): NodeLine[] {
  return text.trim().split('\n').filter(Boolean).map((line) => {
    const parts = line.split(' ');
    const flags = (parts[2] ?? '').split(',');
    return {
      address: (parts[1] ?? '').split('@')[0]!,
      flags,
      role: flags.includes('master') ? 'master' : 'replica',
      slots: parts.slice(8).filter((s) => /^\d/.test(s)),
    };
  });
}

/** Asks the seed nodes directly what is wrong with the cluster (the cluster client refuses commands until it is whole). */
export async function diagnoseCluster(target: Extract<RedisTarget, { mode: 'cluster' }>): Promise<string> {
  const unreachable: string[] = [];
  for (const node of target.nodes) {
    const probe = directConnection(node, target);
    try {
      await probe.connect();
      const info = String(await probe.cluster('INFO'));
      const state = /cluster_state:(\w+)/.exec(info)?.[1] ?? 'unknown';
      if (state === 'ok') return `the seed node ${address(node)} reports the cluster ok, but this client could not use it; check the node addresses it announces (cluster-announce-ip) are reachable from here`;
      const nodes = parseClusterNodes(String(await probe.cluster('NODES')));
      // A failed master without slots was replaced by its replica: not a problem.
      const failed = nodes.filter((n) => n.role === 'master' && n.slots.length > 0 && n.flags.some((f) => f === 'fail' || f === 'fail?'));
      const assigned = /cluster_slots_assigned:(\d+)/.exec(info)?.[1];
      const problems = failed.map((n) => `master ${n.address} (slots ${n.slots.join(' ')}) is down and no replica has taken over`);
      if (assigned !== undefined && Number(assigned) < 16384) problems.push(`only ${assigned} of 16384 slots are assigned to a master`);
      return `cluster_state is ${state} (as ${address(node)} sees it): ${problems.join('; ') || 'see `redis-cli --cluster check`'}. `
        + 'Start the missing node(s) or let a replica be promoted; ML Lambda needs every slot served.';
    } catch {
      unreachable.push(address(node));
    } finally {
      probe.disconnect();
    }
  }
  return `none of the seed nodes answers (${unreachable.join(', ')}): start them, or fix REDIS_URL / MLL_REDIS_CLUSTER_NODES`;
}

function directConnection(node: HostPort, target: RedisTarget): Redis {
  return new Redis({
    host: node.host, port: node.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000,
    enableOfflineQueue: false,
    ...(target.username ? { username: target.username } : {}),
    ...(target.password ? { password: target.password } : {}),
    ...(target.tls ? { tls: {} } : {}),
  });
}

const address = (n: HostPort) => `${n.host}:${n.port}`;
