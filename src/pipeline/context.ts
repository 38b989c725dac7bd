import type { Catalog } from '../catalog/catalog.js';
import type { Config } from '../config.js';
import type { ImageBuilder, ImageTarget, StageContext } from '../image/types.js';
import type { Logger } from '../log.js';
import type { ObjectStore } from '../storage/object-store.js';

export type { StageContext };

/** What every stage may use. Stages never import BullMQ or read the environment. */
export interface StageDeps {
  /** Testing only: named pauses (MLL_FAILPOINTS). */
  failpoints?: Map<string, number>;
  config: Pick<Config, 'dataDirAbs' | 'maxUnpackedBytes' | 'maxFiles' | 'maxPathDepth' | 'builder' | 'target'>;
  store: ObjectStore;
  catalog: Catalog;
  builder: ImageBuilder;
  target: ImageTarget;
  logger: Logger;
}

export interface StageInput {
  model: string;
  version: number;
}
