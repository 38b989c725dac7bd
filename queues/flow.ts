import type { FlowJob, FlowProducer } from 'bullmq';
import type { Config } from '../src/config.js';
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

export async function enqueueVersion(
  flows: FlowProducer,
  config: Pick<Config, 'stageAttempts' | 'stageBackoffMs'>,
  input: StageJobData,
): Promise<void> {
  await flows.add(versionFlow(config, input));
}
