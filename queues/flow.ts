import type { FlowJob, FlowProducer, Queue } from 'bullmq';
import { stages } from '../src/domain/version.js';
import type { Config } from '../src/config.js';
import { isReshardingAbort } from '../src/redis/errors.js';
import { RetryPolicy } from '../src/shared/retry.js';
import { stageQueueNames } from './names.js';
import { stageJobData, stageJobId, type StageJobData } from './jobs.js';
import { stageJobOptions } from './options.js';

/**
 * extract → build → push as one BullMQ flow: push is the root and extract the deepest leaf, so
 * each stage starts only when the one below it succeeded, and a failed child fails its parents.
 */
export function versionFlow(config: Pick<Config, 'stageAttempts' | 'stageBackoffMs'>, input: StageJobData): FlowJob {
  const data = stageJobData.parse(input);
  const opts = stageJobOptions(config);
  const job = (stage: 'extract' | 'build' | 'push', children?: FlowJob[]): FlowJob => ({
    name: stage,
    queueName: stageQueueNames[stage],
    data,
    opts: { ...opts, jobId: stageJobId(stage, data), failParentOnFailure: true },
    ...(children ? { children } : {}),
  });
  return job('push', [job('build', [job('extract')])]);
}

/** Flows refused while a Cluster slot moves are sent again: 8 attempts, 50 ms doubling to 800 ms. */
const reshardingRetry = new RetryPolicy({ attempts: 8, baseDelayMs: 50, maxDelayMs: 800, jitter: [0.5, 1] });

export async function enqueueVersion(
  flows: FlowProducer,
  config: Pick<Config, 'stageAttempts' | 'stageBackoffMs'>,
  input: StageJobData,
): Promise<void> {
  const flow = versionFlow(config, input);
  await reshardingRetry.run(() => flows.add(flow), { retryIf: isReshardingAbort });
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
  for (const stage of [...stages].reverse()) {
    const job = await queue(stageQueueNames[stage]).getJob(stageJobId(stage, input));
    if (!job) continue;
    const state = await job.getState();
    if (state === 'completed' || state === 'failed') await job.remove({ removeChildren: true });
    else if (state !== 'unknown') inFlight = true;
  }
  if (inFlight) return false;
  await enqueueVersion(flows, config, input);
  return true;
}
