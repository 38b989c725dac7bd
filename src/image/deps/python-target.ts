import type { PythonTargetInfo } from '../types.js';

/** What pip installs for: the runtime's interpreter and platform, as pip's compatibility flags. */
export interface PythonTarget extends PythonTargetInfo {
  implementation: 'cp';
  /** --abi values, most specific first. */
  abis: string[];
  /** --platform values: manylinux tags the runtime's glibc can load, then the plain linux tag. */
  platformTags: string[];
}

/** Labels a runtime image may carry to say what it runs (the Python runtime of this project sets them). */
export const runtimeLabels = {
  python: 'ai.mll.runtime.python',
  platform: 'ai.mll.runtime.platform',
  glibc: 'ai.mll.runtime.glibc',
} as const;

/** Debian 12's glibc, the runtime this project builds, when the runtime does not say. */
export const DEFAULT_GLIBC = '2.36';

const archTags: Record<string, string> = {
  amd64: 'x86_64', arm64: 'aarch64', '386': 'i686', ppc64le: 'ppc64le', s390x: 's390x', arm: 'armv7l',
};

function majorMinor(version: string | undefined): string | undefined {
  const m = /^(3)\.(\d{1,2})(\.|$|[a-z])/i.exec(version?.trim() ?? '');
  return m ? `${m[1]}.${m[2]}` : undefined;
}

/**
 * The Python version and platform to install for: the runtime image's labels first, then a
 * `python:3.x` model-type, then the configured default; the platform from the runtime's label or
 * its image config, else the builder's.
 */
export function pythonTarget(opts: {
  runtimeLabels?: Record<string, string> | null;
  imagePlatform: string;
  modelType: string;
  framework: string;
  defaultVersion: string;
}): PythonTarget {
  const labels = opts.runtimeLabels ?? {};
  const fromLabel = majorMinor(labels[runtimeLabels.python]);
  const modelVersion = opts.framework.toLowerCase() === 'python' ? majorMinor(opts.modelType.split(':')[1]) : undefined;
  const version = fromLabel ?? modelVersion ?? majorMinor(opts.defaultVersion) ?? '3.11';
  const from: PythonTargetInfo['from'] = fromLabel ? 'runtime-label' : modelVersion ? 'model-type' : 'default';
  const platform = (labels[runtimeLabels.platform]?.trim() || opts.imagePlatform).split('/').slice(0, 2).join('/');
  const minor = Number(version.split('.')[1]);
  const cp = `cp3${minor}`;
  // Before 3.8 CPython's ABI tag carried the pymalloc flag.
  const abis = [minor < 8 ? `${cp}m` : cp, 'abi3', 'none'];
  return { version, platform, from, implementation: 'cp', abis, platformTags: platformTags(platform, labels[runtimeLabels.glibc]) };
}

/** manylinux_2_N for every glibc from the runtime's down to 2.5, the legacy aliases, then linux_<arch>. */
export function platformTags(platform: string, glibc: string | undefined): string[] {
  const arch = archTags[platform.split('/')[1] ?? 'amd64'] ?? platform.split('/')[1] ?? 'x86_64';
  const m = /^2\.(\d+)/.exec(glibc?.trim() ?? '') ?? /^2\.(\d+)/.exec(DEFAULT_GLIBC)!;
  const top = Number(m[1]);
  const tags: string[] = [];
  for (let n = top; n >= 5; n--) tags.push(`manylinux_2_${n}_${arch}`);
  if (top >= 17) tags.push(`manylinux2014_${arch}`);
  if (top >= 12 && (arch === 'x86_64' || arch === 'i686')) tags.push(`manylinux2010_${arch}`);
  if (arch === 'x86_64' || arch === 'i686') tags.push(`manylinux1_${arch}`);
  tags.push(`linux_${arch}`);
  return tags;
}
