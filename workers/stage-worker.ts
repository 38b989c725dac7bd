import { UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { parseStageJobData, type StageJobData } from '../queues/jobs.js';
import { stageQueueNames } from '../queues/names.js';
import { stageBackoffStrategy } from '../queues/options.js';
import type { Catalog } from '../src/catalog/catalog.js';
import { stageStatus, terminalStatuses, type VersionRecord } from '../src/domain/version.js';
import { errorMessage, isTransient, toErrorBody } from '../src/errors.js';
import type { Metrics } from '../src/metrics.js';
import type { StageContext, StagePorts } from '../src/pipeline/ports.js';
import type { StageDefinition } from '../src/pipeline/stages.js';
import { isConnectionError, redisSource, type OutageLog } from '../src/app/outage-log.js';
import { abortedByShutdown, type ActiveJobs } from './active-jobs.js';

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

export function startStageWorker<I, O>(definition: StageDefinition<I, O>, ports: StagePorts, catalog: Catalog, options: StageWorkerOptions): Worker {
  const stage = definition.name;

  const markFailed = async (data: StageJobData, err: unknown) => {
    const body = /stalled/i.test(errorMessage(err))
      ? { code: 'INTERNAL' as const, message: `The ${stage} stage's worker stopped (crashed or was killed) too many times; see the worker logs` }
      : toErrorBody(err);
    await catalog.update(data.model, data.version, (r) => {
      if (terminalStatuses.has(r.status)) return null;
      r.status = 'failed';
      r.error = body;
      const timing = r.stages[stage] ?? { attempts: 1 };
      r.stages[stage] = { ...timing, finishedAt: new Date().toISOString() };
    }, { type: 'status', status: 'failed', stage, message: body.message, error: body }, { cacheWhenStoreIsDown: true });
  };

  const contextFor = (job: Job, data: StageJobData, attempt: number, signal?: AbortSignal): StageContext => {
    const logger = ports.logger.child({ stage, model: data.model, version: data.version, job: job.id, attempt });
    return {
      signal: signal ?? new AbortController().signal,
      logger,
      log: (line) => {
        logger.debug({ line }, 'stage log');
        catalog.appendEvent(data.model, data.version, { type: 'log', stage, message: line }).catch((err: unknown) => {
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
    try {
      const started = await catalog.update(data.model, data.version, (r) => {
        if (terminalStatuses.has(r.status)) return null;
        r.status = stageStatus[stage];
        const previous = r.stages[stage];
        r.stages[stage] = { startedAt: previous?.startedAt ?? new Date().toISOString(), attempts: attempt };
      }, { type: 'status', status: stageStatus[stage], stage, message: attempt > 1 ? `${stage}: attempt ${attempt}` : undefined });
      if (terminalStatuses.has(started.status)) {
        ctx.logger.info({ status: started.status }, 'version is already terminal; nothing to do');
        return { skipped: true };
      }
      const output = await definition.run(definition.input(started), ports, ctx);
      await record(started, output);
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
        await markFailed(data, err);
        throw new UnrecoverableError(errorMessage(err));
      }
      ctx.log(`${stage}: attempt ${attempt} of ${attempts} failed (${errorMessage(err)}); retrying with backoff`);
      throw err;
    }
  };

  /** Records the stage's output and its finish on the version, unless the version became terminal meanwhile. */
  const record = async (started: VersionRecord, output: O) => {
    const change = await definition.change(started, output, { versions: catalog, target: ports.target.name });
    await catalog.update(started.model, started.version, (r) => {
      if (terminalStatuses.has(r.status)) return null;
      change.apply(r);
      const timing = r.stages[stage] ?? { attempts: 1 };
      r.stages[stage] = { ...timing, finishedAt: new Date().toISOString() };
    }, change.event);
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
