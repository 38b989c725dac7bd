import type Docker from 'dockerode';
import { createDocker } from '../../image/docker/engine.js';
import { versionPath, type Version, type VersionPage } from '../api-types.js';
import type { CommandContext } from '../context.js';
import { CliError, ExitCode } from '../errors.js';
import { versionArgument } from '../options.js';

/**
 * What `mll run` and `mll predict` share: the released version to run (from the API), the Docker
 * engine (DOCKER_HOST), and the containers `mll run` started, found again by their labels.
 */

export const runLabels = { model: 'ai.mll.run.model', version: 'ai.mll.run.version' } as const;

/** The version to run: the one asked for, or the newest released one. */
export async function releasedVersion(ctx: CommandContext, model: string, rawVersion: string | undefined): Promise<Version> {
  if (rawVersion !== undefined) {
    const v = await ctx.client.get<Version>(versionPath(model, versionArgument(rawVersion)));
    if (v.status !== 'released') {
      const why = v.error ? ` (${v.error.code}: ${v.error.message})` : '';
      const next = v.status === 'failed' ? 'upload a fixed model' : `wait for it: mll logs ${model} ${v.version} --follow`;
      throw new CliError('VERSION_NOT_RELEASED', `version ${v.version} of ${model} is ${v.status}${why}; only released versions run (${next})`);
    }
    return v;
  }
  let before: number | undefined;
  for (;;) {
    const page = await ctx.client.get<VersionPage>(`/api/v1/models/${encodeURIComponent(model)}/versions`, { limit: 100, before });
    const released = page.items.find((v) => v.status === 'released');
    if (released) return released;
    if (!page.next || page.items.length === 0) throw new CliError('VERSION_NOT_RELEASED', `model ${model} has no released version yet (mll versions ${model} lists them)`);
    before = page.items.at(-1)!.version;
  }
}

/** The image reference a Docker engine can pull for the version, or why there is none. */
export function runnableImage(v: Version): string {
  const image = v.image;
  if (!image?.digest) throw new CliError('IMAGE_NOT_PUSHED', `version ${v.version} of ${v.model} has no pushed image`);
  if (image.modelOnly) {
    const why = v.warnings.find((w) => w.code.startsWith('RUNTIME_'))?.message ?? 'no runtime image was configured for its framework';
    throw new CliError('MODEL_ONLY_IMAGE',
      `version ${v.version} of ${v.model} is a model-only image with no runtime to serve it (${why}); configure the runtime on the server ` +
      `(MLL_RUNTIMES, e.g. python=<registry>/mll/runtime-python:3.11) and upload the model again`);
  }
  if (image.reference.startsWith('oci:')) {
    throw new CliError('IMAGE_NOT_PULLABLE',
      `version ${v.version} of ${v.model} was written to an OCI image layout on the server (${image.reference}), which a Docker engine cannot pull; ` +
      `run the server with MLL_TARGET=registry, or copy it into your engine (skopeo copy ${image.reference} docker-daemon:${image.repository}:${image.tag}) and run it with docker run`);
  }
  const repository = image.reference.replace(/:[^:/]+$/, '');
  return `${repository}@${image.digest}`;
}

export interface Engine {
  docker: Docker;
  /** Where the engine is, for messages. */
  where: string;
  /** The host published ports are reached on. */
  host: string;
}

/** The Docker engine at DOCKER_HOST (the default socket otherwise), checked to answer. */
export async function connectEngine(env: Record<string, string | undefined>): Promise<Engine> {
  const dockerHost = env.DOCKER_HOST || undefined;
  const where = dockerHost ?? 'unix:///var/run/docker.sock';
  let host = '127.0.0.1';
  if (dockerHost?.startsWith('tcp://')) host = new URL(dockerHost.replace(/^tcp:/, 'http:')).hostname;
  const docker = createDocker(dockerHost);
  try {
    await docker.ping();
  } catch (err) {
    const code = (err as { code?: string }).code ?? (err as Error).message;
    throw new CliError('DOCKER_UNAVAILABLE', `no Docker engine answers at ${where} (${code}); start Docker, or set DOCKER_HOST to one`, { exitCode: ExitCode.UNAVAILABLE, cause: err });
  }
  return { docker, where, host };
}

export interface RunningContainer {
  id: string;
  grpc: string | null;
  http: string | null;
}

/** The published addresses of a container's gRPC (APP_PORT) and HTTP (HTTP_PORT) ports. */
export function addresses(engine: Engine, ports: { PrivatePort: number; PublicPort?: number; Type: string }[], env: RuntimePorts): Omit<RunningContainer, 'id'> {
  const published = (port: number | null) => {
    const p = port === null ? undefined : ports.find((x) => x.PrivatePort === port && x.Type === 'tcp' && x.PublicPort);
    return p ? `${engine.host}:${p.PublicPort}` : null;
  };
  const http = published(env.http);
  return { grpc: published(env.grpc), http: http ? `http://${http}` : null };
}

export interface RuntimePorts {
  grpc: number | null;
  http: number | null;
}

/** The ports the image's runtime listens on, from its environment (APP_PORT, HTTP_PORT). */
export function runtimePorts(imageEnv: string[] | undefined): RuntimePorts {
  const value = (name: string) => {
    const entry = (imageEnv ?? []).find((e) => e.startsWith(`${name}=`));
    const n = entry ? Number(entry.slice(name.length + 1)) : NaN;
    return Number.isInteger(n) && n > 0 ? n : null;
  };
  return { grpc: value('APP_PORT'), http: value('HTTP_PORT') };
}

/** The running container `mll run` started for this version, if any. */
export async function findRunning(engine: Engine, model: string, version: number): Promise<RunningContainer | null> {
  const list = await engine.docker.listContainers({
    filters: { label: [`${runLabels.model}=${model}`, `${runLabels.version}=${version}`], status: ['running'] },
  });
  const found = list[0];
  if (!found) return null;
  const image = await engine.docker.getImage(found.ImageID).inspect();
  return { id: found.Id, ...addresses(engine, found.Ports, runtimePorts(image.Config?.Env)) };
}
