import { runPush } from '../src/pipeline/push.js';
import { startStageWorker, type StageWorkerOptions } from './stage-worker.js';
import type { StageDeps } from '../src/pipeline/context.js';

export const startPushWorker = (deps: StageDeps, options: StageWorkerOptions) => startStageWorker('push', runPush, deps, options);
