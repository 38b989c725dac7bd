import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { PythonTarget } from './python-target.js';
import { SANDBOX_PROGRAM, sandboxArgs } from './sandbox.js';

/** The operator's package indexes (MLL_PIP_*). URLs may carry credentials: never log this value. */
export interface PipIndexConfig {
  indexUrl?: string;
  extraIndexUrls: string[];
  trustedHosts: string[];
}

export const DEFAULT_INDEX_URL = 'https://pypi.org/simple';

/** Every index URL pip may use, the main one first. */
export function indexUrls(index: PipIndexConfig): string[] {
  return [index.indexUrl ?? DEFAULT_INDEX_URL, ...index.extraIndexUrls];
}

/** The index configuration with credentials removed: part of the cache key and safe to show. */
export function publicIndexConfig(index: PipIndexConfig): { indexUrls: string[]; trustedHosts: string[] } {
  const strip = (u: string) => {
    try {
      const url = new URL(u);
      url.username = '';
      url.password = '';
      return url.toString();
    } catch {
      return u.replace(/\/\/[^/@]*@/, '//');
    }
  };
  return { indexUrls: indexUrls(index).map(strip), trustedHosts: [...index.trustedHosts] };
}

/**
 * The flags of a pip install that runs no package code: wheels only (`--only-binary=:all:`) for the
 * runtime's interpreter and platform, resolved with dependencies, no bytecode, no cache, no
 * version check, no prompts. With sources allowed, pip must build for the interpreter it runs on,
 * so the target flags are left out (pip refuses them together with source builds).
 */
export function pipInstallArgs(opts: {
  target: string; requirementFile: string; report?: string; python: PythonTarget; allowSdist: boolean;
}): string[] {
  const args = [
    'install', '--target', opts.target, '--requirement', opts.requirementFile,
    '--no-compile', '--no-cache-dir', '--disable-pip-version-check', '--no-input', '--no-warn-script-location',
    '--root-user-action=ignore', '--progress-bar', 'off',
    // The conflict check reads the environment pip itself runs in (the worker's), which is not the target.
    '--no-warn-conflicts',
  ];
  if (opts.report) args.push('--report', opts.report);
  if (!opts.allowSdist) {
    args.push('--only-binary=:all:', '--python-version', opts.python.version, '--implementation', opts.python.implementation);
    for (const abi of opts.python.abis) args.push('--abi', abi);
    for (const tag of opts.python.platformTags) args.push('--platform', tag);
  }
  return args;
}

/**
 * pip's environment, built from nothing: no variable of the worker's (credentials, proxies, PIP_*,
 * PYTHON*) reaches it. The index goes in PIP_* variables rather than the command line, so it does
 * not show in the process list; requirement files may not expand variables (they are refused).
 */
export function pipEnv(index: PipIndexConfig, dirs: { home: string; tmp: string }, searchPath: string): Record<string, string> {
  const env: Record<string, string> = {
    PATH: searchPath,
    HOME: dirs.home,
    TMPDIR: dirs.tmp,
    LANG: 'C.UTF-8',
    PIP_CONFIG_FILE: '/dev/null',
    PYTHONDONTWRITEBYTECODE: '1',
    SOURCE_DATE_EPOCH: '315532800',
  };
  if (index.indexUrl) env.PIP_INDEX_URL = index.indexUrl;
  if (index.extraIndexUrls.length > 0) env.PIP_EXTRA_INDEX_URL = index.extraIndexUrls.join(' ');
  if (index.trustedHosts.length > 0) env.PIP_TRUSTED_HOST = index.trustedHosts.join(' ');
  return env;
}

export interface PipRunOptions {
  python: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  timeoutMs: number;
  /** pip is killed when this directory grows past maxScratchBytes (checked every second). */
  watchDir: string;
  maxScratchBytes: number;
  signal: AbortSignal;
  /** Each line pip prints on stdout (progress), as it comes. */
  onLine(line: string): void;
  /** Run inside the bubblewrap sandbox, with only these directories writable (source builds). */
  sandbox?: { writable: string[]; readable: string[] };
}

export interface PipOutcome {
  exitCode: number | null;
  /** How the run ended when pip did not end it itself. */
  stopped?: 'timeout' | 'too-large' | 'aborted';
  /** The spawn failed (the interpreter, or the sandbox program, does not exist). */
  spawnError?: NodeJS.ErrnoException;
  /** pip ran (or was to run) inside the sandbox. */
  sandboxed?: boolean;
  /** The last lines of stdout and stderr, in order of arrival. */
  tail: string[];
}

const TAIL_LINES = 200;

/** Bytes of every regular file under a directory (missing entries, mid-move, count as nothing). */
export async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await directoryBytes(p);
    else if (e.isFile()) total += await fs.lstat(p).then((s) => s.size, () => 0);
  }
  return total;
}

/**
 * Runs pip in a process group of its own, streaming its lines; kills the whole group on timeout,
 * on abort, or when the scratch directory outgrows its bound, and reports which.
 */
export function runPip(opts: PipRunOptions): Promise<PipOutcome> {
  return new Promise((resolve) => {
    const tail: string[] = [];
    const keep = (line: string) => {
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
    };
    let stopped: PipOutcome['stopped'];
    let settled = false;
    const pip = [opts.python, '-I', '-m', 'pip', ...opts.args];
    const [program, ...args] = opts.sandbox
      ? [SANDBOX_PROGRAM, ...sandboxArgs({ ...opts.sandbox, cwd: opts.cwd, command: pip })]
      : pip;
    const child = spawn(program!, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const kill = (why: NonNullable<PipOutcome['stopped']>) => {
      stopped ??= why;
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const timer = setTimeout(() => kill('timeout'), opts.timeoutMs);
    let measuring = false;
    const watch = setInterval(() => {
      if (measuring) return;
      measuring = true;
      directoryBytes(opts.watchDir).then((bytes) => {
        if (bytes > opts.maxScratchBytes) kill('too-large');
      }).finally(() => { measuring = false; });
    }, 1000);
    const onAbort = () => kill('aborted');
    opts.signal.addEventListener('abort', onAbort, { once: true });
    if (opts.signal.aborted) kill('aborted');

    const finish = (outcome: Omit<PipOutcome, 'tail' | 'stopped' | 'sandboxed'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearInterval(watch);
      opts.signal.removeEventListener('abort', onAbort);
      resolve({ ...outcome, stopped, tail, sandboxed: opts.sandbox !== undefined });
    };
    const streams = [child.stdout, child.stderr].map((stream, i) => new Promise<void>((done) => {
      const rl = createInterface({ input: stream });
      rl.on('line', (line) => {
        keep(line);
        if (i === 0) opts.onLine(line);
      });
      rl.on('close', done);
    }));
    child.on('error', (err: NodeJS.ErrnoException) => finish({ exitCode: null, spawnError: err }));
    child.on('close', (code) => {
      void Promise.all(streams).then(() => finish({ exitCode: code }));
    });
  });
}
