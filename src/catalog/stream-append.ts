import type { RedisClient } from '../redis/connect.js';
import { RedisScript } from '../redis/script.js';

/**
 * XADD one or more entries to a stream, in order, and PUBLISH one notice carrying the last new
 * entry's id, in one round trip (a script) instead of one per entry plus one per notice: every
 * version event, batch event and Hydrosphere update goes this way, and a stage's log lines written
 * close together go as one call. The notice is `notice` as JSON with `id` added last, byte for
 * byte what JSON.stringify({ ...notice, id }) gives.
 * KEYS: stream. ARGV: maxlen (approximate), expire seconds ('0': none), channel, notice before the
 * id, notice after the id, fields per entry (n), then each entry's n field/value strings.
 * Returns the new ids, oldest first.
 */
const script = new RedisScript(`
local n = tonumber(ARGV[6])
local ids = {}
for at = 7, #ARGV, n do
  ids[#ids + 1] = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, at, at + n - 1))
end
if ARGV[2] ~= '0' then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
redis.call('PUBLISH', ARGV[3], ARGV[4] .. ids[#ids] .. ARGV[5])
return ids`, 1);

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

export interface StreamAppendMany extends Omit<StreamAppend, 'fields'> {
  /** Field/value pairs of each entry, in the order they are added; every entry has as many. */
  entries: string[][];
}

export async function appendAndAnnounce(redis: RedisClient, entry: StreamAppend): Promise<string> {
  const { fields, ...rest } = entry;
  return (await appendManyAndAnnounce(redis, { ...rest, entries: [fields] }))[0]!;
}

/** Several entries in one call (one notice, with the last id): their ids, oldest first. */
export async function appendManyAndAnnounce(redis: RedisClient, append: StreamAppendMany): Promise<string[]> {
  const width = append.entries[0]?.length ?? 0;
  if (width === 0 || append.entries.some((e) => e.length !== width)) {
    throw new Error('stream entries must be non-empty and all have as many fields');
  }
  const json = JSON.stringify({ ...append.notice, id: marker });
  const at = json.lastIndexOf(`"${marker}"`);
  const before = `${json.slice(0, at)}"`;
  const after = `"${json.slice(at + marker.length + 2)}`;
  const ids = await script.run(redis, [append.stream], [
    String(append.maxLen), String(append.expireSeconds ?? 0), append.channel, before, after, String(width), ...append.entries.flat(),
  ]);
  return (ids as unknown[]).map(String);
}
