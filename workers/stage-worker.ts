import { UnrecoverableError, Worker, type ConnectionOptions, type FlowProducer, type Job } from 'bullmq';
import { enqueueStages } from '../queues/flow.js';
import { parseStageJobData, type StageJobData } from '../queues/jobs.js';
import { stageQueueNames, versionQueueName } from '../queues/names.js';
import { stageBackoffStrategy } from '../queues/options.js';
import type { Catalog } from '../src/catalog/catalog.js';
import type { Config } from '../src/config.js';
import { stages, type Stage } from '../src/domain/version.js';
import { errorMessage } from '../src/errors.js';
import type { Logger } from '../src/log.js';
import { isConnectionError, redisSource, type OutageLog } from '../src/app/outage-log.js';
import type { ActiveJobs } from './active-jobs.js';
import { markVersionFailed, writeDeferred, type Carried, type StageRunner } from './stage-runner.js';

export interface StageWorkerOptions {
  connection: ConnectionOptions;
  prefix: string;
  /** Jobs taken at once. */
  concurrency: number;
  /** Lock time without a heartbeat before a job counts as stalled and is taken over. */
  lockMs: number;
  /** Counts processor calls in flight, for the shutdown's drain. */
  active?: ActiveJobs;
  /** Where connection failures go (logged once per outage); other errors are logged as they come. */
  outages?: OutageLog;
  logger: Logger;
}

/** The stages this process serves, and how to hand the others on. */
export interface StageChain {
  runners: Partial<Record<Stage, StageRunner>>;
  catalog: Catalog;
  flows: FlowProducer;
  config: Pick<Config, 'stageAttempts' | 'stageBackoffMs'>;
}

type Processor = (job: Job, data: StageJobData, signal?: AbortSignal) => Promise<unknown>;

/**
 * A BullMQ worker on `queue` that validates each job's data before `process` sees it, and marks
 * the version failed (at the stage `failedAt` names) when BullMQ fails a job outside the
 * processor: stalled too often, or a worker died on its last attempt.
 */
function bindQueue(queue: string, process: Processor, failedAt: (data: StageJobData) => Promise<Stage>, chain: StageChain, options: StageWorkerOptions): Worker {
  const processor = async (job: Job, _token?: string, signal?: AbortSignal) => {
    let data: StageJobData;
    try {
      data = parseStageJobData(job.data);
    } catch (err) {
      // Nothing to retry and no version to fail: the job itself is wrong.
      options.logger.error({ err: errorMessage(err), job: job.id, queue }, 'malformed stage job');
      throw new UnrecoverableError(errorMessage(err));
    }
    return process(job, data, signal);
  };
  const worker = new Worker(queue, (job: Job, token?: string, signal?: AbortSignal) => {
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
  worker.on('failed', (job, err) => {
    if (!job || (job.attemptsMade < (job.opts.attempts ?? 1) && !(err instanceof UnrecoverableError) && err?.name !== 'UnrecoverableError')) return;
    let data: StageJobData;
    try {
      data = parseStageJobData(job.data);
    } catch {
      return;
    }
    failedAt(data)
      .then((stage) => markVersionFailed(chain.catalog, stage, data, err))
      .catch((e: unknown) => options.logger.error({ err: e }, 'could not mark a version failed'));
  });
  worker.on('error', (err) => {
    if (options.outages && isConnectionError(err)) options.outages.failed(redisSource('queues'), err);
    else options.logger.error({ err, queue }, 'stage worker error');
  });
  return worker;
}

/** Binds one stage's queue (the stage jobs of flows) to this process's runner of that stage. */
export function startStageWorker(stage: Stage, chain: StageChain, options: StageWorkerOptions): Worker {
  const own = chain.runners[stage];
  if (!own) throw new Error(`No ${stage} runner in this process`);
  return bindQueue(stageQueueNames[stage], async (job, data, signal) => {
    return (await own.run(job, data, signal)).outcome === 'terminal' ? { skipped: true } : { done: true };
  }, async () => stage, chain, options);
}

/** The stage a version job had reached: the first one its version has not finished, as shown. */
async function stageReached(catalog: Catalog, data: StageJobData): Promise<Stage> {
  const record = await catalog.get(data.model, data.version).catch(() => null);
  return (record && stages.find((s) => !record.stages[s]?.finishedAt)) ?? 'extract';
}

/**
 * Binds the version queue: each job runs its version's stages in turn, those this process serves,
 * in the same job (each stage still limited by its runner), and hands the first one it does not
 * serve, with those after it, on as a flow of stage jobs; a worker that is closing hands on the
 * stages it has not started. A retry goes on from the stage that failed. The worker takes
 * `slots.base` jobs, plus one for each job that has gone past its first stage (up to `slots.most`):
 * jobs do not wait in this process for a stage another process could start.
 */
export function startVersionWorker(chain: StageChain, slots: { base: number; most: number }, options: Omit<StageWorkerOptions, 'concurrency'>): Worker {
  let past = 0;
  const widen = (by: number) => {
    past += by;
    worker.concurrency = Math.max(1, Math.min(slots.most, slots.base + past));
  };

  const handOn = async (data: StageJobData, carried: Carried | undefined, from: Stage) => {
    // The stages handed on read the record: what this job deferred is written first.
    if (carried) await writeDeferred(chain.catalog, carried);
    await enqueueStages(chain.flows, chain.config, data, from);
    options.logger.debug({ model: data.model, version: data.version, from }, 'handed the version\'s later stages on');
    return { handedOn: from };
  };

  const runVersion: Processor = async (job, data, signal) => {
    let carried: Carried | undefined;
    let widened = false;
    try {
      for (const [i, stage] of stages.entries()) {
        const runner = chain.runners[stage];
        if (!runner) {
          if (carried?.current.stages[stage]?.finishedAt) continue;
          return await handOn(data, carried, stage);
        }
        const next = stages[i + 1];
        const run = await runner.run(job, data, signal, {
          chained: true, skipDone: true, carry: carried, defer: next !== undefined && chain.runners[next] !== undefined,
          stop: () => worker.closing !== undefined,
        });
        if (run.outcome === 'terminal') return { skipped: true };
        if (run.outcome === 'stopped') return await handOn(data, run.carried, stage);
        carried = run.carried;
        if (!widened && next !== undefined) {
          widened = true;
          widen(1);
        }
      }
      return { done: true };
    } finally {
      if (widened) widen(-1);
    }
  };

  const worker = bindQueue(versionQueueName, runVersion, (data) => stageReached(chain.catalog, data), chain, { ...options, concurrency: slots.base });
  return worker;
}
