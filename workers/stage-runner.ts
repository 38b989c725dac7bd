import { UnrecoverableError, type Job } from 'bullmq';
import pLimit, { type LimitFunction } from 'p-limit';
import type { StageJobData } from '../queues/jobs.js';
import type { Catalog, DurableRecord, EventInput } from '../src/catalog/catalog.js';
import { stages, stageStatus, terminalStatuses, type Stage, type VersionRecord, type VersionStatus } from '../src/domain/version.js';
import { errorMessage, isTransient, toErrorBody } from '../src/errors.js';
import type { Metrics } from '../src/metrics.js';
import type { StageContext, StagePorts } from '../src/pipeline/ports.js';
import { releasedMessage, type StageDefinition } from '../src/pipeline/stages.js';
import { isConnectionError, redisSource, type OutageLog } from '../src/app/outage-log.js';
import { abortedByShutdown } from './active-jobs.js';

type StageTiming = { startedAt: string; attempts: number };

/**
 * How long a live writer may take from a terminal record's store write to its cache write (a few
 * ms; seconds on a loaded machine): a stage that finds the version terminal in the store but not
 * in Redis waits this long before it shows the end itself (Catalog.reconcile).
 */
const liveWriterGraceMs = 2000;

/**
 * How one run of a stage ended: it ran (`done`), an earlier run had recorded it already and the
 * caller asked to skip such stages (`done-before`), the version is terminal (`terminal`), or the
 * caller's `stop` said not to start it (`stopped`).
 */
export type StageOutcome = 'done' | 'done-before' | 'terminal' | 'stopped';

/**
 * What a chained job carries from one stage to the next: the durable record as read (or written)
 * last, the record with the ends of the stages run since then applied, and those ends, to be
 * written to the store in one compare-and-swap when the chain stops.
 */
export interface Carried {
  durable: DurableRecord;
  current: VersionRecord;
  /** Stage ends not written yet, in order: each sets its stage's status, output and timing. */
  deferred: ((record: VersionRecord) => void)[];
}

export interface StageRunOptions {
  /**
   * A version job runs it: the stage counts its own attempts (the job's data keeps each stage's
   * attempts across its runs), and a transient failure writes the deferred ends before it.
   */
  chained?: boolean;
  /** Asked once the stage has its slot, before it starts: true leaves it unstarted (a worker shutting down). */
  stop?: () => boolean;
  /** A stage whose finish the record holds is not run again (a chained job's retry goes on from the stage that failed). */
  skipDone?: boolean;
  /** The state the previous stage of the same job left (instead of reading the record again). */
  carry?: Carried;
  /**
   * The next stage runs in the same job: this stage's end is shown (with the next stage's start)
   * and written with a later stage's end, not on its own. A failure or retry writes it first.
   */
  defer?: boolean;
}

export interface StageRun {
  outcome: StageOutcome;
  /** For the next stage of the same job (absent when the version is terminal). */
  carried?: Carried;
}

export interface StageRunner {
  readonly stage: Stage;
  /**
   * One attempt of the stage for the version of `job` (its attempt number is the job's). Throws
   * UnrecoverableError once the version is marked failed; any other error asks for a retry.
   */
  run(job: Job, data: StageJobData, signal: AbortSignal | undefined, options?: StageRunOptions): Promise<StageRun>;
}

/**
 * Writes the stage ends a chained job deferred, over the record it read: before it hands the
 * version on, before a retry (which then goes on from the stage after them), and with the last
 * stage's end (given as one more deferred end, with its event and the status readers were shown).
 * `storeOnly` when Redis shows a later stage's start already (a retry's), which the write must not replace.
 */
export async function writeDeferred(
  catalog: Catalog, carried: Carried, options: { storeOnly?: boolean; shown?: VersionStatus; event?: EventInput } = {},
): Promise<void> {
  if (carried.deferred.length === 0) return;
  const { model, version } = carried.current;
  await catalog.update(model, version, (r) => {
    if (terminalStatuses.has(r.status)) return null;
    for (const end of carried.deferred) end(r);
  }, options.event, { from: carried.durable, shown: options.shown ?? carried.current.status, storeOnly: options.storeOnly });
}

/**
 * Marks the version failed at `stage`, unless it is terminal, with the stage ends a chained job
 * deferred before it. `timing`: the stage's start as the failed attempt knew it.
 */
