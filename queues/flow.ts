import type { FlowJob, FlowProducer, Job, Queue } from 'bullmq';
import { stages, type Stage } from '../src/domain/version.js';
import type { Config } from '../src/config.js';
import { isReshardingAbort } from '../src/redis/errors.js';
import { RetryPolicy } from '../src/shared/retry.js';
import { stageQueueNames, versionQueueName } from './names.js';
import { stageJobData, stageJobId, versionJobId, type StageJobData } from './jobs.js';
import { stageJobOptions } from './options.js';

/**
 * The stages from `from` on as one BullMQ flow: push is the root and the first stage the deepest
 * leaf, so each stage starts only when the one below it succeeded, and a failed child fails its
 * parents. Used where a version's stages are run by different processes (MLL_WORKER_STAGES).
 */
export function versionFlow(config: Pick<Config, 'stageAttempts' | 'stageBackoffMs'>, input: StageJobData, from: Stage = 'extract'): FlowJob {
  const data = stageJobData.parse({ model: input.model, version: input.version });
  const opts = stageJobOptions(config);
  const job = (stage: Stage, children?: FlowJob[]): FlowJob => ({
    name: stage,
    queueName: stageQueueNames[stage],
    data,
    opts: { ...opts, jobId: stageJobId(stage, data), failParentOnFailure: true },
    ...(children ? { children } : {}),
  });
  return stages.slice(stages.indexOf(from)).reduce<FlowJob | undefined>((child, stage) => job(stage, child && [child]), undefined)!;
}

/**
 * A new version's work as one job in the version queue: the worker that takes it runs each stage
 * its process serves in turn, in the same job, which costs a third of the queue traffic of a
 * three-job flow (one job added, taken and finished instead of three, and no parent bookkeeping);
 * one that serves only some hands the rest on as a flow.
 */
export function versionJob(config: Pick<Config, 'stageAttempts' | 'stageBackoffMs'>, input: StageJobData): FlowJob {
  const data = stageJobData.parse({ model: input.model, version: input.version });
  return { name: 'version', queueName: versionQueueName, data, opts: { ...stageJobOptions(config), jobId: versionJobId(data) } };
}

/** Flows refused while a Cluster slot moves are sent again: 8 attempts, 50 ms doubling to 800 ms. */
const reshardingRetry = new RetryPolicy({ attempts: 8, baseDelayMs: 50, maxDelayMs: 800, jitter: [0.5, 1] });

export async function enqueueVersion(
  flows: FlowProducer,
  config: Pick<Config, 'stageAttempts' | 'stageBackoffMs'>,
  input: StageJobData,
): Promise<void> {
  await addFlow(flows, versionJob(config, input));
}

/** Hands a version's stages from `from` on to the processes that serve them. */
export async function enqueueStages(
  flows: FlowProducer,
  config: Pick<Config, 'stageAttempts' | 'stageBackoffMs'>,
  input: StageJobData,
  from: Stage,
): Promise<void> {
  await addFlow(flows, versionFlow(config, input, from));
}

async function addFlow(flows: FlowProducer, flow: FlowJob): Promise<void> {
  await reshardingRetry.run(() => flows.add(flow), { retryIf: isReshardingAbort });
}

/** The jobs a version has in any queue: its version job and its stage jobs (push first). */
export async function jobsOfVersion(queue: (name: string) => Queue, input: StageJobData): Promise<Job[]> {
  const found = await Promise.all([
    queue(versionQueueName).getJob(versionJobId(input)),
    ...[...stages].reverse().map((stage) => queue(stageQueueNames[stage]).getJob(stageJobId(stage, input))),
  ]);
  return found.filter((job): job is Job => job !== undefined);
}

/**
 * Enqueues a version again (recovery, `mll reindex`). An earlier run's jobs may still be kept under
 * the same ids once finished (failed and completed jobs are retained for days), and BullMQ would
 * take the new flow for a duplicate of them and add nothing, leaving the version where it is: those
 * are removed first. If a job of the version is still waiting, delayed or running, the version is
 * already on its way and nothing is added. Returns whether a flow was added.
 */
export async function requeueVersion(
  queue: (name: string) => Queue,
  flows: FlowProducer,
  config: Pick<Config, 'stageAttempts' | 'stageBackoffMs'>,
  input: StageJobData,
): Promise<boolean> {
  let inFlight = false;
  for (const job of await jobsOfVersion(queue, input)) {
    const state = await job.getState();
    if (state === 'completed' || state === 'failed') await job.remove({ removeChildren: true });
    else if (state !== 'unknown') inFlight = true;
  }
  if (inFlight) return false;
  await enqueueVersion(flows, config, input);
  return true;
}
