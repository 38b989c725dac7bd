import { UnrecoverableError, Worker, type ConnectionOptions, type FlowProducer, type Job } from 'bullmq';
import { enqueueStages } from '../queues/flow.js';
import { parseStageJobData, type StageJobData } from '../queues/jobs.js';
import { stageQueueNames } from '../queues/names.js';
import { stageBackoffStrategy } from '../queues/options.js';
import type { Catalog } from '../src/catalog/catalog.js';
import type { Config } from '../src/config.js';
import { stages, type Stage } from '../src/domain/version.js';
import { errorMessage } from '../src/errors.js';
import type { Logger } from '../src/log.js';
import { isConnectionError, redisSource, type OutageLog } from '../src/app/outage-log.js';
import type { ActiveJobs } from './active-jobs.js';
import { writeDeferred, type Carried, type StageRunner } from './stage-runner.js';

export interface StageWorkerOptions {
  connection: ConnectionOptions;
  prefix: string;
  /** Jobs taken at once (a chained job holds its slot through every stage it runs). */
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

/** The stage a chained job had reached: the first one its version has not finished. */
async function stageReached(catalog: Catalog, data: StageJobData, fallback: Stage): Promise<Stage> {
  const record = await catalog.get(data.model, data.version).catch(() => null);
  return (record && stages.find((s) => !record.stages[s]?.finishedAt)) ?? fallback;
}

/**
 * Binds one stage's BullMQ queue to this process's stage runners. A job of the stage runs that
 * stage; a chained job (a new version's extract job, `chain`) then runs each next stage this
 * process serves, in the same job, and hands the first one it does not serve on as a flow of the
 * remaining stages. A chained job's retry goes on from the stage that failed, so its attempts
 * are shared by its stages only when more than one of them fails.
 */
export function startStageWorker(stage: Stage, chain: StageChain, options: StageWorkerOptions): Worker {
  const own = chain.runners[stage];
  if (!own) throw new Error(`No ${stage} runner in this process`);

  const runChain = async (job: Job, data: StageJobData, signal?: AbortSignal) => {
    const chained = stages.slice(stages.indexOf(stage));
    let carried: Carried | undefined;
    for (const [i, next] of chained.entries()) {
      const runner = chain.runners[next];
      if (!runner) {
        // The stages handed on read the record: what this job deferred is written first.
        if (carried) await writeDeferred(chain.catalog, carried);
        await enqueueStages(chain.flows, chain.config, data, next);
        options.logger.debug({ model: data.model, version: data.version, from: next }, 'handed the version\'s later stages on to the processes that serve them');
        return { handedOn: next };
      }
      const then = chained[i + 1];
      const run = await runner.run(job, data, signal, { skipDone: true, carry: carried, defer: then !== undefined && chain.runners[then] !== undefined });
      if (run.outcome === 'terminal') return { skipped: true };
      carried = run.carried;
    }
    return { done: true };
  };

  const processor = async (job: Job, _token?: string, signal?: AbortSignal) => {
    let data: StageJobData;
    try {
      data = parseStageJobData(job.data);
    } catch (err) {
      // Nothing to retry and no version to fail: the job itself is wrong.
      options.logger.error({ err: errorMessage(err), job: job.id, stage }, 'malformed stage job');
      throw new UnrecoverableError(errorMessage(err));
    }
    if (data.chain) return runChain(job, data, signal);
    return (await own.run(job, data, signal)).outcome === 'terminal' ? { skipped: true } : { done: true };
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
    const failing = data.chain ? stageReached(chain.catalog, data, stage) : Promise.resolve(stage);
    failing
      .then((reached) => (chain.runners[reached] ?? own).markFailed(data, err))
      .catch((e: unknown) => options.logger.error({ err: e }, 'could not mark a version failed'));
  });
  worker.on('error', (err) => {
    if (options.outages && isConnectionError(err)) options.outages.failed(redisSource('queues'), err);
    else options.logger.error({ err, stage }, 'stage worker error');
  });
  return worker;
}
