import { builtImageKey, keys } from '../domain/keys.js';
import type { TreeManifest } from '../domain/tree.js';
import { MllError } from '../errors.js';
import type { BuiltImage } from '../image/types.js';
import { getBuffer, getJson, isNotFound, putJson } from '../storage/object-store.js';
import type { StageContext, StageDeps, StageInput } from './context.js';
import { failpoint } from '../failpoints.js';

/**
 * Build: turn the extracted tree and contract into an image with the configured builder, and
 * keep its description for the push stage. Builders are idempotent, so a retry is cheap.
 */
export async function runBuild(input: StageInput, deps: StageDeps, ctx: StageContext): Promise<BuiltImage> {
  const record = await deps.catalog.getDurable(input.model, input.version);
  if (!record.tree || !record.contractDigest || !record.modelType) {
    throw new MllError('INTERNAL', `Version ${input.model}:${input.version} reached the build stage without an extracted tree and contract`);
  }
  const existing = await getJson<BuiltImage>(deps.store, builtImageKey(input.model, input.version)).catch((err: unknown) => {
    if (isNotFound(err)) return null;
    throw err;
  });
  if (existing && existing.builder === deps.builder.name) {
    ctx.log('build: image already built for this version; skipping');
    return existing;
  }
  const tree = await getJson<TreeManifest>(deps.store, keys.blob(record.tree.digest));
  const protobin = await getBuffer(deps.store, keys.blob(record.contractDigest));
  const framework = record.modelType.split(':')[0]!;
  ctx.log(`build: ${deps.builder.name} builder, framework ${framework}, ${record.tree.files} file(s)`);
  const image = await deps.builder.build({
    model: input.model,
    version: input.version,
    modelType: record.modelType,
    framework,
    tree,
    contract: { protobin, digest: record.contractDigest },
    labels: record.labels,
    description: record.description,
  }, ctx);
  await failpoint(deps.failpoints, 'build-mid', ctx.signal);
  await putJson(deps.store, builtImageKey(input.model, input.version), image);
  await deps.catalog.update(input.model, input.version, (r) => {
    r.image = {
      reference: '',
      repository: input.model,
      tag: String(input.version),
      digest: null,
      base: image.base ? { reference: image.base.reference, digest: image.base.digest } : null,
      modelOnly: image.modelOnly,
      builder: image.builder,
      target: deps.target.name,
    };
    for (const w of image.warnings) {
      if (!r.warnings.some((x) => x.code === w.code)) r.warnings.push({ code: w.code, message: w.message });
    }
  }, image.modelOnly ? { type: 'warning', stage: 'build', message: 'Built a model-only image (no runtime base image configured or reachable for this framework)' } : undefined);
  return image;
}
