import { randomBytes } from 'node:crypto';
import net from 'node:net';
import type { Command } from 'commander';
import type Docker from 'dockerode';
import type { Version } from '../api-types.js';
import { commandContext, type CommandContext } from '../context.js';
import { CliError, ExitCode, usageError } from '../errors.js';
import { collect, positiveInt, positiveSeconds } from '../options.js';
import { writeJson } from '../output.js';
import { DEFAULT_SERVER, type CliIO, type CommandRegistrar } from '../program.js';
import { exampleOptions, exampleRequest } from './infer-request.js';
import {
  addresses, connectEngine, findRunning, releasedVersion, runLabels, runnableImage, runtimePorts,
  type Engine, type RunningContainer, type RuntimePorts,
} from './local-runtime.js';

/**
 * `mll run <model> [version]`: pulls a released version's image into the Docker engine (DOCKER_HOST),
 * starts it with its gRPC and HTTP ports published on free local ports, waits until it is ready,
 * prints how to call it, then shows its log until Ctrl-C stops and removes it (or leaves it running
 * with --detach). --json: one object with the addresses, once it is ready.
 */

interface RunOptions {
  detach?: boolean;
  grpcPort?: number;
  httpPort?: number;
  env?: string[];
  timeout?: number;
}

interface Started extends RunningContainer {
  image: string;
  alreadyRunning: boolean;
}

async function ensureImage(ctx: CommandContext, engine: Engine, ref: string): Promise<Docker.ImageInspectInfo> {
  try {
    return await engine.docker.getImage(ref).inspect();
  } catch {
    /* not here yet: pull it */
  }
  ctx.note(`pulling ${ref}`);
  try {
    const stream = await engine.docker.pull(ref);
    await new Promise<void>((resolve, reject) => engine.docker.modem.followProgress(stream, (err) => (err ? reject(err) : resolve()), (e: { error?: string }) => {
      if (e.error) reject(new Error(e.error));
    }));
  } catch (err) {
    const message = (err as { json?: { message?: string } }).json?.message ?? (err as Error).message;
    const auth = /unauthorized|authentication|denied/i.test(message) ? ' (if the registry needs a login, pull it yourself with docker login and docker pull, then run mll run again)' : '';
    throw new CliError('PULL_FAILED', `the Docker engine at ${engine.where} could not pull ${ref}: ${message}${auth}`, { cause: err });
  }
  return engine.docker.getImage(ref).inspect();
}

/** Lines of a container log buffer (stdout and stderr frames, as the engine multiplexes them without a TTY). */
function logLines(buf: Buffer): string {
  let out = '';
  for (let i = 0; i + 8 <= buf.length;) {
    const size = buf.readUInt32BE(i + 4);
    out += buf.subarray(i + 8, i + 8 + size).toString('utf8');
    i += 8 + size;
  }
  return out;
}

async function tailOf(container: Docker.Container): Promise<string> {
  try {
    return logLines(await container.logs({ stdout: true, stderr: true, tail: 40 }) as unknown as Buffer).trimEnd();
  } catch {
    return '(no log)';
  }
}

