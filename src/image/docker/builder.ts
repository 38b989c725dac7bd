import type Docker from 'dockerode';
import { keys } from '../../domain/keys.js';
import { MllError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { putIfAbsent, resolveRuntime } from '../runtime.js';
import { imageLabels } from '../oci/image-config.js';
import { segmentStream } from '../oci/layer-stream.js';
import { segmentsSize, tarSegments, withParents, type TarEntry } from '../oci/tar.js';
import { sha256Digest } from '../../shared/digest.js';
import type { Credentials } from '../registry/client.js';
import type { Registries } from '../registry/registries.js';
import type { BuildRequest, DockerBuiltImage, ImageBuilder, ImageWarning, StageContext } from '../types.js';
import { hostPlatform } from '../util.js';
import { dockerError, followProgress } from './engine.js';

export interface DockerBuilderOptions {
  store: ObjectStore;
  logger: Logger;
  registries: Registries;
  runtimes: Record<string, string>;
  docker: () => Docker;
  /** Credentials of the configured registry, for pulling a runtime that lives there. */
  registry?: { host: string; credentials?: Credentials };
  platform?: string;
}

/**
 * The Docker-engine builder: `FROM <runtime>@<digest>` (or scratch), the files and the contract
 * copied in, the same labels as the oci builder. The build context is a tar streamed from the
 * content blobs; the engine's own cache makes a retried build cheap.
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
    const resolved = await resolveRuntime({ ...this.options, platform: this.options.platform ?? hostPlatform() }, req.framework, warnings, ctx);
    const labels = imageLabels({
      model: req.model, version: req.version, modelType: req.modelType, framework: req.framework, contractDigest,
      description: req.description, userLabels: req.labels,
      base: resolved ? { reference: resolved.base.reference, digest: resolved.base.digest } : null,
    });
    const from = resolved ? `${resolved.base.registry}/${resolved.base.repository}@${resolved.base.digest}` : 'scratch';
    const dockerfile = Buffer.from(
      `FROM ${from}\nCOPY files/ /model/files/\nCOPY contract.protobin /model/contract.protobin\n`,
    );
    const dockerfileDigest = sha256Digest(dockerfile);
    await putIfAbsent(store, keys.blob(dockerfileDigest), dockerfile);

    const entries: TarEntry[] = [
      { type: 'file', path: 'Dockerfile', mode: 0o644, size: dockerfile.length, digest: dockerfileDigest },
      { type: 'file', path: 'contract.protobin', mode: 0o644, size: req.contract.protobin.length, digest: contractDigest },
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
        t: localTag, labels, rm: true, forcerm: true, registryconfig, abortSignal: ctx.signal,
        platform: this.options.platform ?? hostPlatform(),
      });
    } catch (err) {
      context.destroy();
      throw dockerError(err, `Building ${localTag}`);
    }
    let imageId: string | undefined;
    await followProgress(docker, stream, (event) => {
      const aux = event.aux as { ID?: string } | undefined;
      if (aux?.ID) imageId = aux.ID;
      const line = (event.stream ?? event.status ?? '').replace(/\s+$/, '');
      if (line) ctx.log(line);
      const m = /^Successfully built ([a-f0-9]{12,64})$/.exec(line);
      if (m && !imageId) imageId = m[1];
    }, `Building ${localTag}`, 'build');
    if (!imageId) {
      const inspected = await docker.getImage(localTag).inspect().catch((err: unknown) => { throw dockerError(err, `Inspecting ${localTag}`); });
      imageId = inspected.Id;
    }
    if (!imageId.startsWith('sha256:')) imageId = (await docker.getImage(imageId).inspect()).Id;
    return {
      kind: 'docker', builder: 'docker', imageId, localTag,
      base: resolved?.base ?? null, modelOnly: !resolved, labels, warnings,
    };
  }
}
