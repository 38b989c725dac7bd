import type { Stage } from '../src/domain/version.js';

/** One BullMQ queue per stage, under the deployment's queue prefix (queuePrefix). */
export const stageQueueNames: Record<Stage, string> = {
  extract: 'stage-extract',
  build: 'stage-build',
  push: 'stage-push',
};

/**
 * The queue of version jobs: one job per version that runs its stages in turn (workers/stage-worker.ts).
 * A queue of its own, not the extract queue, so that workers of a release before it (which would
 * run only the extract of a job there) never take one during a rolling upgrade.
 */
export const versionQueueName = 'stage-chain';

/** Every queue a version's work may be in. */
export const pipelineQueueNames = [versionQueueName, ...Object.values(stageQueueNames)];

/**
 * BullMQ's key prefix for a deployment (MLL_PREFIX): a Redis Cluster hash tag, so that every key
 * of every queue shares one slot. BullMQ's scripts use several keys at once, and a version's flow
 * (extract → build → push) links jobs across the stage queues in one script.
 */
export const queuePrefix = (deploymentPrefix: string) => `{${deploymentPrefix}}`;
