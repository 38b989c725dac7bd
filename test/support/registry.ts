import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * A private registry (Debian's docker-registry, i.e. distribution) for tests that must stop and
 * start it, or need an auth setup of their own, without touching the shared ones. It runs on a free
 * loopback port with a temp storage root, and is stopped by its pid.
 */
export interface PrivateRegistry {
  /** 127.0.0.1:<port> */
  host: string;
  port: number;
  root: string;
  start(): Promise<void>;
  /** SIGKILL by default: a crash, as far as clients can tell. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Stops it and removes its storage. */
  dispose(): Promise<void>;
}

export interface RegistryOptions {
  /** Extra YAML appended under the top level (e.g. an `auth:` section). */
  extraConfig?: string;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export async function startPrivateRegistry(options: RegistryOptions = {}): Promise<PrivateRegistry> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'mll-registry-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const configFile = path.join(root, 'config.yml');
  await fs.writeFile(configFile, [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${path.join(root, 'data')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: ${host}`,
    // a fixed secret keeps upload sessions valid across restarts
    '  secret: mll-test-registry-secret',
    options.extraConfig ?? '',
  ].join('\n'));
  let child: ChildProcess | undefined;

  const up = async () => {
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (child?.exitCode !== null && child?.exitCode !== undefined) throw new Error(`docker-registry exited with ${child.exitCode}`);
      const ok = await fetch(`http://${host}/v2/`).then((r) => r.status === 200 || r.status === 401, () => false);
      if (ok) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`docker-registry did not answer on ${host}`);
  };

  const registry: PrivateRegistry = {
    host, port, root,
    async start() {
      if (child && child.exitCode === null && child.signalCode === null) return;
      child = spawn('docker-registry', ['serve', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr?.resume();
      await up();
    },
    async stop(signal: NodeJS.Signals = 'SIGKILL') {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
      c.kill(signal);
      await exited;
    },
    async dispose() {
      await registry.stop();
      await fs.rm(root, { recursive: true, force: true });
    },
  };
  await registry.start();
  return registry;
}
