import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { packDirectory } from '../../archive/pack-dir.js';
import { terminal, type ApiErrorBody, type Batch, type BatchEvent } from '../api-types.js';
import { isAbort, type ApiClient } from '../client.js';
import { commandContext, type CommandContext } from '../context.js';
import { CliError, ExitCode, usageError } from '../errors.js';
import { expandArguments } from '../glob.js';
import { resolveModel, uploadMetadata, type UploadMetadata } from '../model-dir.js';
import { batchBody, newBoundary, type BatchPart } from '../multipart.js';
import { collect, positiveInt, positiveSeconds } from '../options.js';
import { formatBytes, formatDuration, oneLine, paintStatus, table, writeJson } from '../output.js';
import { batchProgress, type BatchProgress } from '../progress.js';
import { outcomeOf, reachedApi, reconnectRetry, sendRetry } from '../retry.js';
import type { CliIO, CommandRegistrar } from '../program.js';

/**
 * `mll batch <dir>...`: many models in one streamed multipart POST /api/v1/batches (one batch,
 * one id to follow; each model becomes its own version or is refused alone), with folders packed
 * ahead in parallel so the connection never idles. Then it follows the batch's event stream
 * (one connection, whatever the number of models) until every item is terminal, and prints a
 * table of model, version, status and error. Exit 1 if any model failed or was refused.
 */

export interface BatchOptions {
  concurrency: number;
  wait: boolean;
  gzip: boolean;
  modelType?: string;
  label: string[];
  description?: string;
  timeout?: number;
  id?: string;
}

/** One row of the outcome: an input folder and what became of it. */
export interface BatchRow {
  path: string | null;
  model: string;
  version: number | null;
  status: string;
  error: ApiErrorBody | null;
  versionUrl: string | null;
  batch: string | null;
}

/** The server takes at most 10,000 file parts per request; bigger inputs go as several batches. */
const maxPerBatch = 5000;
const bufferCap = 4 * 1024 * 1024;

interface Prepared {
  path: string;
  model: string;
  /** What to pack (serving.yaml's payload), or null for the whole folder. */
  include: string[] | null;
}

async function prepare(paths: string[]): Promise<{ ready: Prepared[]; refused: BatchRow[] }> {
  const ready: Prepared[] = [];
  const refused: BatchRow[] = [];
  for (const p of paths) {
    try {
      const source = await resolveModel(p, undefined);
      ready.push({ path: source.path, model: source.name, include: source.include });
    } catch (err) {
      if (!(err instanceof CliError)) throw err;
      // Naming problems are this model's alone: reported in the table, the rest go on.
      const model = path.basename(p);
      const message = err.code === 'USAGE' ? `"${model}" is not a valid model name (1-63 of a-z, 0-9, "_", "-"): rename the folder or name the model in its serving.yaml` : err.message;
      refused.push({ path: p, model, version: null, status: 'rejected', error: { code: 'INVALID_MODEL_NAME', message }, versionUrl: null, batch: null });
    }
  }
  return { ready, refused };
}

/**
 * Sends one batch request with an Idempotency-Key; returns the batch view the API answered with.
 * A request cut off midway (dropped connection, API restarted) is sent again whole with the same
 * key: the API fills the same batch and takes the items it already made (sendRetry).
 */
