import type { Catalog } from '../src/catalog/catalog.js';
import type { StagePorts } from '../src/pipeline/ports.js';
import { pushStage } from '../src/pipeline/stages.js';
import { startStageWorker, type StageWorkerOptions } from './stage-worker.js';

export const startPushWorker = (ports: StagePorts, catalog: Catalog, options: StageWorkerOptions) => startStageWorker(pushStage, ports, catalog, options);
