import { runExtract } from '../src/pipeline/extract.js';
import { startStageWorker, type StageWorkerOptions } from './stage-worker.js';
import type { StageDeps } from '../src/pipeline/context.js';

export const startExtractWorker = (deps: StageDeps, options: StageWorkerOptions) => startStageWorker('extract', runExtract, deps, options);
