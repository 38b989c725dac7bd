import { z } from 'zod';
import { MllError } from '../errors.js';
import { stages, versionStatuses, type VersionRecord } from './version.js';

/**
 * The layout of `version.json`. Bump it only for a change an older reader would get wrong; a new
 * optional field is not one (readers keep fields they do not know, so a rewrite never drops them).
 */
export const versionRecordSchemaVersion = 1;

const iso = z.string().min(1);
const errorBody = z.looseObject({ code: z.string(), message: z.string() });

/** What every record of schema 1 has; the contract, image and diff are checked by their writers. */
const versionRecordV1 = z.looseObject({
  schemaVersion: z.literal(1).optional(),
  model: z.string().min(1),
  version: z.number().int().positive(),
  status: z.enum(versionStatuses),
  createdAt: iso,
  updatedAt: iso,
  description: z.string().nullable(),
  labels: z.record(z.string(), z.string()),
  modelType: z.string().nullable(),
  payload: z.looseObject({ key: z.string(), digest: z.string(), size: z.number(), format: z.enum(['tar', 'tar+gzip']) }),
  stages: z.partialRecord(z.enum(stages), z.looseObject({ attempts: z.number().int().nonnegative(), startedAt: iso.optional(), finishedAt: iso.optional() })),
  contract: z.looseObject({ framework: z.string(), signatures: z.array(z.unknown()) }).nullable(),
  contractDigest: z.string().nullable(),
  tree: z.looseObject({ digest: z.string(), files: z.number(), size: z.number() }).nullable(),
  image: z.looseObject({ reference: z.string(), digest: z.string().nullable() }).nullable(),
  warnings: z.array(z.looseObject({ code: z.string(), message: z.string() })),
  error: errorBody.nullable(),
  diff: z.looseObject({ against: z.number(), breaking: z.boolean() }).nullable(),
  batchId: z.string().nullable(),
  outbox: z.array(z.looseObject({ id: z.string(), type: z.enum(['version.released', 'version.failed']), at: iso })).optional(),
});

/**
 * Reads a stored version record: a record without `schemaVersion` is from before it existed and
 * is schema 1. A record this code cannot read (damaged, or from a newer release) raises
 * UNREADABLE_RECORD naming the key and what is wrong, rather than being half-understood.
 */
export function parseVersionRecord(raw: Buffer | string, key: string): VersionRecord {
  let json: unknown;
  try {
    json = JSON.parse(raw.toString());
  } catch (err) {
    throw new MllError('UNREADABLE_RECORD', `The version record "${key}" is not valid JSON; restore it from a backup or delete the version`, { details: { key }, cause: err });
  }
  const declared = (json as { schemaVersion?: unknown } | null)?.schemaVersion;
  if (typeof declared === 'number' && declared > versionRecordSchemaVersion) {
    throw new MllError('UNREADABLE_RECORD',
      `The version record "${key}" has schema ${declared}, written by a newer ML Lambda; this one reads schema ${versionRecordSchemaVersion} at most. Upgrade this process.`,
      { details: { key, schemaVersion: declared } });
  }
  const parsed = versionRecordV1.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(record)'}: ${i.message}`);
    throw new MllError('UNREADABLE_RECORD', `The version record "${key}" does not have the layout of schema ${versionRecordSchemaVersion}: ${issues.join('; ')}`, { details: { key, issues } });
  }
  return { ...(parsed.data as unknown as VersionRecord), schemaVersion: versionRecordSchemaVersion };
}
