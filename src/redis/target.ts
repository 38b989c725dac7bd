/**
 * Where Redis is: one server, a Redis Cluster, or a master found through Sentinel. Parsed once
 * from REDIS_URL (and MLL_REDIS_CLUSTER_NODES / MLL_REDIS_PASSWORD / MLL_REDIS_SENTINEL_PASSWORD)
 * by src/config.ts; the connection factory (src/redis/connect.ts) turns it into clients.
 *
 *   redis://[user:pass@]host:port[/db]           one server (rediss:// for TLS)
 *   redis+cluster://[user:pass@]h1:p1,h2:p2      a Redis Cluster (rediss+cluster:// for TLS); the
 *                                                nodes are seeds, the rest of the cluster is discovered
 *   redis+sentinel://[user:pass@]h1:p1,h2:p2[/db]?name=mymaster[&sentinelUsername=u&sentinelPassword=p]
 *                                                the master named `name`, as Sentinel reports it
 */

export interface HostPort {
  host: string;
  port: number;
}

interface Credentials {
  username?: string;
  password?: string;
  tls: boolean;
}

export type RedisTarget =
  | ({ mode: 'single'; url: string } & Credentials)
  | ({ mode: 'cluster'; nodes: HostPort[] } & Credentials)
  | ({ mode: 'sentinel'; sentinels: HostPort[]; name: string; db: number; sentinelUsername?: string; sentinelPassword?: string } & Credentials);

export class RedisUrlError extends Error {}

const schemes: Record<string, { mode: RedisTarget['mode']; tls: boolean; defaultPort: number }> = {
  'redis:': { mode: 'single', tls: false, defaultPort: 6379 },
  'rediss:': { mode: 'single', tls: true, defaultPort: 6379 },
  'redis+cluster:': { mode: 'cluster', tls: false, defaultPort: 6379 },
  'rediss+cluster:': { mode: 'cluster', tls: true, defaultPort: 6379 },
  'redis+sentinel:': { mode: 'sentinel', tls: false, defaultPort: 26379 },
  'rediss+sentinel:': { mode: 'sentinel', tls: true, defaultPort: 26379 },
};

/** `host:port,host:port` (IPv6 hosts in brackets); a missing port is `defaultPort`. */
export function parseHostList(text: string, defaultPort: number): HostPort[] {
  const items = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new RedisUrlError('names no host:port');
  return items.map((item) => {
    const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]/?#@]+)(?::(\d{1,5}))?$/.exec(item);
    if (!m) throw new RedisUrlError(`"${item}" is not host:port`);
    const port = m[2] === undefined ? defaultPort : Number(m[2]);
    if (port < 1 || port > 65535) throw new RedisUrlError(`"${item}" has no valid port (1-65535)`);
    return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
  });
}

