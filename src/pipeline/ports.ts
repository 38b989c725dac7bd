import type { Failpoints } from '../failpoints.js';
import type { ImageBuilder, ImageTarget, StageContext } from '../image/types.js';
import type { Logger } from '../log.js';
import type { ObjectStore } from '../storage/object-store.js';

export type { StageContext };

/**
 * What every stage may use: the outside systems it reads from and writes to. Stages never see the
 * catalogue, BullMQ or the environment; they read their inputs by reference and return small
 * references, and the worker records what they return on the version.
 */
export interface StagePorts {
  store: ObjectStore;
  builder: ImageBuilder;
  target: ImageTarget;
  logger: Logger;
  settings: StageSettings;
  /** Testing only: named pauses (MLL_FAILPOINTS). */
  failpoints?: Failpoints;
}

export interface StageSettings {
  /** Scratch space for unpacking payloads (removed when the stage ends). */
  scratchDir: string;
  maxUnpackedBytes: number;
  maxFiles: number;
  maxPathDepth: number;
  /** MLL_SERVING_YAML: `strict` fails a version on unknown serving.yaml keys (default lenient). */
  servingYaml?: 'lenient' | 'strict';
}

/** A stage: a plain async function of its input, the ports and the context (signal, user log). */
export type StageFunction<I, O> = (input: I, ports: StagePorts, ctx: StageContext) => Promise<O>;
