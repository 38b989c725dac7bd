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
  // Refused credentials show on the connection, not on the command; no waiting makes them right.
  let refused: Error | undefined;
  const onError = (err: Error) => {
    if (isAuthError(err)) refused = err;
  };
  client.on('error', onError);
  if (isCluster(client)) client.on('node error', onError);
  try {
    await untilServing();
  } finally {
    client.off('error', onError);
    if (isCluster(client)) client.off('node error', onError);
  }

  async function untilServing(): Promise<void> {
    for (;;) {
      if (refused ?? isAuthError(last)) throw credentialsRefused(target, refused ?? (last as Error));
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
    throw await unusable(target, timeoutMs, last);
  }
}

const isAuthError = (err: unknown) => /WRONGPASS|NOAUTH|NOPERM|invalid password|invalid username-password/i.test(errorMessage(err ?? ''));

function credentialsRefused(target: RedisTarget, err: Error): MllError {
  return new MllError('QUEUE_UNAVAILABLE', `${describeRedisTarget(target)} refuses the credentials (${err.message.trim()}): check the user and password in REDIS_URL or MLL_REDIS_PASSWORD`, { cause: err });
}

async function unusable(target: RedisTarget, timeoutMs: number, last: unknown): Promise<MllError> {
  const where = describeRedisTarget(target);
  if (target.mode === 'cluster') {
    const diagnosis = await diagnoseCluster(target);
    return new MllError('QUEUE_UNAVAILABLE', `${where} is not usable after ${timeoutMs} ms (MLL_REDIS_WAIT_MS): ${diagnosis}`, { cause: last });
  }
  const hint = target.mode === 'sentinel'
    ? 'check that the sentinels answer and know a master by that name, and that the master answers'
    : 'start it, or point REDIS_URL at one that runs';
  return new MllError('QUEUE_UNAVAILABLE', `${where} does not answer after ${timeoutMs} ms (MLL_REDIS_WAIT_MS): ${errorMessage(last)}; ${hint}`, { cause: last });
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
    } catch (err) {
      if (isAuthError(err)) return `the seed node ${address(node)} refuses the credentials (${errorMessage(err).trim()}): check the user and password in REDIS_URL or MLL_REDIS_PASSWORD`;
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