export async function markVersionFailed(
  catalog: Catalog, stage: Stage, data: StageJobData, err: unknown, timing?: StageTiming, deferred: Carried['deferred'] = [],
): Promise<void> {
  const body = /stalled/i.test(errorMessage(err))
    ? { code: 'INTERNAL' as const, message: `The ${stage} stage's worker stopped (crashed or was killed) too many times; see the worker logs` }
    : toErrorBody(err);
  await catalog.update(data.model, data.version, (r) => {
    if (terminalStatuses.has(r.status)) return null;
    for (const end of deferred) end(r);
    r.status = 'failed';
    r.error = body;
    r.stages[stage] = { ...(timing ?? r.stages[stage] ?? { attempts: 1 }), finishedAt: new Date().toISOString() };
  }, { type: 'status', status: 'failed', stage, message: body.message, error: body }, { cacheWhenStoreIsDown: true });
}

export interface StageRunnerOptions {
  metrics?: Metrics;
  /** Where connection failures go (logged once per outage); other errors are logged as they come. */
  outages?: OutageLog;
  /** Runs of this stage at once in this process, whichever job carries them. */
  concurrency: number;
}

function isRedisDown(err: unknown): boolean {
  return isConnectionError(err) || (err as { code?: unknown })?.code === 'QUEUE_UNAVAILABLE';
}

/** The status event the writer of a terminal record appended with it (as the push stage and markFailed write them). */
function terminalEvent(record: VersionRecord, fallback: Stage): EventInput {
  if (record.status === 'released') {
    return { type: 'status', status: 'released', stage: 'push', message: record.image ? releasedMessage(record.image) : undefined };
  }
  const last = [...stages].reverse().find((s) => record.stages[s]);
  return { type: 'status', status: record.status, stage: last ?? fallback, message: record.error?.message, error: record.error ?? undefined };
}

/**
 * The bookkeeping around one stage that the stage itself does not do: it records the stage's
 * start on the version, builds the stage's input from the record, forwards the abort signal and
 * log lines, records what the stage returned, and turns errors into a retry (transient) or an
 * immediate, explained failure (UnrecoverableError). Runs of the stage in this process are limited
 * to `concurrency`, whether a stage job or a chained version job carries them.
 */
