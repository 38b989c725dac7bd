import { UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { parseStageJobData, type StageJobData } from '../queues/jobs.js';
import { stageQueueNames } from '../queues/names.js';
import { stageBackoffStrategy } from '../queues/options.js';
import type { Catalog, DurableRecord, EventInput } from '../src/catalog/catalog.js';
import { stages, stageStatus, terminalStatuses, type Stage, type VersionRecord } from '../src/domain/version.js';
import { errorMessage, isTransient, toErrorBody } from '../src/errors.js';
import type { Metrics } from '../src/metrics.js';
import type { StageContext, StagePorts } from '../src/pipeline/ports.js';
import { releasedMessage, type StageDefinition } from '../src/pipeline/stages.js';
import { isConnectionError, redisSource, type OutageLog } from '../src/app/outage-log.js';
import { abortedByShutdown, type ActiveJobs } from './active-jobs.js';

type StageTiming = { startedAt: string; attempts: number };

export interface StageWorkerOptions {
  connection: ConnectionOptions;
  metrics?: Metrics;
  prefix: string;
  concurrency: number;
  /** Lock time without a heartbeat before a job counts as stalled and is taken over. */
  lockMs: number;
  /** Counts processor calls in flight, for the shutdown's drain. */
  active?: ActiveJobs;
  /** Where connection failures go (logged once per outage); other errors are logged as they come. */
  outages?: OutageLog;
}

/**
 * Binds one stage to its BullMQ queue. The worker does the bookkeeping the stage does not: it
 * validates the job data, records the stage's start on the version, builds the stage's input
 * from the record, forwards the abort signal and log lines, records what the stage returned, and
 * turns errors into a retry (transient) or an immediate, explained failure (UnrecoverableError).
 */
function isRedisDown(err: unknown): boolean {
  return isConnectionError(err) || (err as { code?: unknown })?.code === 'QUEUE_UNAVAILABLE';
}

/** The status event the writer of a terminal record appended with it (as the push stage and markFailed write them). */
export function terminalEvent(record: VersionRecord, fallback: Stage): EventInput {
  if (record.status === 'released') {
    return { type: 'status', status: 'released', stage: 'push', message: record.image ? releasedMessage(record.image) : undefined };
  }
  const last = [...stages].reverse().find((s) => record.stages[s]);
  return { type: 'status', status: record.status, stage: last ?? fallback, message: record.error?.message, error: record.error ?? undefined };
}

export function startStageWorker<I, O>(definition: StageDefinition<I, O>, ports: StagePorts, catalog: Catalog, options: StageWorkerOptions): Worker {
  const stage = definition.name;

  /** `timing`: the stage's start as this attempt knows it (its start is not durable until the stage ends). */
  const markFailed = async (data: StageJobData, err: unknown, timing?: StageTiming) => {
    const body = /stalled/i.test(errorMessage(err))
      ? { code: 'INTERNAL' as const, message: `The ${stage} stage's worker stopped (crashed or was killed) too many times; see the worker logs` }
      : toErrorBody(err);
    await catalog.update(data.model, data.version, (r) => {
      if (terminalStatuses.has(r.status)) return null;
      r.status = 'failed';
      r.error = body;
      r.stages[stage] = { ...(timing ?? r.stages[stage] ?? { attempts: 1 }), finishedAt: new Date().toISOString() };
    }, { type: 'status', status: 'failed', stage, message: body.message, error: body }, { cacheWhenStoreIsDown: true });
  };

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

  const processor = async (job: Job, _token?: string, signal?: AbortSignal) => {
    let data: StageJobData;
    try {
      data = parseStageJobData(job.data);
    } catch (err) {
      // Nothing to retry and no version to fail: the job itself is wrong.
      ports.logger.error({ err: errorMessage(err), job: job.id, stage }, 'malformed stage job');
      throw new UnrecoverableError(errorMessage(err));
    }
    const attempt = job.attemptsMade + 1;
    const attempts = job.opts.attempts ?? 1;
    const ctx = contextFor(job, data, attempt, signal);
    const timer = options.metrics?.stageDuration.startTimer({ stage });
    // Everything, the first read of the record included, runs inside this try: a store or Redis
    // fault at any point is retried, logged on the version, and explained once attempts run out.
    let timing: StageTiming | undefined;
    try {
      // The start is shown (cache, event, listeners) but not written to the store: the one durable
      // write of a stage is at its end, with its output and this timing, over the record read here.
      const durable = await catalog.readDurable(data.model, data.version);
      if (terminalStatuses.has(durable.record.status)) {
        // Its writer may have stopped between the store and Redis: then this shows the end.
        const shown = await catalog.reconcile(durable.record, terminalEvent(durable.record, stage));
        ctx.logger.info({ status: durable.record.status }, shown
          ? 'version is already terminal in the store but Redis did not show it (its writer stopped in between); shown now'
          : 'version is already terminal; nothing to do');
        return { skipped: true };
      }
      timing = { startedAt: await firstStart(durable.record, attempt), attempts: attempt };
      const started = startedRecord(durable.record, timing);
      // A retry shows no new transition: an earlier attempt showed this status already.
      const shown = await catalog.show(started, attempt > 1 ? started.status : durable.record.status, { type: 'status', status: started.status, stage, message: attempt > 1 ? `${stage}: attempt ${attempt}` : undefined });
      if (!shown) {
        ctx.logger.info('version became terminal before this stage started (another flow finished it); nothing to do');
        return { skipped: true };
      }
      const output = await definition.run(definition.input(started), ports, ctx);
      await record(durable, started, output);
      timer?.({ outcome: 'succeeded' });
      return { done: true };
    } catch (err) {
      // Cut off by a shutdown after its grace period: the job stays with its expiring lock for
      // another worker, and nothing is recorded (the version has not failed).
      if (abortedByShutdown(signal)) throw err;
      const transient = isTransient(err);
      timer?.({ outcome: transient && attempt < attempts ? 'retried' : 'failed' });
      // Bad input is the user's to fix, not an operational problem: info, not warn.
      ctx.logger[transient ? 'warn' : 'info']({ err: transient ? err : errorMessage(err), transient, attempt, attempts }, `${stage} failed`);
      if (!transient || attempt >= attempts) {
        await markFailed(data, err, timing);
        throw new UnrecoverableError(errorMessage(err));
      }
      ctx.log(`${stage}: attempt ${attempt} of ${attempts} failed (${errorMessage(err)}); retrying with backoff`);
      throw err;
    }
  };

  /**
   * Records the stage's start, output and finish on the version in one compare-and-swap over the
   * record read at the start (read again only if another writer changed it meanwhile), unless the
   * version became terminal.
   */
  const record = async (durable: DurableRecord, started: VersionRecord, output: O) => {
    const change = await definition.change(started, output, { versions: catalog, target: ports.target.name });
    const timing = started.stages[stage]!;
    await catalog.update(started.model, started.version, (r) => {
      if (terminalStatuses.has(r.status)) return null;
      r.status = stageStatus[stage];
      change.apply(r);
      r.stages[stage] = { ...timing, finishedAt: new Date().toISOString() };
    }, change.event, { from: durable, shown: started.status });
  };

  const worker = new Worker(stageQueueNames[stage], (job: Job, token?: string, signal?: AbortSignal) => {
    return options.active ? options.active.track(() => processor(job, token, signal)) : processor(job, token, signal);
  }, {
    connection: options.connection,
    prefix: options.prefix,
    concurrency: options.concurrency,
    // A worker killed mid-stage loses its lock; another one takes the job over after about this long.
    lockDuration: options.lockMs,
    stalledInterval: options.lockMs,
    maxStalledCount: 3,
    settings: { backoffStrategy: stageBackoffStrategy },
  });
  // A job that failed outside the processor (stalled too often, or a worker died on its last
  // attempt) still fails its version, with the reason.
  worker.on('failed', (job, err) => {
    if (!job || (job.attemptsMade < (job.opts.attempts ?? 1) && !(err instanceof UnrecoverableError) && err?.name !== 'UnrecoverableError')) return;
    let data: StageJobData;
    try {
      data = parseStageJobData(job.data);
    } catch {
      return;
    }
    markFailed(data, err).catch((e: unknown) => ports.logger.error({ err: e }, 'could not mark a version failed'));
  });
  worker.on('error', (err) => {
    if (options.outages && isConnectionError(err)) options.outages.failed(redisSource('queues'), err);
    else ports.logger.error({ err, stage }, 'stage worker error');
  });
  return worker;
}