function parseDb(path: string): number {
  const text = path.replace(/^\//, '');
  if (text === '') return 0;
  if (!/^\d{1,2}$/.test(text)) throw new RedisUrlError(`the database "/${text}" must be a number`);
  return Number(text);
}

/**
 * Parses REDIS_URL. Several hosts are not valid URL syntax for WHATWG URL, so the authority is
 * split by hand: scheme, optional credentials, host list, optional /db and ?query.
 */
export function parseRedisUrl(raw: string): RedisTarget {
  const text = raw.trim();
  const m = /^([a-z+]+:)\/\/(?:([^@/?#]*)@)?([^/?#]*)(\/[^?#]*)?(?:\?([^#]*))?$/i.exec(text);
  if (!m) throw new RedisUrlError('must look like redis://host:port, redis+cluster://host:port,host:port or redis+sentinel://host:port?name=mymaster');
  const scheme = schemes[m[1]!.toLowerCase()];
  if (!scheme) {
    throw new RedisUrlError(`the scheme "${m[1]}" is not one of ${Object.keys(schemes).map((s) => `${s}//`).join(', ')}`);
  }
  const [user, pass] = (m[2] ?? '').split(/:(.*)/s);
  const credentials: Credentials = {
    ...(user ? { username: decodeURIComponent(user) } : {}),
    ...(pass ? { password: decodeURIComponent(pass) } : {}),
    tls: scheme.tls,
  };
  const query = new URLSearchParams(m[5] ?? '');
  if (scheme.mode === 'single') {
    if (parseHostList(m[3]!, scheme.defaultPort).length > 1) {
      throw new RedisUrlError('names several hosts: use redis+cluster:// for a Redis Cluster or redis+sentinel:// for Sentinel');
    }
    parseDb(m[4] ?? '');
    return { mode: 'single', url: text, ...credentials };
  }
  if (scheme.mode === 'cluster') {
    if ((m[4] ?? '').replace(/^\//, '') !== '') throw new RedisUrlError('a Redis Cluster has only database 0: drop the /db');
    return { mode: 'cluster', nodes: parseHostList(m[3]!, scheme.defaultPort), ...credentials };
  }
  const name = query.get('name');
  if (!name) throw new RedisUrlError('redis+sentinel:// needs the master group name: ?name=mymaster');
  const sentinelUsername = query.get('sentinelUsername') ?? undefined;
  const sentinelPassword = query.get('sentinelPassword') ?? undefined;
  return {
    mode: 'sentinel', sentinels: parseHostList(m[3]!, scheme.defaultPort), name, db: parseDb(m[4] ?? ''),
    ...(sentinelUsername ? { sentinelUsername } : {}), ...(sentinelPassword ? { sentinelPassword } : {}),
    ...credentials,
  };
}

/** Applies MLL_REDIS_CLUSTER_NODES and the password variables to what REDIS_URL said. */
export function resolveRedisTarget(
  url: RedisTarget,
  overrides: { clusterNodes?: string; password?: string; sentinelPassword?: string },
): RedisTarget {
  let target = url;
  if (overrides.clusterNodes) {
    if (url.mode === 'sentinel') throw new RedisUrlError('MLL_REDIS_CLUSTER_NODES names a Redis Cluster but REDIS_URL is a redis+sentinel:// URL: set only one of them');
    const { mode: _mode, ...rest } = url;
    const { url: _url, ...credentials } = rest as typeof rest & { url?: string };
    let nodes: HostPort[];
    try {
      nodes = parseHostList(overrides.clusterNodes, 6379);
    } catch (err) {
      throw new RedisUrlError(`MLL_REDIS_CLUSTER_NODES=${JSON.stringify(overrides.clusterNodes)}: ${(err as Error).message}`);
    }
    target = { ...credentials, mode: 'cluster', nodes };
  }
  if (overrides.password) target = { ...target, password: overrides.password };
  if (overrides.sentinelPassword) {
    if (target.mode !== 'sentinel') throw new RedisUrlError('MLL_REDIS_SENTINEL_PASSWORD is set but REDIS_URL is not a redis+sentinel:// URL');
    target = { ...target, sentinelPassword: overrides.sentinelPassword };
  }
  return target;
}

/** For logs and error messages: where Redis is, never a password. */
export function describeRedisTarget(target: RedisTarget): string {
  const list = (nodes: HostPort[]) => nodes.map((n) => (n.host.includes(':') ? `[${n.host}]:${n.port}` : `${n.host}:${n.port}`)).join(', ');
  switch (target.mode) {
    case 'single': {
      const m = /^([a-z]+:\/\/)(?:[^@/]*@)?(.*)$/i.exec(target.url);
      return `Redis at ${m ? `${m[1]}${m[2]}` : '(REDIS_URL)'}`;
    }
    case 'cluster':
      return `Redis Cluster (seed nodes ${list(target.nodes)})`;
    case 'sentinel':
      return `Redis master "${target.name}" via Sentinel (${list(target.sentinels)})`;
  }
}
