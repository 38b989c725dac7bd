import { z } from 'zod';
import type { HydroFieldV2, HydroFieldV3 } from '../../contract/hydrosphere/client-contracts.js';
import { timestamp } from './common.js';
import { responseBody } from './registry.js';

/** Hydrosphere's answers (HYDROSPHERE.md): the 2018 ModelBuild and the 2.x/3.x ModelVersion. */

const int = z.number().int();

const v2Shape = z.object({ dim: z.array(z.object({ size: int, name: z.string() })), unknownRank: z.boolean() });
// hydrosdk reads a record's subfields as a map of name to field (the field without its name).
const v2Subfield: z.ZodType<Omit<HydroFieldV2, 'name'>> = responseBody('HydrosphereSubfieldV2', z.object({
  profile: z.string(),
  shape: v2Shape,
  dtype: z.string().optional(),
  get subfields() {
    return z.record(z.string(), v2Subfield).optional();
  },
}));
const v2Field: z.ZodType<HydroFieldV2> = responseBody('HydrosphereFieldV2', z.object({
  name: z.string(),
  profile: z.string().meta({ examples: ['NUMERICAL', 'NONE'] }),
  shape: v2Shape,
  dtype: z.string().optional().meta({ examples: ['DT_FLOAT'] }),
  subfields: z.record(z.string(), v2Subfield).optional(),
}));
const v2Signature = responseBody('HydrosphereSignatureV2', z.object({ signatureName: z.string(), inputs: z.array(v2Field), outputs: z.array(v2Field) }));

const v3Shape = z.object({ dims: z.array(int) });
const v3Subfield: z.ZodType<Omit<HydroFieldV3, 'name'>> = responseBody('HydrosphereSubfieldV3', z.object({
  profile: z.string(),
  shape: v3Shape.optional(),
  dtype: z.string().optional(),
  get subfields() {
    return z.record(z.string(), v3Subfield).optional();
  },
}));
const v3Field: z.ZodType<HydroFieldV3> = responseBody('HydrosphereFieldV3', z.object({
  name: z.string(),
  profile: z.string(),
  shape: v3Shape.optional().describe('absent for an unknown rank'),
  dtype: z.string().optional(),
  subfields: z.record(z.string(), v3Subfield).optional(),
}));
const v3Signature = z.object({ signatureName: z.string(), inputs: z.array(v3Field), outputs: z.array(v3Field) });

const dockerImage = z.object({ name: z.string(), tag: z.string(), sha256: z.string().nullable().optional() });
const v1ModelContract = z.object({ modelName: z.string(), signatures: z.array(v2Signature) });

const v1Model = z.object({
  id: int,
  name: z.string(),
  modelType: z.string(),
  description: z.string().nullable(),
  modelContract: v1ModelContract,
  created: timestamp,
  updated: timestamp,
});

export const hydrosphereModelBuild = responseBody('HydrosphereModelBuild', z.object({
  id: int,
  model: v1Model,
  version: int,
  started: timestamp,
  finished: timestamp.nullable(),
  status: z.enum(['Pending', 'Running', 'Failed', 'Finished']),
  statusText: z.string().nullable(),
  logsUrl: z.string(),
  modelVersion: z.object({
    id: int,
    imageName: z.string(),
    imageTag: z.string(),
    imageSHA256: z.string(),
    created: timestamp.nullable(),
    modelName: z.string(),
    modelVersion: int,
    modelType: z.string(),
    model: v1Model,
    modelContract: v1ModelContract,
  }).nullable().describe('null until the build finished'),
  script: z.string(),
}), 'The 2018 ModelBuild');
export type HydrosphereModelBuildBody = z.output<typeof hydrosphereModelBuild>;

export const hydrosphereModelVersion = responseBody('HydrosphereModelVersion', z.object({
  id: int,
  model: z.object({ id: int, name: z.string() }),
  modelVersion: int,
  status: z.enum(['Assembling', 'Released', 'Failed']),
  created: timestamp,
  finished: timestamp.nullable(),
  runtime: dockerImage,
  image: dockerImage.describe('the image the version gets: repository and tag from its creation, sha256 once pushed'),
  modelContract: z.object({ modelName: z.string(), predict: v2Signature }).describe('2.x clients read this'),
  modelSignature: v3Signature.describe('3.x clients read this'),
  installCommand: z.string().nullable(),
  metadata: z.record(z.string(), z.string()),
  monitoringConfiguration: z.object({ batchSize: int }),
  applications: z.array(z.string()),
  isExternal: z.literal(false),
}), 'hydro-serving 2.x/3.x ModelVersion');
export type HydrosphereModelVersionBody = z.output<typeof hydrosphereModelVersion>;

export const hydrosphereModelVersionList = responseBody('HydrosphereModelVersionList', z.array(hydrosphereModelVersion));
export type HydrosphereModelVersionListBody = z.output<typeof hydrosphereModelVersionList>;
