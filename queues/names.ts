import type { Stage } from '../src/domain/version.js';

/** One BullMQ queue per stage, under the deployment's queue prefix (queuePrefix). */
export const stageQueueNames: Record<Stage, string> = {
  extract: 'stage-extract',
  build: 'stage-build',
  push: 'stage-push',
};

/**
 * BullMQ's key prefix for a deployment (MLL_PREFIX): a Redis Cluster hash tag, so that every key
 * of every queue shares one slot. BullMQ's scripts use several keys at once, and a version's flow
 * (extract → build → push) links jobs across the stage queues in one script.
 */
export const queuePrefix = (deploymentPrefix: string) => `{${deploymentPrefix}}`;