async function sendBatch(ctx: CommandContext, items: Prepared[], metadata: UploadMetadata, opts: BatchOptions, hooks: {
  onBytes(n: number): void;
  onItemSent(index: number): void;
  onItemError(index: number, err: unknown): void;
  onRetry(err: CliError, attempt: number): void;
}): Promise<{ batch: Batch; sent: Prepared[] }> {
  const key = randomUUID();
  let reached = false;
  for (let attempt = 1; ; attempt++) {
    const sent: Prepared[] = [];
    const parts: BatchPart[] = items.map((item) => ({
      metadata: JSON.stringify({ model: item.model, ...metadata }),
      filename: `${item.model}.${opts.gzip ? 'tar.gz' : 'tar'}`,
      contentType: opts.gzip ? 'application/gzip' : 'application/x-tar',
      open: () => packDirectory(item.path, { gzip: opts.gzip, include: item.include }),
    }));
    const boundary = newBoundary();
    const body = batchBody(parts, boundary, {
      readAhead: opts.concurrency,
      bufferCap,
      onBytes: hooks.onBytes,
      onItemSent: (i) => {
        sent.push(items[i]!);
        hooks.onItemSent(i);
      },
      onItemError: (i, err) => {
        hooks.onItemError(i, err);
        return true;
      },
    });
    try {
      const res = await ctx.client.send<Batch>('POST', '/api/v1/batches', {
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'idempotency-key': key },
        body,
      });
      return { batch: res.body, sent };
    } catch (err) {
      if (!(err instanceof CliError)) throw err;
      reached ||= reachedApi(err);
      const decision = sendRetry(reached).decide(attempt, outcomeOf(err));
      if (!decision.retry) throw err;
      hooks.onRetry(err, attempt);
      await sleep(decision.delayMs);
    }
  }
}

interface Tally {
  released: number;
  failed: number;
  rejected: number;
}

/**
 * Follows a batch until every item is terminal: its event stream (one connection whatever the
 * number of models; resumed with Last-Event-ID after a dropped connection), or, when the server
 * does not stream, polling GET /batches/{id} with If-None-Match. Returns the final view.
 */
export async function followBatch(client: ApiClient, id: string, onTally: (t: Tally) => void, signal?: AbortSignal): Promise<Batch> {
  const path = `/api/v1/batches/${encodeURIComponent(id)}`;
  try {
    await streamBatch(client, path, onTally, signal);
  } catch (err) {
    if (!(err instanceof CliError) || err.code !== 'BAD_RESPONSE') throw err;
    return pollBatch(client, path, onTally, signal);
  }
  const view = await client.get<Batch>(path, undefined, signal);
  const c = view.counts;
  onTally({ released: c.released ?? 0, failed: c.failed ?? 0, rejected: c.rejected ?? 0 });
  return view;
}

async function streamBatch(client: ApiClient, path: string, onTally: (t: Tally) => void, signal?: AbortSignal): Promise<void> {
  const states = new Map<string, string>();
  let rejected = 0;
  const tally = () => {
    let released = 0;
    let failed = 0;
    for (const s of states.values()) {
      if (s === 'released') released++;
      else if (s === 'failed') failed++;
    }
    onTally({ released, failed, rejected });
  };
  let last: string | undefined;
  let failures = 0;
  for (;;) {
    try {
      for await (const e of client.events(`${path}/events`, { lastEventId: last, signal })) {
        failures = 0;
        if (e.event === 'end') return;
        if (e.id) last = e.id;
        const event = JSON.parse(e.data) as BatchEvent;
        if (event.version === null) rejected++;
        // A terminal state never goes back (events may be replayed after a reconnection).
        else if (!terminal(states.get(`${event.model}:${event.version}`) ?? '')) states.set(`${event.model}:${event.version}`, event.status);
        tally();
      }
      // Closed without an end event (the API restarted or a proxy cut it): resume.
    } catch (err) {
      // A restarting API is waited for a while (about half a minute); anything else ends it.
      if (isAbort(err) || !(err instanceof CliError) || !reconnectRetry.decide(failures + 1, outcomeOf(err)).retry) throw err;
    }
    await sleep(reconnectRetry.delay(++failures), undefined, { signal });
  }
}

async function pollBatch(client: ApiClient, path: string, onTally: (t: Tally) => void, signal?: AbortSignal): Promise<Batch> {
  let etag: string | undefined;
  let view: Batch | undefined;
  for (;;) {
    const res = await client.request<Batch>('GET', path, { headers: etag ? { 'if-none-match': etag } : {}, signal });
    if (res.status !== 304 || !view) {
      view = res.body;
      etag = res.headers.get('etag') ?? undefined;
      const c = view.counts;
      onTally({ released: c.released ?? 0, failed: c.failed ?? 0, rejected: c.rejected ?? 0 });
      if (view.done) return view;
    }
    await sleep(2000, undefined, { signal });
  }
}

