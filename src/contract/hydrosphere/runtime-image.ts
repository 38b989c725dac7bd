/**
 * `runtime: image:tag` (serving.yaml 2019+) and `runtime: {name, tag, sha256}` (v2 upload
 * metadata): the runtime image a Hydrosphere user asked for. ML Lambda uses it as the base only
 * when the operator's allow-list says so (the image builder decides); here it is checked to be an
 * image reference, and its name tells the model-type when nothing else does.
 */

const component = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const referencePattern = new RegExp(
  `^(?:(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\\.[A-Za-z0-9-]+)*(?::[0-9]{1,5})?/)?${component}(?:/${component})*` +
    '(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$',
);

/** An OCI image reference (`[host[:port]/]name[:tag][@sha256:…]`), at most 512 characters. */
export function isImageReference(ref: string): boolean {
  return ref.length <= 512 && referencePattern.test(ref);
}

/** The reference of a v2 client's `runtime: {name, tag, sha256?}`; null when it is not one. */
export function runtimeReferenceFromV2(runtime: unknown): string | null {
  if (typeof runtime !== 'object' || runtime === null) return null;
  const { name, tag, sha256 } = runtime as { name?: unknown; tag?: unknown; sha256?: unknown };
  if (typeof name !== 'string' || name === '') return null;
  let ref = name;
  if (typeof tag === 'string' && tag !== '') ref += `:${tag}`;
  if (typeof sha256 === 'string' && /^(?:sha256:)?[a-f0-9]{64}$/.test(sha256)) ref += `@sha256:${sha256.replace(/^sha256:/, '')}`;
  return isImageReference(ref) ? ref : null;
}

/**
 * The model-type a runtime image's name implies, after Hydrosphere's naming
 * (`hydrosphere/serving-runtime-python-3.6:2.1.0` → `python:3.6`,
 * `hydrosphere/serving-runtime-tensorflow:1.7.0-latest` → `tensorflow:1.7.0`) and ML Lambda's
 * (`…/runtime-python:3.11` → `python:3.11`); null for images named otherwise.
 */
export function modelTypeFromRuntime(ref: string): string | null {
  const withoutDigest = ref.replace(/@sha256:[a-f0-9]{64}$/, '');
  const lastSlash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.indexOf(':', lastSlash + 1);
  const repo = colon < 0 ? withoutDigest.slice(lastSlash + 1) : withoutDigest.slice(lastSlash + 1, colon);
  const tag = colon < 0 ? '' : withoutDigest.slice(colon + 1);
  const m = /^(?:serving-)?runtime-([a-z][a-z0-9]*)(?:-([0-9][0-9a-z.]*))?$/.exec(repo);
  if (!m) return null;
  const version = m[2] ?? /^[0-9]+(?:\.[0-9]+)*/.exec(tag)?.[0] ?? 'unknown';
  return `${m[1]!}:${version}`;
}
