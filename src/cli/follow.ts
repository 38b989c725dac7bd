import { setTimeout as sleep } from 'node:timers/promises';
import { versionPath, type EventsPage, type VersionEnd, type VersionEvent } from './api-types.js';
import { isAbort, type ApiClient } from './client.js';
import { CliError } from './errors.js';
import { clockTime, paintStatus, type Colors } from './output.js';
import { outcomeOf, reconnectRetry } from './retry.js';

/**
 * Follows a version's events until it is terminal: the events so far as JSON pages, then the SSE
 * stream from there, resumed with Last-Event-ID when the connection drops (a restarting API is
 * waited for a little while), or polling of the JSON events when the server does not stream.
 * Returns the final `end` data.
 */
export interface FollowOptions {
  /** Resume after this event id (exclusive). */
  after?: string;
  signal?: AbortSignal;
  onEvent(event: VersionEvent): void;
  /** Reconnection attempts in a row before giving up (default 8, about 30 s; reconnectRetry). */
  retries?: number;
}

export async function followVersion(client: ApiClient, model: string, version: number, options: FollowOptions): Promise<VersionEnd> {
  const path = `${versionPath(model, version)}/events`;
  // What happened so far comes from the JSON pages (complete however long the log is); the
  // stream is only opened for what is still to come.
  const sofar = await readEvents(client, model, version, options.after, options.signal);
  for (const e of sofar.items) options.onEvent(e);
  if (sofar.terminal) {
    const record = await client.get<VersionEnd>(versionPath(model, version), undefined, options.signal);
    return { status: record.status, error: record.error, image: record.image };
  }
  let last = sofar.last ?? options.after;
  let failures = 0;
  for (;;) {
    try {
      for await (const e of client.events(path, { lastEventId: last, signal: options.signal })) {
        failures = 0;
        if (e.event === 'end') return JSON.parse(e.data) as VersionEnd;
        const event = JSON.parse(e.data) as VersionEvent;
        if (e.id) last = e.id;
        options.onEvent(event);
      }
      // Closed without an end event (the API restarted or a proxy cut it): resume.
    } catch (err) {
      if (isAbort(err)) throw err;
      if (err instanceof CliError && err.code === 'BAD_RESPONSE') return pollVersion(client, model, version, { ...options, after: last });
      const policy = options.retries === undefined ? reconnectRetry : reconnectRetry.with({ attempts: options.retries + 1 });
      if (!(err instanceof CliError) || !policy.decide(failures + 1, outcomeOf(err)).retry) throw err;
    }
    await sleep(reconnectRetry.delay(++failures), undefined, { signal: options.signal });
  }
}

/** The same, by polling the JSON events (`?after=`) once a second. */
export async function pollVersion(client: ApiClient, model: string, version: number, options: FollowOptions): Promise<VersionEnd> {
  let last = options.after;
  for (;;) {
    const page = await client.get<EventsPage>(`${versionPath(model, version)}/events`, { after: last, limit: 1000 }, options.signal);
    for (const e of page.items) options.onEvent(e);
    last = page.last ?? last;
    if (page.terminal && page.items.length < 1000) {
      const record = await client.get<VersionEnd>(versionPath(model, version), undefined, options.signal);
      return { status: record.status, error: record.error, image: record.image };
    }
    if (page.items.length < 1000) await sleep(1000, undefined, { signal: options.signal });
  }
}

/** Every event of a version so far (JSON pages), oldest first. */
export async function readEvents(client: ApiClient, model: string, version: number, after?: string, signal?: AbortSignal): Promise<EventsPage> {
  const items: VersionEvent[] = [];
  let last = after;
  for (;;) {
    const page = await client.get<EventsPage>(`${versionPath(model, version)}/events`, { after: last, limit: 1000 }, signal);
    items.push(...page.items);
    last = page.last ?? last;
    if (page.items.length < 1000) return { ...page, items, last: last ?? null };
  }
}

/** One event as a line: `12:00:01  build    building`, log lines indented with a bar. */
export function renderEvent(e: VersionEvent, c: Colors): string {
  const time = c.dim(clockTime(e.at));
  const stage = (e.stage ?? '').padEnd(7);
  switch (e.type) {
    case 'created':
      return `${time}  ${stage}  ${paintStatus(e.status ?? 'queued', c)}`;
    case 'status': {
      const status = paintStatus(e.status ?? '', c);
      if (e.status === 'failed') return `${time}  ${stage}  ${status}  ${e.error ? `${e.error.code}: ${e.error.message}` : e.message ?? ''}`.trimEnd();
      return `${time}  ${stage}  ${status}${e.message ? `  ${c.dim(e.message)}` : ''}`;
    }
    case 'warning':
      return `${time}  ${stage}  ${c.yellow('warning')}  ${e.message ?? ''}`;
    default:
      return `${time}  ${stage}  ${c.dim('|')} ${e.message ?? ''}`;
  }
}
