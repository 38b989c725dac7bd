import type { Catalog } from '../src/catalog/catalog.js';
import type { StagePorts } from '../src/pipeline/ports.js';
import { extractStage } from '../src/pipeline/stages.js';
import { startStageWorker, type StageWorkerOptions } from './stage-worker.js';

export const startExtractWorker = (ports: StagePorts, catalog: Catalog, options: StageWorkerOptions) => startStageWorker(extractStage, ports, catalog, options);
