import { MllError } from '../../errors.js';

/** A parsed image reference: `host[:port]/repo/path[:tag][@sha256:hex]`. */
export interface ImageReference {
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

const DOCKER_HUB = 'registry-1.docker.io';
const repoPattern = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const tagPattern = /^[\w][\w.-]{0,127}$/;
const digestPattern = /^sha256:[a-f0-9]{64}$/;

/** Parses an image reference the way docker does (a first component with `.` or `:`, or `localhost`, is a registry). */
export function parseReference(reference: string): ImageReference {
  const bad = (why: string) =>
    new MllError('BAD_REQUEST', `"${reference}" is not a valid image reference: ${why}`, { details: { reference } });
  let rest = reference.trim();
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!digestPattern.test(digest)) throw bad('the digest must be sha256:<64 hex digits>');
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!tagPattern.test(tag)) throw bad(`"${tag}" is not a valid tag`);
  }
  const slash = rest.indexOf('/');
  let registry = DOCKER_HUB;
  let repository = rest;
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      registry = first;
      repository = rest.slice(slash + 1);
    }
  }
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  if (!repoPattern.test(repository)) throw bad(`"${repository}" is not a valid repository name`);
  if (!tag && !digest) tag = 'latest';
  return { registry, repository, tag, digest };
}

export function formatReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** `host[:port][/namespace]` as configured in MLL_REGISTRY. */
export function parseRegistryTarget(value: string): { registry: string; namespace: string } {
  const text = value.trim().replace(/^[a-z]+:\/\//, '').replace(/\/+$/, '');
  const slash = text.indexOf('/');
  const registry = slash >= 0 ? text.slice(0, slash) : text;
  const namespace = slash >= 0 ? text.slice(slash + 1) : '';
  if (!registry || (namespace && !repoPattern.test(namespace))) {
    throw new MllError('BAD_REQUEST', `MLL_REGISTRY="${value}" is not host[:port][/namespace]`, { details: { value } });
  }
  return { registry, namespace };
}

/** Loopback registries speak plain HTTP unless told otherwise, as Docker assumes. */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
