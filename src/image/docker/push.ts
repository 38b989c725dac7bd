import type Docker from 'dockerode';
import { MllError } from '../../errors.js';
import type { Credentials } from '../registry/client.js';
import type { DockerBuiltImage, StageContext } from '../types.js';
import { dockerError, followProgress } from './engine.js';

/** Tags an engine-built image as registry/repository:tag, pushes it through the engine, and reads the digest the registry reported. */
export async function pushWithDocker(
  docker: Docker,
  image: DockerBuiltImage,
  target: { registry: string; repository: string; tag: string; credentials?: Credentials },
  ctx: StageContext,
): Promise<string> {
  const repo = `${target.registry}/${target.repository}`;
  try {
    await docker.getImage(image.imageId).tag({ repo, tag: target.tag });
  } catch (err) {
    throw dockerError(err, `Tagging image ${image.imageId} as ${repo}:${target.tag}`);
  }
  const authconfig = target.credentials
    ? { username: target.credentials.username, password: target.credentials.password, serveraddress: target.registry }
    : undefined;
  let stream: NodeJS.ReadableStream;
  try {
    stream = await docker.getImage(repo).push({ tag: target.tag, authconfig, abortSignal: ctx.signal });
  } catch (err) {
    throw dockerError(err, `Pushing ${repo}:${target.tag}`);
  }
  let digest: string | undefined;
  await followProgress(docker, stream, (event) => {
    const aux = event.aux as { Digest?: string } | undefined;
    if (aux?.Digest) digest = aux.Digest;
    const m = typeof event.status === 'string' ? /digest: (sha256:[a-f0-9]{64})/.exec(event.status) : null;
    if (m) digest ??= m[1];
    if (typeof event.status === 'string' && !event.progressDetail?.current) ctx.log(`${event.id ? `${event.id}: ` : ''}${event.status}`);
  }, `Pushing ${repo}:${target.tag}`, 'push');
  if (!digest) throw new MllError('REGISTRY_UNAVAILABLE', `The Docker engine pushed ${repo}:${target.tag} but reported no digest`);
  return digest;
}
