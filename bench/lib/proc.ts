import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';

/** Peak resident set (VmHWM) of a process, in MiB. */
export function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** A memory figure of a running process from /proc/<pid>/status, in KiB (0 when it is gone). */
export function statusKiB(pid: number | undefined, field: 'VmRSS' | 'VmHWM'): number {
  if (!pid) return 0;
  try {
    return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** User + system CPU seconds a process has used so far (/proc/<pid>/stat, clock ticks of 1/100 s; 0 when it is gone). */
export function cpuSeconds(pid: number | undefined): number {
  const { user, system } = cpuSplit(pid);
  return user + system;
}

/** User and system (kernel: system calls, page faults) CPU seconds of a process so far; 0 when it is gone. */
export function cpuSplit(pid: number | undefined): { user: number; system: number } {
  if (!pid) return { user: 0, system: 0 };
  try {
    return statTimes(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return { user: 0, system: 0 };
  }
}

/** utime and stime of a /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat line, in seconds (clock ticks of 1/100 s). */
function statTimes(stat: string): { user: number; system: number } {
  // Fields after the command name, which may hold spaces and parentheses itself.
  const fields = stat.replace(/^.*\) /s, '').split(' ');
  return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface ServiceProcess {
  child: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts ML Lambda as a child process, as production runs it (the compiled dist/, which
 * `npm run build` makes; the TypeScript sources through tsx if there is none), and waits for it.
 * A workers-only process is waited for on its probes listener (MLL_WORKERS_PORT, set here).
 * Starting from TypeScript on a loaded machine can take well over 30 s, hence the long wait.
 */
export async function startService(entry: 'all' | 'api' | 'workers', env: Record<string, string>, startWaitMs = 180_000): Promise<ServiceProcess> {
  const port = env.MLL_PORT ?? String(await freePort());
  const compiled = `dist/src/bin/${entry}.js`;
  const args = existsSync(compiled) ? [compiled] : ['--import', 'tsx', `src/bin/${entry}.ts`];
  const child = spawn(process.execPath, args, {
    env: { ...process.env, MLL_LOG_LEVEL: 'warn', ...env, MLL_PORT: port, ...(entry === 'workers' ? { MLL_WORKERS_PORT: port } : {}) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + startWaitMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the service exited with ${child.exitCode}`);
    const ok = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new Error(`the service did not start within ${startWaitMs / 1000} s`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child, url,
    stop: () => stopChild(child),
  };
}

/** SIGTERM, then SIGKILL if the process is still there after `graceMs`; resolves once it exited. */
export async function stopChild(child: ChildProcess | undefined, graceMs = 15_000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/**
 * User + system CPU seconds of each thread of a process, summed by what the thread is: 'main'
 * (the thread whose id is the pid), threads by their name (/proc/<pid>/task/<tid>/comm, e.g.
 * 'mll-workers'), and 'node' for the rest Node.js names alike (GC helpers, the libuv pool, V8's
 * compiler threads). Empty when the process is gone. Threads that ended are no longer counted,
 * so take differences of groups whose threads live as long as the process.
 */
export function threadCpuSeconds(pid: number | undefined): Map<string, number> {
  const groups = new Map<string, number>();
  if (!pid) return groups;
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return groups;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = Number(tid) === pid ? 'main' : /\((.*)\)/s.exec(stat)![1]!;
      const { user, system } = statTimes(stat);
      groups.set(name, (groups.get(name) ?? 0) + user + system);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return groups;
}
