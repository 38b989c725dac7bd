import { z } from 'zod';
import { MllError } from '../src/errors.js';
import { modelNamePattern } from '../src/domain/model-name.js';
import { stages, type Stage } from '../src/domain/version.js';

/**
 * What a stage job carries: only the version's identity. Stages read everything else from the
 * version record, so a job queued by an older deploy or re-enqueued by reindex still works.
 * Checked at both ends: when enqueued and when a worker picks it up.
 */
export const stageJobData = z.object({
  model: z.string().regex(modelNamePattern),
  version: z.number().int().positive(),
  /**
   * A version job's (stage-chain queue) attempts per stage in its earlier runs: a retry goes on
   * from the stage that failed, and each stage counts its own attempts.
   */
  attempts: z.partialRecord(z.enum(stages), z.number().int().positive()).optional(),
});
export type StageJobData = z.infer<typeof stageJobData>;

export function parseStageJobData(data: unknown): StageJobData {
  const result = stageJobData.safeParse(data);
  if (!result.success) {
    throw new MllError('BAD_REQUEST', `Malformed stage job data: ${result.error.issues.map((i) => i.message).join('; ')}`);
  }
  return result.data;
}

/** A version job's id: one per version, so a duplicate enqueue while the job is stored is a no-op. */
export function versionJobId(data: StageJobData): string {
  return `${data.model}.v${data.version}`;
}

/** Deterministic: one job per version and stage, so a duplicate enqueue while the job is stored is a no-op. */
export function stageJobId(stage: Stage, data: StageJobData): string {
  return `${data.model}.v${data.version}.${stage}`;
}
