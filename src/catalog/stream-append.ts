import type { RedisClient } from '../redis/connect.js';

/**
 * XADD to a stream and PUBLISH a notice carrying the new entry's id, in one round trip (a script)
 * instead of two or three: every version event, batch event and Hydrosphere update goes this way,
 * a few dozen per released version. The notice is `notice` as JSON with `id` added last, byte for
 * byte what JSON.stringify({ ...notice, id }) gives.
 * KEYS: stream. ARGV: maxlen (approximate), expire seconds ('0': none), channel, notice before the
 * id, notice after the id, then the entry's field/value pairs.
 */
const script = `
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, 6))
if ARGV[2] ~= '0' then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
redis.call('PUBLISH', ARGV[3], ARGV[4] .. id .. ARGV[5])
return id`;

/** A placeholder JSON.stringify writes as itself, cut out to splice the id in. */
const marker = 'mll-stream-id-8c1f';

export interface StreamAppend {
  stream: string;
  maxLen: number;
  /** Field/value pairs of the entry. */
  fields: string[];
  /** The stream's time to live, renewed by each append. */
  expireSeconds?: number;
  channel: string;
  notice: Record<string, unknown>;
}

export async function appendAndAnnounce(redis: RedisClient, entry: StreamAppend): Promise<string> {
  const json = JSON.stringify({ ...entry.notice, id: marker });
  const at = json.lastIndexOf(`"${marker}"`);
  const before = `${json.slice(0, at)}"`;
  const after = `"${json.slice(at + marker.length + 2)}`;
  return String(await redis.eval(
    script, 1, entry.stream,
    String(entry.maxLen), String(entry.expireSeconds ?? 0), entry.channel, before, after, ...entry.fields,
  ));
}
