import type { Request, Response } from 'express';

export interface SseEvent {
  id: string;
  event: string;
  data: unknown;
}

export interface SseSource {
  /** Events after `afterId` (exclusive), oldest first. */
  read(afterId: string): Promise<SseEvent[]>;
  /** True once no further events can come; the stream then sends `end` and closes. */
  finished(): Promise<boolean>;
  /** Calls `wake` when new events may exist; returns the unsubscribe function. */
  subscribe(wake: () => void): () => void;
  /** Data of the final `end` event. */
  endData(): Promise<unknown>;
}

/**
 * Serves a server-sent event stream from a source that can be read from any event id: resumes
 * after `Last-Event-ID` (or ?after=), sends heartbeats, re-reads on every wake-up and on each
 * heartbeat (so a lost notice only delays), and ends with an `end` event when the source is done.
 */
export interface SseOptions {
  heartbeatMs?: number;
  /** Where to start without Last-Event-ID or ?after= (default '0': the beginning). */
  startId?: string;
  /** The wire text of one event (default: id, event, data as JSON). */
  frame?: (e: SseEvent) => string;
  /** The wire text of the final event (default: `end` with the source's end data as JSON). */
  endFrame?: (data: unknown) => string;
}

const defaultFrame = (e: SseEvent) => `id: ${e.id}\nevent: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`;
const defaultEndFrame = (data: unknown) => `event: end\ndata: ${JSON.stringify(data)}\n\n`;

export async function serveSse(req: Request, res: Response, source: SseSource, options: SseOptions = {}): Promise<void> {
  let lastId = String(req.header('last-event-id') ?? req.query.after ?? options.startId ?? '0');
  const frame = options.frame ?? defaultFrame;
  const endFrame = options.endFrame ?? defaultEndFrame;
  res.status(200).set({
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  res.write('retry: 2000\n\n');

  let closed = false;
  let pumping: Promise<void> | undefined;
  let again = false;
  const write = (e: SseEvent) => res.write(frame(e));

  const pumpOnce = async () => {
    const events = await source.read(lastId);
    for (const e of events) {
      write(e);
      lastId = e.id;
    }
    if (await source.finished()) {
      // Everything up to the end, however many pages, before `end`.
      for (let more = await source.read(lastId); more.length > 0; more = await source.read(lastId)) {
        for (const e of more) {
          write(e);
          lastId = e.id;
        }
      }
      res.write(endFrame(await source.endData()));
      close();
    }
  };
  const pump = () => {
    if (closed) return;
    if (pumping) {
      again = true;
      return;
    }
    pumping = (async () => {
      do {
        again = false;
        await pumpOnce().catch(() => close());
      } while (again && !closed);
    })().finally(() => (pumping = undefined));
  };

  const unsubscribe = source.subscribe(pump);
  const heartbeat = setInterval(() => {
    if (closed) return;
    res.write(': heartbeat\n\n');
    pump();
  }, options.heartbeatMs ?? 15_000);
  function close() {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    unsubscribe();
    res.end();
  }
  req.on('close', close);
  pump();
}
