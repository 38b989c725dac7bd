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

/**
 * The notice `notice` with `id` added last, as the JSON before and after the id's value, for a
 * script to splice the new entry's id in: `before .. id .. after` is JSON.stringify({ ...notice, id }).
 */
export function noticeAround(notice: Record<string, unknown>): [string, string] {
  const json = JSON.stringify({ ...notice, id: marker });
  const at = json.lastIndexOf(`"${marker}"`);
  return [`${json.slice(0, at)}"`, `"${json.slice(at + marker.length + 2)}`];
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
  const [before, after] = noticeAround(append.notice);
  const ids = await script.run(redis, [append.stream], [
    String(append.maxLen), String(append.expireSeconds ?? 0), append.channel, before, after, String(width), ...append.entries.flat(),
  ]);
  return (ids as unknown[]).map(String);
}

/** Where and how a stream's entries are appended: every append to one stream gives the same. */
export type StreamHead = Omit<StreamAppend, 'fields'>;

interface Waiting {
  fields: string[];
  resolve: (id: string) => void;
  reject: (err: unknown) => void;
}

interface StreamQueue {
  head: StreamHead;
  waiting: Waiting[];
  timer: NodeJS.Timeout | undefined;
  /** The call in flight, if any: the next one starts only after it. */
  sending: Promise<void> | undefined;
}

export interface StreamAppenderOptions {
  /** How long an entry appended `soon` waits for others to go with it. */
  coalesceMs: number;
  /** Entries in one call at most. */
  maxEntries: number;
}

/**
 * Appends entries to streams with as few round trips as order allows. Per stream, one call is in
 * flight at a time and the entries that come meanwhile go together in the next one, so a stream
 * gets its entries in the order they were appended whatever the retries (NOSCRIPT, a failover)
 * do to a call. `append` sends at once (or right after the call in flight); `appendSoon` waits up
 * to coalesceMs for others, and goes with any `append` of its stream that comes meanwhile, always
 * before it. A failed call fails each of its entries (the callers decide what a lost entry means);
 * the entries after it are tried in their own call.
 */
export class StreamAppender {
  private readonly streams = new Map<string, StreamQueue>();

  constructor(
    private readonly redis: RedisClient,
    private readonly options: StreamAppenderOptions,
  ) {}

  append(head: StreamHead, fields: string[]): Promise<string> {
    return this.enqueue(head, fields, false);
  }

  appendSoon(head: StreamHead, fields: string[]): Promise<string> {
    return this.enqueue(head, fields, true);
  }

  /** Sends whatever waits, now, and resolves once nothing is waiting or in flight (a shutdown). */
  async flush(): Promise<void> {
    while (this.streams.size > 0) {
      for (const queue of this.streams.values()) if (!queue.sending) this.send(queue);
      await Promise.all([...this.streams.values()].map((q) => q.sending));
    }
  }

  private enqueue(head: StreamHead, fields: string[], soon: boolean): Promise<string> {
    let queue = this.streams.get(head.stream);
    if (!queue) {
      queue = { head, waiting: [], timer: undefined, sending: undefined };
      this.streams.set(head.stream, queue);
    }
    const appended = new Promise<string>((resolve, reject) => queue.waiting.push({ fields, resolve, reject }));
    if (queue.sending) return appended;
    if (!soon || queue.waiting.length >= this.options.maxEntries) this.send(queue);
    else queue.timer ??= setTimeout(() => this.send(queue), this.options.coalesceMs);
    return appended;
  }

  private send(queue: StreamQueue): void {
    clearTimeout(queue.timer);
    queue.timer = undefined;
    const batch = queue.waiting.splice(0, this.options.maxEntries);
    if (batch.length === 0) {
      this.streams.delete(queue.head.stream);
      return;
    }
    queue.sending = appendManyAndAnnounce(this.redis, { ...queue.head, entries: batch.map((w) => w.fields) }).then(
      (ids) => batch.forEach((w, i) => w.resolve(ids[i]!)),
      (err: unknown) => batch.forEach((w) => w.reject(err)),
    ).finally(() => {
      queue.sending = undefined;
      // What came while this call was in flight has waited long enough.
      this.send(queue);
    });
  }
}
