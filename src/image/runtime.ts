import { putBlobBytes, type ObjectStore } from '../storage/object-store.js';
import { resolveBase, RuntimeUnreachable, type ResolvedBase } from './oci/base.js';
import { formatReference, parseReference } from './registry/reference.js';
import type { Registries } from './registry/registries.js';
import type { BuildRequest, ImageWarning, StageContext } from './types.js';

/** Which runtime image a build uses, and why. */
export interface RuntimeChoice {
  reference: string;
  /** The MLL_RUNTIMES key that matched (`python:3.6`, `python`), or `serving.yaml` for an allowed requested runtime. */
  matched: string;
}

export interface RuntimePolicy {
  /** MLL_RUNTIMES: `framework` or `framework:version-prefix` → image reference. */
  runtimes: Record<string, string>;
  /** MLL_RUNTIME_ALLOW: patterns a requested runtime must match (`*` within a path segment, `**` across). */
  runtimeAllow?: readonly string[];
}

/**
 * The MLL_RUNTIMES entry for a model-type: `framework:prefix` keys match when the version equals the
 * prefix or continues it after a dot (`python:3.6` matches 3.6 and 3.6.8, not 3.60); the longest
 * matching prefix wins, and the bare `framework` key is the fallback.
 */
export function matchRuntime(runtimes: Record<string, string>, framework: string, modelType: string): RuntimeChoice | undefined {
  const fw = framework.toLowerCase();
  const colon = modelType.indexOf(':');
  const version = colon >= 0 ? modelType.slice(colon + 1).trim().toLowerCase() : '';
  let best: { key: string; prefixLength: number } | undefined;
  for (const key of Object.keys(runtimes)) {
    const k = key.trim().toLowerCase();
    const sep = k.indexOf(':');
    const keyFramework = sep >= 0 ? k.slice(0, sep) : k;
    if (keyFramework !== fw) continue;
    const prefix = sep >= 0 ? k.slice(sep + 1) : '';
    if (prefix !== '' && version !== prefix && !version.startsWith(`${prefix}.`)) continue;
    if (!best || prefix.length > best.prefixLength) best = { key, prefixLength: prefix.length };
  }
  return best ? { reference: runtimes[best.key]!, matched: best.key } : undefined;
}

function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      source += '.*';
      i++;
    } else if (c === '*') source += '[^/]*';
    else source += c.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/** True when the reference, as written or in its canonical form, matches one of the patterns. */
export function runtimeAllowed(reference: string, allow: readonly string[]): boolean {
  const forms = [reference.trim()];
  try {
    forms.push(formatReference(parseReference(reference)));
  } catch {
    return false;
  }
  return allow.some((pattern) => {
    const re = globToRegExp(pattern.trim());
    return forms.some((f) => re.test(f));
  });
}

/**
 * The runtime for a build: the serving.yaml `runtime:` when the operator's allow-list admits it,
 * otherwise the most specific MLL_RUNTIMES match (with a warning when a requested one was ignored).
 */
export function chooseRuntime(
  policy: RuntimePolicy, req: Pick<BuildRequest, 'framework' | 'modelType' | 'requestedRuntime'>, warnings: ImageWarning[], ctx: StageContext,
): RuntimeChoice | undefined {
  const configured = matchRuntime(policy.runtimes, req.framework, req.modelType);
  const requested = req.requestedRuntime?.trim();
  if (requested) {
    if (runtimeAllowed(requested, policy.runtimeAllow ?? [])) {
      ctx.log(`runtime ${requested}: requested by serving.yaml and allowed by MLL_RUNTIME_ALLOW`);
      return { reference: requested, matched: 'serving.yaml' };
    }
    const instead = configured ? `MLL_RUNTIMES chose ${configured.reference} (${configured.matched}) instead` : 'no MLL_RUNTIMES entry matches either';
    const message = `serving.yaml asks for runtime ${requested}, which the operator's allow-list (MLL_RUNTIME_ALLOW) does not admit; ${instead}`;
    warnings.push({ code: 'RUNTIME_NOT_ALLOWED', message });
    ctx.log(message);
  }
  if (configured) ctx.log(`runtime ${configured.reference}: MLL_RUNTIMES entry "${configured.matched}" for model-type ${req.modelType}`);
  return configured;
}

/**
 * The chosen runtime base, resolved by tag to a digest; undefined (with a warning for the version)
 * when none is configured, or its image does not exist or its registry cannot be reached: the
 * builders then make a model-only image. Other faults (5xx, refused credentials) are thrown.
 */
export async function resolveRuntime(
  opts: { registries: Registries; store: ObjectStore; platform: string },
  choice: RuntimeChoice | undefined,
  framework: string,
  warnings: ImageWarning[],
  ctx: StageContext,
): Promise<ResolvedBase | undefined> {
  if (!choice) {
    const message = `No runtime image is configured for framework "${framework}" (MLL_RUNTIMES): the image holds the model's files and contract only`;
    warnings.push({ code: 'RUNTIME_NOT_CONFIGURED', message });
    ctx.log(message);
    return undefined;
  }
  try {
    const resolved = await resolveBase(choice.reference, opts.registries, opts.store, opts.platform, ctx.signal);
    ctx.log(`runtime ${choice.reference} resolved to ${resolved.base.digest}`);
    return { ...resolved, base: { ...resolved.base, matched: choice.matched } };
  } catch (err) {
    if (!(err instanceof RuntimeUnreachable)) throw err;
    const message = `${err.message}: the image holds the model's files and contract only`;
    warnings.push({ code: 'RUNTIME_UNREACHABLE', message });
    ctx.log(message);
    ctx.logger.warn({ framework, reference: choice.reference, err: err.message }, 'runtime image unreachable; building a model-only image');
    return undefined;
  }
}

/** Content-addressed blobs held in memory: see putBlobBytes (small ones go to a remote store without a lookup first). */
export const putIfAbsent = (store: ObjectStore, key: string, bytes: Buffer): Promise<void> => putBlobBytes(store, key, bytes);