export function stageRunner<I, O>(definition: StageDefinition<I, O>, ports: StagePorts, catalog: Catalog, options: StageRunnerOptions): StageRunner {
  const stage = definition.name;
  const limit: LimitFunction = pLimit(options.concurrency);

  /** The record as shown while the stage runs: its status and start. */
  const startedRecord = (durable: VersionRecord, timing: StageTiming): VersionRecord => ({
    ...durable, status: stageStatus[stage], stages: { ...durable.stages, [stage]: timing },
  });

  /**
   * When this stage first started: the durable record has it once an earlier attempt ended; the
   * cache has the start an earlier attempt showed before it died (a first attempt needs neither).
   */
  const firstStart = async (durable: VersionRecord, attempt: number): Promise<string> => {
    const known = durable.stages[stage]?.startedAt;
    if (known || attempt === 1) return known ?? new Date().toISOString();
    const shown = await catalog.get(durable.model, durable.version).catch(() => null);
    return shown?.stages[stage]?.startedAt ?? new Date().toISOString();
  };

  const contextFor = (job: Job, data: StageJobData, attempt: number, signal?: AbortSignal): StageContext => {
    const logger = ports.logger.child({ stage, model: data.model, version: data.version, job: job.id, attempt });
    return {
      signal: signal ?? new AbortController().signal,
      logger,
      log: (line) => {
        logger.debug({ line }, 'stage log');
        catalog.appendEvent(data.model, data.version, { type: 'log', stage, message: line }, { soon: true }).catch((err: unknown) => {
          if (options.outages && isRedisDown(err)) options.outages.failed(redisSource('commands'), err);
          else logger.warn({ err }, 'could not record a log line');
        });
      },
    };
  };

  /** The stage's end as a change of the record: its status, what its output changes, its timing with the finish. */
  const endOf = async (started: VersionRecord, output: O) => {
    const change = await definition.change(started, output, { versions: catalog, target: ports.target.name });
    const timing = { ...started.stages[stage]!, finishedAt: new Date().toISOString() };
    const apply = (r: VersionRecord) => {
      r.status = stageStatus[stage];
      change.apply(r);
      r.stages[stage] = { ...timing };
    };
    return { apply, event: change.event };
  };

  const run = async (job: Job, data: StageJobData, signal: AbortSignal | undefined, runOptions: StageRunOptions): Promise<StageRun> => {
    if (runOptions.stop?.()) return { outcome: 'stopped', carried: runOptions.carry };
    const jobAttempt = job.attemptsMade + 1;
    const attempts = job.opts.attempts ?? 1;
    // A version job's stages count their own attempts; the job's attempts are what they may spend.
    const attempt = runOptions.chained ? (data.attempts?.[stage] ?? 0) + 1 : jobAttempt;
    const most = attempt + attempts - jobAttempt;
    const ctx = contextFor(job, data, attempt, signal);
    const timer = options.metrics?.stageDuration.startTimer({ stage });
    // Everything, the first read of the record included, runs inside this try: a store or Redis
    // fault at any point is retried, logged on the version, and explained once attempts run out.
    let timing: StageTiming | undefined;
    let carried = runOptions.carry;
    try {
      if (!carried) {
        // The start is shown (cache, event, listeners) but not written to the store: the one durable
        // write of a stage is at its end, with its output and this timing, over the record read here.
        const durable = await catalog.readDurable(data.model, data.version);
        if (terminalStatuses.has(durable.record.status)) {
          // Its writer may have stopped between the store and Redis: then this shows the end. A
          // writer still alive (this job is a duplicate racing it) shows it itself within the grace.
          const shown = await catalog.reconcile(durable.record, terminalEvent(durable.record, stage), { graceMs: liveWriterGraceMs });
          ctx.logger.info({ status: durable.record.status }, shown
            ? 'version is already terminal in the store but Redis did not show it (its writer stopped in between); shown now'
            : 'version is already terminal; nothing to do');
          return { outcome: 'terminal' };
        }
        carried = { durable, current: durable.record, deferred: [] };
      }
      if (runOptions.skipDone && carried.current.stages[stage]?.finishedAt) return { outcome: 'done-before', carried };
      timing = { startedAt: await firstStart(carried.current, attempt), attempts: attempt };
      const started = startedRecord(carried.current, timing);
      // A retry shows no new transition: an earlier attempt showed this status already.
      const shown = await catalog.show(started, attempt > 1 ? started.status : carried.current.status, { type: 'status', status: started.status, stage, message: attempt > 1 ? `${stage}: attempt ${attempt}` : undefined });
      if (!shown) {
        ctx.logger.info('version became terminal before this stage started (another flow finished it); nothing to do');
        return { outcome: 'terminal' };
      }
      const output = await definition.run(definition.input(started), ports, ctx);
      const end = await endOf(started, output);
      if (runOptions.defer) {
        // Shown with the next stage's start, written with a later stage's end.
        if (end.event) await catalog.appendEvent(data.model, data.version, end.event);
        const current = structuredClone(started);
        end.apply(current);
        timer?.({ outcome: 'succeeded' });
        return { outcome: 'done', carried: { durable: carried.durable, current, deferred: [...carried.deferred, end.apply] } };
      }
      // The stages deferred before this one and this stage's end, in one compare-and-swap over the
      // record read at the job's start (read again only if another writer changed it meanwhile).
      await writeDeferred(catalog, { ...carried, deferred: [...carried.deferred, end.apply] }, { event: end.event, shown: started.status });
      timer?.({ outcome: 'succeeded' });
      return { outcome: 'done' };
    } catch (err) {
      // Cut off by a shutdown after its grace period: the job stays with its expiring lock for
      // another worker, and nothing is recorded (the version has not failed).
      if (abortedByShutdown(signal)) throw err;
      const transient = isTransient(err);
      timer?.({ outcome: transient && jobAttempt < attempts ? 'retried' : 'failed' });
      // Bad input is the user's to fix, not an operational problem: info, not warn.
      ctx.logger[transient ? 'warn' : 'info']({ err: transient ? err : errorMessage(err), transient, attempt, attempts: most }, `${stage} failed`);
      if (!transient || jobAttempt >= attempts) {
        await markVersionFailed(catalog, stage, data, err, timing, carried?.deferred);
        throw new UnrecoverableError(errorMessage(err));
      }
      if (runOptions.chained) await keepForRetry(job, data, attempt, carried, ctx);
      ctx.log(`${stage}: attempt ${attempt} of ${most} failed (${errorMessage(err)}); retrying with backoff`);
      throw err;
    }
  };

  /**
   * Before a version job's retry: the ends deferred before this stage go to the store, so the
   * retry goes on from this stage (else it runs them again), and the job's data counts this attempt.
   */
  const keepForRetry = async (job: Job, data: StageJobData, attempt: number, carried: Carried | undefined, ctx: StageContext) => {
    if (carried) {
      await writeDeferred(catalog, carried, { storeOnly: true }).catch((e: unknown) => ctx.logger.warn({ err: e }, 'could not write the stages finished before the failed one; the retry runs them again'));
    }
    await job.updateData({ ...data, attempts: { ...data.attempts, [stage]: attempt } })
      .catch((e: unknown) => ctx.logger.warn({ err: e }, 'could not count the attempt on the job'));
  };

  return {
    stage,
    run: (job, data, signal, runOptions = {}) => limit(() => run(job, data, signal, runOptions)),
  };
}