async function answers(url: string): Promise<boolean> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 2000);
  try {
    return (await fetch(url, { signal: abort.signal })).status === 200;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

function connects(address: string): Promise<boolean> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 2000 }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
    socket.on('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** Ready: GET /v2/health/ready answers 200 (or, for a runtime without an HTTP face, its gRPC port accepts). */
async function waitReady(container: Docker.Container, running: RunningContainer, timeoutSeconds: number): Promise<void> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  for (;;) {
    const ready = running.http ? await answers(`${running.http}/v2/health/ready`) : running.grpc ? await connects(running.grpc) : false;
    if (ready) return;
    const state = (await container.inspect()).State;
    if (!state.Running) {
      throw new CliError('RUNTIME_EXITED', `the runtime exited (code ${state.ExitCode}) before it was ready; its log:\n${await tailOf(container)}`);
    }
    if (Date.now() > deadline) {
      throw new CliError('TIMEOUT', `the runtime was not ready after ${timeoutSeconds} s (--timeout); its log:\n${await tailOf(container)}`, { exitCode: ExitCode.TIMEOUT });
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function published(inspect: Docker.ContainerInspectInfo) {
  return Object.entries(inspect.NetworkSettings.Ports ?? {}).flatMap(([key, bindings]) => {
    const [port, type] = key.split('/');
    return (bindings ?? []).slice(0, 1).map((b) => ({ PrivatePort: Number(port), PublicPort: Number(b.HostPort), Type: type ?? 'tcp' }));
  });
}

async function start(ctx: CommandContext, engine: Engine, v: Version, ref: string, opts: RunOptions): Promise<{ started: Started; container: Docker.Container | null }> {
  const existing = await findRunning(engine, v.model, v.version);
  if (existing) return { started: { ...existing, image: ref, alreadyRunning: true }, container: null };
  const image = await ensureImage(ctx, engine, ref);
  const ports: RuntimePorts = runtimePorts(image.Config?.Env);
  if (ports.grpc === null && ports.http === null) {
    throw new CliError('NO_RUNTIME', `${ref} declares neither APP_PORT nor HTTP_PORT: it is not built on an ML Lambda runtime, so mll run cannot serve it`);
  }
  const hostIp = engine.host === '127.0.0.1' ? '127.0.0.1' : '';
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  const exposed: Record<string, object> = {};
  for (const [port, wanted] of [[ports.grpc, opts.grpcPort], [ports.http, opts.httpPort]] as const) {
    if (port === null) continue;
    bindings[`${port}/tcp`] = [{ HostIp: hostIp, HostPort: wanted ? String(wanted) : '' }];
    exposed[`${port}/tcp`] = {};
  }
  for (const e of opts.env ?? []) if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(e)) throw usageError(`--env ${e}: write it as NAME=value`);
  ctx.note(`starting ${v.model}:${v.version}`);
  const container = await engine.docker.createContainer({
    Image: ref,
    name: `mll-${v.model}-${v.version}-${randomBytes(3).toString('hex')}`,
    Labels: { [runLabels.model]: v.model, [runLabels.version]: String(v.version) },
    Env: opts.env ?? [],
    ExposedPorts: exposed,
    HostConfig: { PortBindings: bindings },
  });
  try {
    await container.start();
    const running = { id: container.id, ...addresses(engine, published(await container.inspect()), ports) };
    await waitReady(container, running, opts.timeout ?? 60);
    return { started: { ...running, image: ref, alreadyRunning: false }, container };
  } catch (err) {
    await container.remove({ force: true }).catch(() => undefined);
    throw err;
  }
}

function howToCall(ctx: CommandContext, v: Version, s: Started, detach: boolean): string {
  const signatures = v.contract?.signatures ?? [];
  const sig = signatures[0];
  const server = ctx.client.server === DEFAULT_SERVER ? '' : ` --server ${ctx.client.server}`;
  const lines = [`${v.model}:${v.version} is ${s.alreadyRunning ? 'already running' : 'running'} (container ${s.id.slice(0, 12)}, image ${s.image})`];
  if (s.grpc) lines.push(`  gRPC  ${s.grpc}  tensorflow.serving.PredictionService/Predict, signature_name: ${signatures.map((x) => x.name).join(' | ')}`);
  if (s.http) lines.push(`  HTTP  ${s.http}/v2/models/<signature>  (Open Inference Protocol v2: GET for metadata, POST .../infer)`);
  if (s.http && sig) {
    const body = JSON.stringify(exampleRequest(sig));
    const pick = signatures.length > 1 ? ` --signature ${sig.name}` : '';
    lines.push('', `  curl -sS ${s.http}/v2/models/${sig.name}/infer -H 'content-type: application/json' \\`, `    -d '${body}'`);
    lines.push(`  mll${server} predict ${v.model} ${v.version}${pick} ${exampleOptions(sig)}`);
  }
  lines.push('', s.alreadyRunning || detach ? `It keeps running; stop it with: docker rm -f ${s.id.slice(0, 12)}` : 'Ctrl-C stops it.');
  return `${lines.join('\n')}\n`;
}

/** Shows the container's log on stderr until Ctrl-C (then stops and removes it) or until it exits by itself. */
async function stayAttached(ctx: CommandContext, engine: Engine, container: Docker.Container): Promise<void> {
  const log = ctx.json ? null : await container.logs({ follow: true, stdout: true, stderr: true, since: 0 });
  if (log) engine.docker.modem.demuxStream(log, ctx.io.stderr, ctx.io.stderr);
  let stopping = false;
  let stop = () => {};
  const stopped = new Promise<void>((resolve) => {
    stop = () => {
      if (stopping) return;
      stopping = true;
      ctx.note('stopping…');
      container.stop({ t: 10 }).catch(() => undefined).finally(resolve);
    };
  });
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    const exited = container.wait() as Promise<{ StatusCode: number }>;
    await Promise.race([stopped, exited]);
    const code = (await exited).StatusCode;
    const tail = stopping ? '' : await tailOf(container);
    await container.remove({ force: true }).catch(() => undefined);
    if (!stopping) throw new CliError('RUNTIME_EXITED', `the runtime exited by itself (code ${code}); its log:\n${tail}`);
    ctx.note(`stopped and removed container ${container.id.slice(0, 12)}`);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    (log as unknown as { destroy?: () => void } | null)?.destroy?.();
  }
}

async function run(ctx: CommandContext, model: string, rawVersion: string | undefined, opts: RunOptions): Promise<void> {
  const v = await releasedVersion(ctx, model, rawVersion);
  const ref = runnableImage(v);
  const engine = await connectEngine(ctx.io.env);
  const { started, container } = await start(ctx, engine, v, ref, opts);
  const detach = opts.detach === true || container === null;
  if (ctx.json) {
    writeJson(ctx.io.stdout, {
      model: v.model, version: v.version, image: started.image, container: started.id, grpc: started.grpc, http: started.http,
      signatures: (v.contract?.signatures ?? []).map((s) => s.name), alreadyRunning: started.alreadyRunning, detached: detach,
    });
  } else {
    ctx.io.stdout.write(howToCall(ctx, v, started, detach));
  }
  if (!detach && container) await stayAttached(ctx, engine, container);
}

export const registerRunCommand: CommandRegistrar = (program: Command, io: CliIO) => {
  program
    .command('run')
    .description('run a released version locally in Docker (DOCKER_HOST) and print how to call it; Ctrl-C stops it')
    .argument('<model>', 'model name')
    .argument('[version]', 'version number (default: the newest released one)')
    .option('-d, --detach', 'leave it running in the background and return once it is ready', false)
    .option('--grpc-port <port>', 'publish the gRPC face on this local port (default: a free one)', positiveInt)
    .option('--http-port <port>', 'publish the HTTP face on this local port (default: a free one)', positiveInt)
    .option('-e, --env <NAME=value>', 'an environment variable for the runtime (repeatable), e.g. LOG_LEVEL=DEBUG', collect, [])
    .option('--timeout <seconds>', 'how long to wait for it to be ready (default 60)', positiveSeconds)
    .addHelpText('after', [
      '',
      'Examples:',
      '  $ mll run tokenizer                  the newest released version, until Ctrl-C',
      '  $ mll run tokenizer 3 --detach       in the background; then: mll predict tokenizer 3 --input text=hi',
      '  $ mll --json run tokenizer --detach | jq -r .http',
    ].join('\n'))
    .action(async (model: string, version: string | undefined, opts: RunOptions, cmd: Command) => {
      await run(commandContext(cmd, io), model, version, opts);
    });
};
