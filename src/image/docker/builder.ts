import os from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { keys } from '../../domain/keys.js';
import { MllError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { chooseRuntime, putIfAbsent, resolveRuntime } from '../runtime.js';
import { dependencyPlan, type DependencySettings } from '../deps/index.js';
import { dockerDependencyStep, packagesFromPipOutput, type DockerDependencyStep } from '../deps/docker.js';
import { imageAnnotations, imageLabels } from '../oci/image-config.js';
import { segmentStream } from '../oci/layer-stream.js';
import { segmentsSize, tarSegments, withParents, type TarEntry } from '../oci/tar.js';
import { sha256Digest } from '../../shared/digest.js';
import type { Credentials } from '../registry/client.js';
import type { Registries } from '../registry/registries.js';
import type { BuildRequest, DockerBuiltImage, ImageBuilder, ImageWarning, StageContext } from '../types.js';
import { hostPlatform } from '../util.js';
import { dockerError, followProgress } from './engine.js';
import { exportImage } from './export.js';

export interface DockerBuilderOptions {
  store: ObjectStore;
  logger: Logger;
  registries: Registries;
  /** `framework` or `framework:version-prefix` → runtime image reference (MLL_RUNTIMES). */
  runtimes: Record<string, string>;
  /** Patterns a serving.yaml `runtime:` must match to be used (MLL_RUNTIME_ALLOW). */
  runtimeAllow?: string[];
  /** How requirements are installed; without it, a model's requirements are not installed (and the version warns). */
  dependencies?: DependencySettings;
  docker: () => Docker;
  /** Credentials of the configured registry, for pulling a runtime that lives there. */
  registry?: { host: string; credentials?: Credentials };
  platform?: string;
  /** Where large layers of an exported image wait on their way into the store. */
  scratchDir?: string;
}

/**
 * The Docker-engine builder: `FROM <runtime>@<digest>` (or scratch), the files and the contract
 * copied in, the same labels as the oci builder. The build context is a tar streamed from the
 * content blobs; the engine's own cache makes a retried build cheap. The built image is exported
 * from the engine into the store (export.ts), so any target publishes it like an oci-built one.
 */
export class DockerImageBuilder implements ImageBuilder {
  readonly name = 'docker' as const;

  constructor(private readonly options: DockerBuilderOptions) {}

  async check(): Promise<void> {
    try {
      await this.options.docker().ping();
    } catch (err) {
      const e = dockerError(err, 'Checking the Docker engine');
      throw new MllError('BUILDER_UNAVAILABLE', e.message, { cause: err });
    }
  }

  async build(req: BuildRequest, ctx: StageContext): Promise<DockerBuiltImage> {
    const { store } = this.options;
    const contractDigest = sha256Digest(req.contract.protobin);
    if (contractDigest !== req.contract.digest) {
      throw new MllError('INTERNAL', `The contract of ${req.model} v${req.version} does not match its digest ${req.contract.digest}`);
    }
    await putIfAbsent(store, keys.blob(contractDigest), req.contract.protobin);

    const warnings: ImageWarning[] = [];
    const platform = this.options.platform ?? hostPlatform();
    const choice = chooseRuntime(this.options, req, warnings, ctx);
    const resolved = await resolveRuntime({ ...this.options, platform }, choice, req.framework, warnings, ctx);
    const meta = {
      model: req.model, version: req.version, modelType: req.modelType, framework: req.framework, contractDigest,
      description: req.description, userLabels: req.labels,
      base: resolved ? { reference: resolved.base.reference, digest: resolved.base.digest } : null,
    };
    const labels = imageLabels(meta);
    const from = resolved ? `${resolved.base.registry}/${resolved.base.repository}@${resolved.base.digest}` : 'scratch';
    let deps: DockerDependencyStep | undefined;
    const python = dependencyPlan(this.options.dependencies, req, resolved, platform, warnings, ctx);
    if (python && !resolved) {
      const message = 'The model\'s requirements were not installed: the docker builder installs them with the runtime image\'s pip, and this image has no runtime';
      warnings.push({ code: 'DEPENDENCIES_NOT_INSTALLED', message });
      ctx.log(message);
    } else if (python) {
      deps = await dockerDependencyStep(store, this.options.dependencies!, req, python, from);
    }
    const dockerfile = Buffer.from(
      `${deps?.stage ?? ''}FROM ${from}\n${deps?.copy ?? ''}COPY files/ /model/files/\nCOPY contract.protobin /model/contract.protobin\n`,
    );
    const dockerfileDigest = sha256Digest(dockerfile);
    await putIfAbsent(store, keys.blob(dockerfileDigest), dockerfile);

    const entries: TarEntry[] = [
      { type: 'file', path: 'Dockerfile', mode: 0o644, size: dockerfile.length, digest: dockerfileDigest },
      { type: 'file', path: 'contract.protobin', mode: 0o644, size: req.contract.protobin.length, digest: contractDigest },
      ...(deps?.entries ?? []),
      { type: 'dir', path: 'files' },
      ...req.tree.entries.map((e): TarEntry => e.type === 'file'
        ? { type: 'file', path: `files/${e.path}`, mode: e.mode, size: e.size, digest: e.digest }
        : { type: 'symlink', path: `files/${e.path}`, target: e.target }),
    ];
    const segments = tarSegments(withParents(entries));
    const context = segmentStream(store, segments, { start: 0, end: segmentsSize(segments) }, ctx.signal);

    const docker = this.options.docker();
    const localTag = `mll-build/${req.model}:${req.version}`;
    const creds = this.options.registry?.credentials;
    const registryconfig = creds && resolved && resolved.base.registry === this.options.registry?.host
      ? { [resolved.base.registry]: { username: creds.username, password: creds.password } }
      : undefined;
    let stream: NodeJS.ReadableStream;
    try {
      stream = await docker.buildImage(context, {
        t: localTag, labels, rm: true, forcerm: true, registryconfig, abortSignal: ctx.signal, platform,
        // The install stage reaches the index from the host's network (a loopback index included).
        ...(deps ? { buildargs: deps.buildargs, networkmode: 'host' } : {}),
      });
    } catch (err) {
      context.destroy();
      throw dockerError(err, `Building ${localTag}`);
    }
    let imageId: string | undefined;
    const redact = deps?.redact ?? ((t: string) => t);
    const output: string[] = [];
    let inDepsStep = false;
    try {
      await followProgress(docker, stream, (event) => {
        const aux = event.aux as { ID?: string } | undefined;
        if (aux?.ID) imageId = aux.ID;
        const text = redact(event.stream ?? event.status ?? '');
        for (const raw of text.split('\n')) {
          const line = raw.replace(/\s+$/, '');
          if (!line) continue;
          ctx.log(line);
          if (/^Step \d+\/\d+ : /.test(line)) inDepsStep = line.includes('/mll-deps/normalise.py');
          else if (inDepsStep) {
            output.push(line);
            if (output.length > 200) output.shift();
            const packages = packagesFromPipOutput(line);
            if (packages && deps) deps.summary.packages = packages;
          }
          const m = /^Successfully built ([a-f0-9]{12,64})$/.exec(line);
          if (m && !imageId) imageId = m[1];
        }
      }, `Building ${localTag}`, 'build');
    } catch (err) {
      const code = /returned a non-zero code: (\d+)/.exec((err as Error).message ?? '')?.[1];
      if (deps && inDepsStep && code) throw await deps.failure(Number(code), output, ctx.signal);
      throw err;
    }
    if (!imageId) {
      const inspected = await docker.getImage(localTag).inspect().catch((err: unknown) => { throw dockerError(err, `Inspecting ${localTag}`); });
      imageId = inspected.Id;
    }
    if (!imageId.startsWith('sha256:')) imageId = (await docker.getImage(imageId).inspect()).Id;
    // Build is separate from publish: the image leaves the engine now, as an OCI image in the store.
    const t0 = performance.now();
    const { image: exported, reused } = await exportImage(docker, imageId, {
      store, base: resolved, annotations: imageAnnotations(meta), signal: ctx.signal,
      scratchDir: this.options.scratchDir ?? path.join(os.tmpdir(), 'mll-build'),
    });
    ctx.log(reused
      ? `reused the export of ${imageId} as ${exported.manifestDigest} (the same image, runtime and annotations)`
      : `exported ${imageId} as ${exported.manifestDigest}: ${exported.layers.length} layers in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    return {
      kind: 'docker', builder: 'docker', imageId, localTag, ...exported,
      base: resolved?.base ?? null, modelOnly: !resolved, dependencies: deps?.summary ?? null, labels, warnings, assembly: null,
    };
  }
}
