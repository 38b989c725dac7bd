import { createHash } from 'node:crypto';
import { isCluster, type RedisClient } from './connect.js';

/** Redis's answer to EVALSHA of a script it does not hold: nothing ran, so EVAL may follow. */
export function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}

/**
 * A Lua script of ours, called by its SHA1 (EVALSHA) so that its text crosses the wire only when
 * the server does not hold it yet: the first call after the server started, a failover to a
 * replica (scripts are not replicated) or SCRIPT FLUSH. That call fails with NOSCRIPT, having run
 * nothing, and is sent again as EVAL, which loads the script for the calls after it. In a Cluster
 * both go to the node that holds the keys' slot, so each node learns the script once.
 * Every script of ours goes through this (test/redis/scripts.unit.test.ts checks the sources).
 */
export class RedisScript {
  readonly sha: string;

  constructor(readonly lua: string, readonly keyCount: number) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  async run(redis: RedisClient, keys: readonly string[], args: readonly (string | number)[] = []): Promise<unknown> {
    if (keys.length !== this.keyCount) throw new Error(`script takes ${this.keyCount} keys, given ${keys.length}`);
    try {
      return await redis.evalsha(this.sha, this.keyCount, ...keys, ...args);
    } catch (err) {
      if (!isNoScript(err)) throw err;
    }
    return redis.eval(this.lua, this.keyCount, ...keys, ...args);
  }
}

/** Sets a counter to ARGV[1] unless it is higher already (counters are only ever raised). KEYS: counter. */
export const raiseCounterScript = new RedisScript(
  "local c = tonumber(redis.call('GET', KEYS[1]) or '0'); if c < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end; return 1",
  1,
);

/** Deletes a key only while it holds ARGV[1] (a lock or claim that is still the caller's). KEYS: key. */
export const deleteIfHeldScript = new RedisScript(
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
  1,
);

export interface ScriptCall {
  script: RedisScript;
  keys: readonly string[];
  args?: readonly (string | number)[];
}

/**
 * Several script calls that may run in any order and need not be atomic together, in one write
 * where the connection allows it: a pipeline on one server or Sentinel. On a Cluster, where their
 * keys may be on different nodes, they go side by side as separate calls. Each runs or fails on
 * its own, as with Promise.all of their run(): the answers in order, or the first error.
 */
export async function runTogether(redis: RedisClient, calls: readonly ScriptCall[]): Promise<unknown[]> {
  if (isCluster(redis) || calls.length < 2) return Promise.all(calls.map((c) => c.script.run(redis, c.keys, c.args)));
  const pipeline = redis.pipeline();
  for (const c of calls) {
    if (c.keys.length !== c.script.keyCount) throw new Error(`script takes ${c.script.keyCount} keys, given ${c.keys.length}`);
    pipeline.evalsha(c.script.sha, c.script.keyCount, ...c.keys, ...(c.args ?? []));
  }
  const answers = (await pipeline.exec()) ?? [];
  return Promise.all(calls.map(async (c, i) => {
    const [err, value] = answers[i] ?? [new Error('no answer to a pipelined script call'), null];
    if (!err) return value;
    if (!isNoScript(err)) throw err;
    // This one ran nothing: send its text (the others' outcome stands).
    return redis.eval(c.script.lua, c.script.keyCount, ...c.keys, ...(c.args ?? []));
  }));
}
