import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../support/paths.js';

/** Runs `mll` as a child process, the way a user or a script does: no TTY, pipes only. */

export interface MllResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const main = path.join(repoRoot, 'src', 'cli', 'main.ts');

export function mll(args: string[], options: { server?: string; env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {}): Promise<MllResult> {
  const env: Record<string, string | undefined> = { ...process.env };
  delete env.MLL_TOKEN;
  delete env.FORCE_COLOR;
  Object.assign(env, options.env);
  if (options.server !== undefined) env.MLL_SERVER = options.server;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', main, ...args], { cwd: options.cwd ?? repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`mll ${args.join(' ')} did not finish in time\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Parses stdout as JSON, failing with everything the command printed when it is not. */
export function json<T = Record<string, unknown>>(r: MllResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`stdout is not JSON (exit ${r.code})\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }
}

export const show = (r: MllResult) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

export async function tempDir(label: string): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `mll-cli-${label}-`));
  return { dir, remove: () => fs.rm(dir, { recursive: true, force: true }) };
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
