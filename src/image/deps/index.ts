/**
 * Dependencies installed at build time: a model's requirements become one layer under /model/lib.
 *
 *   requirements.ts  reads requirement lines as pip does and refuses what pip must not be asked
 *   python-target.ts the runtime's Python and platform (image labels, model-type, default)
 *   pip.ts           pip's flags and environment, and the pip process (timeout, size bound, abort)
 *   failure.ts       a failed pip run as the version's error (probe.ts asks the index why)
 *   normalise.ts     the same tree wherever pip ran (Python, run after pip by the docker builder)
 *   normalise-tree.ts  the same steps for the oci builder
 *   dir-tar.ts       the deterministic tar of the installed tree
 *   layer.ts         cache by inputs, install, store, record
 *   docker.ts        the docker builder's equivalent RUN step
 */
import type { Config } from '../../config.js';
import type { ObjectStore } from '../../storage/object-store.js';
import type { ResolvedBase } from '../oci/base.js';
import type { Compression } from '../oci/layers.js';
import { keys } from '../../domain/keys.js';
import { MllError } from '../../errors.js';
import { getBuffer } from '../../storage/object-store.js';
import type { BuildRequest, DependencySpec, ImageWarning, StageContext } from '../types.js';
import { formatBytes } from '../util.js';
import { dependencyLayer, hasRequirementLines, MAX_REQUIREMENTS_BYTES, type DependencyLayer, type DependencySettings } from './layer.js';
import { pythonTarget, type PythonTarget } from './python-target.js';

export { dependencyLayer, type DependencyLayer, type DependencySettings } from './layer.js';
export { pythonTarget, type PythonTarget } from './python-target.js';

/** A build's dependencies from the requirements blob extract recorded (requirements.txt, or an install-command's lines). */
export async function readDependencySpec(store: ObjectStore, source: { source: DependencySpec['source']; digest: string }): Promise<DependencySpec> {
  const { size } = await store.stat(keys.blob(source.digest));
  if (size > MAX_REQUIREMENTS_BYTES) {
    throw new MllError('DEPENDENCY_FORBIDDEN_OPTION', `The model's ${source.source} is ${formatBytes(size)}; requirements may be at most ${formatBytes(MAX_REQUIREMENTS_BYTES)}`);
  }
  return { source: source.source, text: (await getBuffer(store, keys.blob(source.digest), MAX_REQUIREMENTS_BYTES)).toString('utf8') };
}

/** The dependency settings of a worker, from its configuration. */
export function dependencySettings(config: Config): DependencySettings {
  return {
    install: config.installDependencies,
    index: { indexUrl: config.pipIndexUrl, extraIndexUrls: config.pipExtraIndexUrl, trustedHosts: config.pipTrustedHost },
    allowSdist: config.pipAllowSdist,
    sandbox: config.pipSandbox,
    timeoutMs: config.pipTimeoutMs,
    maxBytes: config.dependencyMaxBytes,
    interpreter: config.pipPython,
    defaultPythonVersion: config.pipPythonVersion,
    searchPath: config.searchPath,
  };
}

/**
 * Whether a build installs its requirements, and for which Python: undefined when there is nothing
 * to install, or installing is off (then the version gets a warning that its requirements were not
 * installed).
 */
export function dependencyPlan(
  settings: DependencySettings | undefined, req: BuildRequest, resolved: ResolvedBase | undefined, platform: string,
  warnings: ImageWarning[], ctx: StageContext,
): PythonTarget | undefined {
  if (!hasRequirementLines(req.dependencies)) return undefined;
  const source = req.dependencies.source === 'requirements.txt' ? 'requirements.txt' : 'serving.yaml install-command';
  if (!settings?.install) {
    const message = `The model's ${source} was not installed (MLL_INSTALL_DEPENDENCIES=false): code that imports those packages will fail in this image`;
    warnings.push({ code: 'DEPENDENCIES_NOT_INSTALLED', message });
    ctx.log(message);
    return undefined;
  }
  return pythonTarget({
    runtimeLabels: resolved?.config.config?.Labels, imagePlatform: platform,
    modelType: req.modelType, framework: req.framework, defaultVersion: settings.defaultPythonVersion,
  });
}

/** The oci builder's /model/lib layer for a build, or undefined (see dependencyPlan). */
export async function buildDependencyLayer(
  opts: { store: ObjectStore; settings?: DependencySettings; scratchDir: string; compression: Compression },
  req: BuildRequest, resolved: ResolvedBase | undefined, platform: string, warnings: ImageWarning[], ctx: StageContext,
): Promise<DependencyLayer | undefined> {
  const python = dependencyPlan(opts.settings, req, resolved, platform, warnings, ctx);
  if (!python || !opts.settings) return undefined;
  return dependencyLayer({
    store: opts.store, settings: opts.settings, scratchDir: opts.scratchDir, compression: opts.compression,
    spec: req.dependencies!, tree: req.tree, python, baseDigest: resolved?.base.digest ?? null,
  }, ctx);
}
