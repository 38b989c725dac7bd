import { isNotFound, type ObjectStore } from '../storage/object-store.js';
import { resolveBase, RuntimeUnreachable, type ResolvedBase } from './oci/base.js';
import type { Registries } from './registry/registries.js';
import type { ImageWarning, StageContext } from './types.js';

/**
 * The runtime base for a framework, resolved by tag to a digest; undefined (with a warning for the
 * version) when none is configured, or its image does not exist or its registry cannot be reached:
 * the builders then make a model-only image. Other faults (5xx, refused credentials) are thrown.
 */
export async function resolveRuntime(
  opts: { runtimes: Record<string, string>; registries: Registries; store: ObjectStore; platform: string },
  framework: string,
  warnings: ImageWarning[],
  ctx: StageContext,
): Promise<ResolvedBase | undefined> {
  const reference = opts.runtimes[framework];
  if (!reference) {
    const message = `No runtime image is configured for framework "${framework}" (MLL_RUNTIMES): the image holds the model's files and contract only`;
    warnings.push({ code: 'RUNTIME_NOT_CONFIGURED', message });
    ctx.log(message);
    return undefined;
  }
  try {
    const resolved = await resolveBase(reference, opts.registries, opts.store, opts.platform, ctx.signal);
    ctx.log(`runtime ${reference} resolved to ${resolved.base.digest}`);
    return resolved;
  } catch (err) {
    if (!(err instanceof RuntimeUnreachable)) throw err;
    const message = `${err.message}: the image holds the model's files and contract only`;
    warnings.push({ code: 'RUNTIME_UNREACHABLE', message });
    ctx.log(message);
    ctx.logger.warn({ framework, reference, err: err.message }, 'runtime image unreachable; building a model-only image');
    return undefined;
  }
}

/** Content-addressed small blobs: written once, skipped when present. */
export async function putIfAbsent(store: ObjectStore, key: string, bytes: Buffer): Promise<void> {
  try {
    if ((await store.stat(key)).size === bytes.length) return;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  await store.put(key, bytes, { size: bytes.length });
}
