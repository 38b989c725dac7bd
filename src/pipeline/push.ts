import { builtImageKey } from '../domain/keys.js';
import type { VersionRecord } from '../domain/version.js';
import type { BuiltImage } from '../image/types.js';
import { getJson } from '../storage/object-store.js';
import type { StageContext, StageDeps, StageInput } from './context.js';
import { failpoint } from '../failpoints.js';

/**
 * Push: publish the built image to the configured target by tag `{name}:{version}` and release
 * the version, bound to the manifest digest. The version is released only after the push succeeded.
 */
export async function runPush(input: StageInput, deps: StageDeps, ctx: StageContext): Promise<VersionRecord> {
  const record = await deps.catalog.getDurable(input.model, input.version);
  if (record.status === 'released' && record.image?.digest) {
    ctx.log('push: already released; skipping');
    return record;
  }
  const image = await getJson<BuiltImage>(deps.store, builtImageKey(input.model, input.version));
  ctx.log(`push: publishing to ${deps.target.name}`);
  const published = await deps.target.publish(image, { repository: input.model, tag: String(input.version) }, ctx);
  ctx.log(`push: ${published.reference}@${published.digest}`);
  await failpoint(deps.failpoints, 'push-mid', ctx.signal);
  return deps.catalog.update(input.model, input.version, (r) => {
    r.status = 'released';
    r.stages.push = { ...(r.stages.push ?? { attempts: 1 }), finishedAt: new Date().toISOString() };
    r.image = {
      ...(r.image ?? {
        repository: input.model, tag: String(input.version), base: null, modelOnly: image.modelOnly, builder: image.builder, target: deps.target.name,
      }),
      reference: published.reference,
      digest: published.digest,
    };
    r.error = null;
  }, { type: 'status', status: 'released', stage: 'push', message: `Released ${published.reference}@${published.digest}` });
}
