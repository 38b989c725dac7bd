import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import { packDirectory } from '../../src/archive/pack-dir.js';
import type { VersionRecord, VersionStatus } from '../../src/domain/version.js';
import { waitFor } from './wait.js';

export async function streamToBuffer(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

export async function tarOf(dir: string, gzip = false): Promise<Buffer> {
  return streamToBuffer(packDirectory(dir, { gzip }));
}

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

export async function api<T = Record<string, unknown>>(url: string, init: RequestInit = {}): Promise<ApiResponse<T>> {
  const res = await fetch(url, init).catch((err: Error) => {
    // undici says only "fetch failed"; what failed (ECONNRESET, ECONNREFUSED, …) is in the cause.
    const cause = err.cause as (Error & { code?: string }) | undefined;
    throw new Error(`${init.method ?? 'GET'} ${url}: ${err.message}${cause ? `: ${cause.code ?? ''} ${cause.message}` : ''}`, { cause: err });
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: body as T, headers: res.headers };
}

export type PresentedVersion = VersionRecord & { url: string };

export async function uploadTar(base: string, model: string, body: Buffer, options: { gzip?: boolean; query?: string } = {}) {
  return api<PresentedVersion & { error?: { code: string; message: string } }>(
    `${base}/api/v1/models/${model}/versions${options.query ? `?${options.query}` : ''}`,
    { method: 'POST', headers: { 'content-type': options.gzip ? 'application/gzip' : 'application/x-tar' }, body: new Uint8Array(body) },
  );
}

export async function uploadMultipart(base: string, model: string, body: Buffer, metadata?: unknown) {
  const form = new FormData();
  if (metadata !== undefined) form.append('metadata', typeof metadata === 'string' ? metadata : JSON.stringify(metadata));
  form.append('payload', new Blob([new Uint8Array(body)]), 'model.tar');
  return api<PresentedVersion & { error?: { code: string; message: string } }>(`${base}/api/v1/models/${model}/versions`, { method: 'POST', body: form });
}

/**
 * How many 'released' status events a version's stream holds, a second after it holds one: the
 * record reaches the cache a moment before its event reaches the stream (so a poller that just saw
 * the status may read the events before it is there), and a second announcer would come soon after.
 */
export async function releasedEvents(base: string, model: string, version: number): Promise<number> {
  const count = async () => {
    const events = await api<{ items: { type: string; status?: string }[] }>(`${base}/api/v1/models/${model}/versions/${version}/events`);
    return events.body.items.filter((e) => e.type === 'status' && e.status === 'released').length;
  };
  await waitFor(`the released event of ${model} v${version}`, async () => ((await count()) > 0 ? true : undefined), 10_000);
  await new Promise((resume) => setTimeout(resume, 1000));
  return count();
}

/** Polls a version until it reaches one of `statuses` (default: terminal). */
export async function waitForVersion(base: string, model: string, version: number, options: { statuses?: VersionStatus[]; timeoutMs?: number } = {}): Promise<PresentedVersion> {
  const statuses = options.statuses ?? ['released', 'failed'];
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  let last: PresentedVersion | undefined;
  while (Date.now() < deadline) {
    const res = await api<PresentedVersion>(`${base}/api/v1/models/${model}/versions/${version}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    last = res.body;
    if (statuses.includes(last.status)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${model}:${version} did not reach ${statuses.join('|')} in time; last status ${last?.status} ${JSON.stringify(last?.error)}`);
}

/**
 * Sends a request again while the answer is 409 (an Idempotency-Key still held by an earlier
 * attempt: its claim or lease has not lapsed yet), `pauseMs` apart, for about twenty seconds;
 * returns the first other answer and how many 409s came before it.
 */
export async function retryPastConflicts<T>(send: () => Promise<ApiResponse<T>>, pauseMs = 500): Promise<{ answer: ApiResponse<T>; conflicts: number }> {
  const deadline = Date.now() + 20_000;
  let conflicts = 0;
  for (;;) {
    const answer = await send();
    if (answer.status !== 409 || Date.now() > deadline) return { answer, conflicts };
    conflicts += 1;
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
}
