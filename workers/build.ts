import { runBuild } from '../src/pipeline/build.js';
import { startStageWorker, type StageWorkerOptions } from './stage-worker.js';
import type { StageDeps } from '../src/pipeline/context.js';

export const startBuildWorker = (deps: StageDeps, options: StageWorkerOptions) => startStageWorker('build', runBuild, deps, options);
