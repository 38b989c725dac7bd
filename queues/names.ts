import type { Stage } from '../src/domain/version.js';

/** One BullMQ queue per stage; the deployment prefix (MLL_PREFIX) is BullMQ's key prefix. */
export const stageQueueNames: Record<Stage, string> = {
  extract: 'stage-extract',
  build: 'stage-build',
  push: 'stage-push',
};