function rowsOf(batch: Batch, sent: Prepared[] | null): BatchRow[] {
  return batch.items.map((item) => ({
    path: sent?.[item.index]?.path ?? null,
    model: item.model,
    version: item.version,
    status: item.status,
    error: item.error,
    versionUrl: item.versionUrl,
    batch: batch.id,
  }));
}

function renderRows(ctx: CommandContext, rows: BatchRow[]): string {
  const c = ctx.out;
  return table(
    ['MODEL', 'VERSION', 'STATUS', 'ERROR'],
    rows.map((r) => [r.model, r.version === null ? '—' : String(r.version), paintStatus(r.status, c), r.error ? c.red(`${r.error.code}: ${oneLine(r.error.message, 140)}`) : '']),
    c,
  );
}

async function batch(ctx: CommandContext, args: string[], opts: BatchOptions): Promise<void> {
  const started = Date.now();
  const metadata = uploadMetadata(opts);
  const timeout = opts.timeout ? AbortSignal.timeout(opts.timeout * 1000) : undefined;
  const rows: BatchRow[] = [];
  let inputs: string[] = [];
  const batches: { id: string; url: string }[] = [];
  let progress: BatchProgress | undefined;
  const counts = { sent: 0, sentBytes: 0, released: 0, failed: 0, rejected: 0 };

  try {
    if (opts.id) {
      if (args.length > 0) throw usageError('give either folders to upload or --id of an existing batch, not both');
      const view = await ctx.client.get<Batch>(`/api/v1/batches/${encodeURIComponent(opts.id)}`);
      batches.push({ id: view.id, url: view.url });
      progress = batchProgress(ctx.io.stderr, ctx.progress, view.total);
      progress.update({ sent: view.total });
      const final = opts.wait && !view.done ? await followBatch(ctx.client, view.id, (t) => progress!.update(t), timeout) : view;
      progress.stop();
      rows.push(...rowsOf(final, null));
    } else {
      if (args.length === 0) throw usageError('give the model folders to upload (or a quoted glob such as "models/*")');
      const paths = await expandArguments(args);
      inputs = paths;
      const { ready, refused } = await prepare(paths);
      rows.push(...refused);
      counts.rejected = refused.length;
      ctx.note(`uploading ${ready.length} models${refused.length ? ` (${refused.length} refused here: bad names)` : ''}, ${opts.concurrency} packed ahead`);
      progress = batchProgress(ctx.io.stderr, ctx.progress, paths.length);
      progress.update({ ...counts });
      for (let from = 0; from < ready.length; from += maxPerBatch) {
        const chunk = ready.slice(from, from + maxPerBatch);
        const base = { ...counts };
        const rowsBefore = rows.length;
        const { batch: view, sent } = await sendBatch(ctx, chunk, metadata, opts, {
          onBytes: (n) => {
            counts.sentBytes += n;
            progress!.update({ sentBytes: counts.sentBytes });
          },
          onItemSent: () => {
            counts.sent += 1;
            progress!.update({ sent: counts.sent });
          },
          onItemError: (i, err) => {
            counts.rejected += 1;
            const reason = (err as NodeJS.ErrnoException)?.code ?? (err as Error)?.message ?? String(err);
            rows.push({ path: chunk[i]!.path, model: chunk[i]!.model, version: null, status: 'rejected', error: { code: 'READ_FAILED', message: `cannot read ${chunk[i]!.path} (${reason})` }, versionUrl: null, batch: null });
            progress!.update({ rejected: counts.rejected });
          },
          onRetry: (err, attempt) => {
            // Sent again whole: what this attempt counted is counted again.
            rows.length = rowsBefore;
            Object.assign(counts, base);
            progress!.update({ ...counts });
            progress!.log(`batch attempt ${attempt} was cut off (${err.code}: ${err.message}); sending it again, the API keeps what it already took`);
          },
        });
        counts.sent = base.sent + sent.length;
        batches.push({ id: view.id, url: view.url });
        const refusedHere = view.counts.rejected ?? 0;
        progress.log(`batch ${view.id}: ${view.total - refusedHere} accepted, ${refusedHere} refused; follow it with: mll batch --id ${view.id}`);
        if (opts.wait) {
          const before = { ...counts };
          const final = await followBatch(ctx.client, view.id, (t) => {
            Object.assign(counts, { released: before.released + t.released, failed: before.failed + t.failed, rejected: before.rejected + t.rejected });
            progress!.update(counts);
          }, timeout);
          rows.push(...rowsOf(final, sent));
        } else rows.push(...rowsOf(view, sent));
      }
      progress.stop();
    }
  } catch (err) {
    progress?.stop();
    if (isAbort(err) && timeout?.aborted) {
      throw new CliError('TIMEOUT', `gave up waiting after ${opts.timeout} s; the builds go on${batches.length ? ` (mll batch --id ${batches.at(-1)!.id})` : ''}`, {
        exitCode: ExitCode.TIMEOUT, details: { batches },
      });
    }
    throw err;
  }

  // Rows in the order the folders were given (refused ones included), whatever the send order.
  const order = new Map(inputs.map((p, i) => [p, i]));
  const rank = (r: BatchRow) => order.get(r.path ?? '') ?? order.size;
  if (inputs.length > 0) rows.sort((a, b) => rank(a) - rank(b));
  const by = (s: string) => rows.filter((r) => r.status === s).length;
  const summary = {
    batches,
    total: rows.length,
    counts: Object.fromEntries([...new Set(rows.map((r) => r.status))].map((s) => [s, by(s)])),
    done: rows.every((r) => terminal(r.status)),
    seconds: Math.round((Date.now() - started) / 100) / 10,
    items: rows,
  };
  if (ctx.json) writeJson(ctx.io.stdout, summary);
  else {
    ctx.io.stdout.write(renderRows(ctx, rows));
    const parts = Object.entries(summary.counts).map(([s, n]) => `${n} ${paintStatus(s, ctx.err)}`);
    ctx.note(`${rows.length} models in ${formatDuration(Date.now() - started)}: ${parts.join(', ')}${counts.sentBytes ? ` (${formatBytes(counts.sentBytes)} sent)` : ''}`);
  }
  const bad = by('failed') + by('rejected');
  if (bad > 0) {
    throw new CliError('BATCH_FAILED', `${bad} of ${rows.length} models failed or were refused`, { details: { failed: by('failed'), rejected: by('rejected'), batches } });
  }
}

