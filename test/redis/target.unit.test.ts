import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { describeRedisTarget, parseRedisUrl } from '../../src/redis/target.js';

const configError = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (err) {
    return (err as Error).message;
  }
  return 'no error';
};

describe('REDIS_URL: one server, a Cluster or Sentinel, parsed once', () => {
  it('keeps a plain redis:// URL as it is, credentials and all', () => {
    assert.deepEqual(parseRedisUrl('redis://127.0.0.1:6379'), { mode: 'single', url: 'redis://127.0.0.1:6379', tls: false });
    assert.deepEqual(parseRedisUrl('rediss://app:s%40cret@redis.internal:6380/2'), {
      mode: 'single', url: 'rediss://app:s%40cret@redis.internal:6380/2', username: 'app', password: 's@cret', tls: true,
    });
  });

  it('reads a Cluster as a list of seed nodes, with credentials and default ports', () => {
    assert.deepEqual(parseRedisUrl('redis+cluster://:pw@10.0.0.1:7000,10.0.0.2,[::1]:7002'), {
      mode: 'cluster', nodes: [{ host: '10.0.0.1', port: 7000 }, { host: '10.0.0.2', port: 6379 }, { host: '::1', port: 7002 }], password: 'pw', tls: false,
    });
  });

  it('reads Sentinel with the master name, database and sentinel password', () => {
    assert.deepEqual(parseRedisUrl('redis+sentinel://s1:26379,s2/3?name=mymaster&sentinelPassword=sp'), {
      mode: 'sentinel', sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26379 }], name: 'mymaster', db: 3, sentinelPassword: 'sp', tls: false,
    });
  });

  it('never shows a password when describing where Redis is', () => {
    assert.equal(describeRedisTarget(parseRedisUrl('redis://u:topsecret@h:1')), 'Redis at redis://h:1');
    assert.equal(describeRedisTarget(parseRedisUrl('redis+cluster://:topsecret@a:1,b:2')), 'Redis Cluster (seed nodes a:1, b:2)');
    assert.equal(describeRedisTarget(parseRedisUrl('redis+sentinel://x:26379?name=m&sentinelPassword=topsecret')), 'Redis master "m" via Sentinel (x:26379)');
  });

  it('MLL_REDIS_CLUSTER_NODES and the password variables override what REDIS_URL says', () => {
    const config = loadConfig({ REDIS_URL: 'rediss://app@ignored:1', MLL_REDIS_CLUSTER_NODES: 'a:7000, b:7001', MLL_REDIS_PASSWORD: 'from-secret' });
    assert.deepEqual(config.redis, { mode: 'cluster', nodes: [{ host: 'a', port: 7000 }, { host: 'b', port: 7001 }], username: 'app', password: 'from-secret', tls: true });
    const sentinel = loadConfig({ REDIS_URL: 'redis+sentinel://s:26379?name=m', MLL_REDIS_SENTINEL_PASSWORD: 'sp' });
    assert.equal(sentinel.redis.mode === 'sentinel' && sentinel.redis.sentinelPassword, 'sp');
    assert.equal(loadConfig({}).redis.mode, 'single');
  });

  it('refuses what it cannot use, naming the variable and what to write instead', () => {
    assert.match(configError({ REDIS_URL: 'http://h:1' }), /REDIS_URL="http:\/\/h:1": the scheme "http:" is not one of redis:\/\//);
    assert.match(configError({ REDIS_URL: 'redis://a:1,b:2' }), /REDIS_URL=.*several hosts: use redis\+cluster:\/\//);
    assert.match(configError({ REDIS_URL: 'redis+sentinel://s:26379' }), /needs the master group name: \?name=mymaster/);
    assert.match(configError({ REDIS_URL: 'redis+cluster://a:99999' }), /"a:99999" has no valid port/);
    assert.match(configError({ REDIS_URL: 'redis+cluster://a:1/2' }), /a Redis Cluster has only database 0/);
    assert.match(configError({ MLL_REDIS_CLUSTER_NODES: 'a:b:c' }), /MLL_REDIS_CLUSTER_NODES="a:b:c": "a:b:c" is not host:port/);
    assert.match(configError({ REDIS_URL: 'redis+sentinel://s?name=m', MLL_REDIS_CLUSTER_NODES: 'a:1' }), /set only one of them/);
    assert.match(configError({ MLL_REDIS_SENTINEL_PASSWORD: 'x' }), /not a redis\+sentinel:\/\/ URL/);
  });
});
