import { createRequire } from 'node:module';
import type Docker from 'dockerode';
import { MllError, isMllError, type ErrorCode } from '../../errors.js';

// dockerode (and its dependency tree) is loaded only by processes that talk to an engine: the
// default daemonless deployment never pays for it in start-up time or memory.
const requireDockerode = () => createRequire(import.meta.url)('dockerode') as typeof Docker;

/** A Dockerode client for DOCKER_HOST (`unix:///path/docker.sock` or `tcp://host:port`); the default socket otherwise. */
export function createDocker(dockerHost?: string): Docker {
  const Docker = requireDockerode();
  if (!dockerHost) return new Docker();
  if (dockerHost.startsWith('unix://')) return new Docker({ socketPath: dockerHost.slice('unix://'.length) });
  const url = new URL(dockerHost.replace(/^tcp:/, 'http:'));
  return new Docker({ host: url.hostname, port: Number(url.port || 2375), protocol: url.protocol === 'https:' ? 'https' : 'http' });
}

export interface ProgressEvent {
  stream?: string;
  status?: string;
  id?: string;
  error?: string;
  errorDetail?: { message?: string };
  progressDetail?: { current?: number; total?: number };
  aux?: unknown;
}

const unreachable = /connection refused|no such host|i\/o timeout|EOF|connection reset|TLS handshake timeout|server misbehaving|503|502|504|500 Internal/i;
const unauthorized = /unauthorized|authentication required|no basic auth credentials|denied|401|403/i;

/** Classifies a message from the engine (a failed push or pull step) for the user. */
export function classifyEngineMessage(message: string, phase: 'build' | 'push'): ErrorCode {
  if (unauthorized.test(message)) return 'REGISTRY_AUTH_FAILED';
  if (unreachable.test(message)) return 'REGISTRY_UNAVAILABLE';
  return phase === 'push' ? 'REGISTRY_REJECTED' : 'INTERNAL';
}

/** An error from the engine API itself (socket, HTTP status) as the error users see. */
export function dockerError(err: unknown, action: string): MllError {
  if (isMllError(err)) return err;
  const e = err as { code?: string; statusCode?: number; message?: string; json?: { message?: string } };
  const text = e.json?.message ?? e.message ?? String(err);
  if (e.code && ['ECONNREFUSED', 'ENOENT', 'EACCES', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT'].includes(e.code)) {
    return new MllError('BUILDER_UNAVAILABLE', `${action}: the Docker engine cannot be reached (${e.code})`, { cause: err });
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 500) {
    const code = classifyEngineMessage(text, 'build');
    return new MllError(code === 'INTERNAL' ? 'BUILDER_UNAVAILABLE' : code, `${action}: the Docker engine answered ${e.statusCode} (${text})`, { cause: err });
  }
  return new MllError('INTERNAL', `${action}: the Docker engine refused it (${text})`, { cause: err });
}

/** Follows a build or push progress stream to its end; an `error` event fails it with a classified error. */
export function followProgress(
  docker: Docker, stream: NodeJS.ReadableStream, onEvent: (event: ProgressEvent) => void, action: string, phase: 'build' | 'push',
): Promise<void> {
  return new Promise((resolve, reject) => {
    let failed: MllError | undefined;
    docker.modem.followProgress(stream, (err) => {
      if (failed) return reject(failed);
      if (err) return reject(dockerError(err, action));
      resolve();
    }, (event: ProgressEvent) => {
      if (event.error || event.errorDetail) {
        const message = event.errorDetail?.message ?? event.error ?? 'unknown error';
        failed ??= new MllError(classifyEngineMessage(message, phase), `${action}: ${message}`);
        return;
      }
      onEvent(event);
    });
  });
}
