import type { Catalog } from '../src/catalog/catalog.js';
import type { StagePorts } from '../src/pipeline/ports.js';
import { buildStage } from '../src/pipeline/stages.js';
import { startStageWorker, type StageWorkerOptions } from './stage-worker.js';

export const startBuildWorker = (ports: StagePorts, catalog: Catalog, options: StageWorkerOptions) => startStageWorker(buildStage, ports, catalog, options);
