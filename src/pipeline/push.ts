import { keys } from '../domain/keys.js';
import { MllError } from '../errors.js';
import { failpoint } from '../failpoints.js';
import type { BuiltImage, PublishedImage } from '../image/types.js';
import type { BuildOutput } from './build.js';
import { readOutput } from './outputs.js';
import type { StageContext, StagePorts } from './ports.js';

export interface PushInput {
  model: string;
  version: number;
}

/**
 * Push: publish the version's built image to the configured target by tag `{name}:{version}`.
 * Targets skip what is already there, so a retried or duplicated push is cheap; the worker
 * releases the version, bound to the manifest digest, only once this returned.
 */
export async function runPush(input: PushInput, ports: StagePorts, ctx: StageContext): Promise<PublishedImage> {
  const built = await readOutput<Partial<BuildOutput> | BuiltImage>(ports.store, keys.builtImage(input.model, input.version));
  // Versions built before outputs carried their inputs' digest stored the image itself.
  const image = built && 'kind' in built ? built : built?.image;
  if (!image) {
    throw new MllError('INTERNAL', `Version ${input.model}:${input.version} reached the push stage without a built image`);
  }
  ctx.log(`push: publishing to ${ports.target.name}`);
  const published = await ports.target.publish(image, { repository: input.model, tag: String(input.version) }, ctx);
  ctx.log(`push: ${published.reference}@${published.digest}`);
  await failpoint(ports.failpoints, 'push-mid', ctx.signal);
  return published;
}