export const registerBatchCommand: CommandRegistrar = (program: Command, io: CliIO) => {
  program
    .command('batch')
    .description('upload many model folders as one batch, wait for every build, print a table')
    .argument('[dirs...]', 'model folders, or quoted globs such as "models/*"')
    .option('-c, --concurrency <n>', 'folders packed ahead of the upload stream in parallel', positiveInt, 8)
    .option('--no-wait', 'return once the batch is accepted, without waiting for the builds')
    .option('--gzip', 'compress each payload on the way (tar.gz)', false)
    .option('--model-type <type>', 'framework:version for every model (serving.yaml wins)')
    .option('--label <key=value>', 'a label on every version; repeat for more', collect, [])
    .option('--description <text>', 'a description on every version')
    .option('--timeout <seconds>', 'stop waiting after this long (exit 4; the builds go on)', positiveSeconds)
    .option('--id <batch-id>', 'follow an existing batch instead of uploading (as printed by an earlier mll batch)')
    .addHelpText('after', [
      '',
      'Each folder is named like mll upload names it (serving.yaml, else the folder name). A model that',
      'is refused or fails does not stop the others; the exit code is 1 if any did. Progress goes to',
      'stderr, the table (or with --json the whole outcome) to stdout.',
      '',
      'Examples:',
      '  $ mll batch models/*',
      '  $ mll batch "nightly/**/model" --label run=2024-06-01 --concurrency 16',
      '  $ mll batch models/* --no-wait            prints the batch id; then:',
      '  $ mll batch --id 5b0e…                     follow it to the end',
      '  $ mll --json batch models/* | jq \'.items[] | select(.status != "released")\'',
    ].join('\n'))
    .action(async (dirs: string[], opts: BatchOptions, cmd: Command) => {
      await batch(commandContext(cmd, io), dirs, opts);
    });
};
