import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { deploymentKeyPatterns, redisKeys } from '../../src/catalog/redis-keys.js';
import { dockerSampleTable, measureDockerSample } from './docker-sample.js';
import { writePythonModels } from './models.js';
import { summarizeProfiles } from './profile.js';
import { buildProject } from '../lib/build.js';
import { cpuSeconds, cpuSplit, freePort, statusKiB, stopChild, threadCpuSeconds } from '../lib/proc.js';

/**
 * The batch benchmark (issue 6):
 *   node --import tsx bench/batch/run.ts [--models 1000] [--concurrency 8] [--split] [--cpu-prof] [--keep] [--rss-every S] [--tsx] [--skip-build] [--node-flags "<flags>"] [--warmup W]
 * Writes N small Python models (serving.yaml + src/func_main.py, ~10 KB each) to a temporary
 * folder, starts ML Lambda as a child process on a free port with the embedded defaults (fs store,
 * oci builder, oci-layout target) under a unique Redis prefix, and runs `mll batch` against it.
 * While the batch runs, a sampler GETs versions that exist one request at a time. Prints accepted
 * uploads/s, released versions/s end to end, p50/p99 of those GETs and the peak RSS (VmHWM) of
 * the service and of the CLI. Cleans up: the processes it started (by pid), the temporary folder,
 * the Redis keys of its prefix.
 * --split runs the API (src/bin/api.ts) and the workers (src/bin/workers.ts) as two processes
 * instead of one (src/bin/all.ts); --cpu-prof profiles the service and prints where its time went.
 * The service and mll run compiled (`npm run build` first, then dist/, as `npm start` and the image
 * run them); --tsx runs the sources through tsx instead (its transpiling and source-mapped stack
 * traces then count in the service's CPU).
 * --cpu-every S prints, every S seconds, the versions released in that time and the CPU each part
 * used (the API's thread, the workers' thread, node's other threads, mll, redis-server) as a share
 * of one core; the summary splits the service's CPU per version the same way.
 * --warmup W first releases W other models through the same service and measures only the batch
 * after them: what a service that has run a while spends (V8 has optimized its hot code by then;
 * a fresh one compiles it during the first thousand versions, on its helper threads).
 * Targets: 1,000 released in under 90 s on a 2-core machine; p99 GET under 50 ms.
 * Then the docker baseline (docker-sample.ts): docker build + push of --docker-sample models (20),
 * extrapolated to N; --skip-docker-sample skips it.
 */

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Math.max(1, Number(process.argv[i + 1]) || dflt) : dflt;
};
const flag = (name: string) => process.argv.includes(`--${name}`);
const N = arg('models', 1000);
const warmup = process.argv.includes('--warmup') ? arg('warmup', 1000) : 0;
const concurrency = arg('concurrency', 8);
const cpuProf = flag('cpu-prof');
const keep = flag('keep');
const split = flag('split');
const viaTsx = flag('tsx');
/** --skip-build: run the dist/ already there (A/B runs of two worktrees built once each). */
const skipBuild = flag('skip-build');
/** A period in seconds given as --<name> S; 0 (off) when absent. */
const everyArg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Math.max(0, Number(process.argv[i + 1]) || 0) : 0;
};
/** --rss-every S: print the service's and mll's RSS every S seconds while the batch runs (0: only the summary). */
const rssEvery = everyArg('rss-every');
/** --cpu-every S: print the versions released and the CPU of each thread of the service, of mll and of Redis every S seconds. */
const cpuEvery = everyArg('cpu-every');
/** --node-flags "<flags>": extra node options for the service (e.g. "--trace-gc"; NODE_OPTIONS refuses some). */
const nodeFlags = (() => {
  const i = process.argv.indexOf('--node-flags');
  return i > 0 ? (process.argv[i + 1] ?? '').split(/\s+/).filter(Boolean) : [];
})();
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const vmRssKiB = (pid: number | undefined) => statusKiB(pid, 'VmRSS');
const vmHwmKiB = (pid: number | undefined) => statusKiB(pid, 'VmHWM');

/** The service's and mll's RSS (VmRSS) when 1,000, 2,000, … versions had been released (first sample after), and at the end. */
function rssByThousands(series: { versions: number; service: number; cli: number }[]): string {
  const out: string[] = [];
  let next = 1000;
  for (const r of series) {
    if (r.versions < next) continue;
    out.push(`${r.versions}: ${r.service.toFixed(0)} MB (mll ${r.cli.toFixed(0)} MB)`);
    next = (Math.floor(r.versions / 1000) + 1) * 1000;
  }
  const last = series.at(-1);
  if (last) out.push(`end: ${last.service.toFixed(0)} MB (mll ${last.cli.toFixed(0)} MB)`);
  return out.join('; ') || '(no sample)';
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function deletePrefix(prefix: string): Promise<number> {
  const redis = new Redis(redisUrl);
  let n = 0;
  try {
    for (const pattern of deploymentKeyPatterns(prefix)) {
      let cursor = '0';
      do {
        const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        if (found.length > 0) n += await redis.unlink(...found);
      } while (cursor !== '0');
    }
  } finally {
    redis.disconnect();
  }
  return n;
}

// Token auth is on by default: the service creates this admin token at start, the CLI and the
// sampler send it (so the figures include checking it on every request).
const token = `mll_${randomBytes(9).toString('base64url').replace(/[-_]/g, 'x').slice(0, 12)}_${randomBytes(32).toString('base64url')}`;
const auth = { authorization: `Bearer ${token}` };

const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'mll-bench-batch-'));
const prefix = `mllbench-${Date.now().toString(36)}`;
let service: ChildProcess | undefined;
let workers: ChildProcess | undefined;
let cli: ChildProcess | undefined;
const cleanup = async () => {
  await stopChild(cli, 2000);
  await stopChild(service);
  await stopChild(workers);
  const keys = await deletePrefix(prefix).catch(() => -1);
  if (!keep) await fs.rm(tmp, { recursive: true, force: true });
  return keys;
};
process.once('SIGINT', () => {
  void cleanup().finally(() => process.exit(130));
});

/** CPU seconds of the service's threads by kind (bench/lib/proc.ts); a separate workers process's are prefixed 'workers process'. */
const serviceThreadCpu = () => {
  const groups = threadCpuSeconds(service?.pid);
  for (const [name, used] of threadCpuSeconds(workers?.pid)) groups.set(`workers process ${name}`, used);
  return groups;
};

/** How to start one of the project's entry points: compiled (dist/, as `npm start` does) unless --tsx. */
const entryArgs = (entry: string) => (viaTsx ? ['--import', 'tsx', entry] : [path.join('dist', entry.replace(/\.ts$/, '.js'))]);

try {
  if (!viaTsx && !skipBuild) {
    const built = Date.now();
    await buildProject();
    console.error(`compiled the project (npm run build) in ${((Date.now() - built) / 1000).toFixed(1)} s`);
  }
  const modelsDir = path.join(tmp, 'models');
  const genStart = Date.now();
  const dirs = await writePythonModels(modelsDir, 'bench', N);
  const sizes = await Promise.all(dirs.slice(0, 20).map(async (d) => (await fs.stat(path.join(d, 'serving.yaml'))).size + (await fs.stat(path.join(d, 'src', 'func_main.py'))).size));
  console.error(`wrote ${N} models (~${Math.round(sizes.reduce((a, b) => a + b, 0) / sizes.length / 102.4) / 10} KiB each) in ${Date.now() - genStart} ms`);

  const port = await freePort();
  const server = `http://127.0.0.1:${port}`;
  const profDir = path.join(tmp, 'profiles');
  const log = createWriteStream(path.join(tmp, 'service.log'));
  const env = { ...process.env, MLL_PORT: String(port), MLL_HOST: '127.0.0.1', MLL_DATA_DIR: path.join(tmp, 'data'), MLL_PREFIX: prefix, MLL_LOG_LEVEL: 'warn', REDIS_URL: redisUrl, MLL_BOOTSTRAP_TOKEN: token };
  const startProcess = (entry: string) => {
    const child = spawn(process.execPath, [...nodeFlags, ...(cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []), ...entryArgs(entry)], { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    return child;
  };
  service = startProcess(split ? 'src/bin/api.ts' : 'src/bin/all.ts');
  if (split) workers = startProcess('src/bin/workers.ts');
  for (let i = 0; ; i++) {
    if (service.exitCode !== null) throw new Error(`the service exited (${service.exitCode}); see ${path.join(tmp, 'service.log')}`);
    const ok = await fetch(`${server}/readyz`, { headers: auth }).then((r) => r.ok, () => false);
    if (ok) break;
    if (i > 300) throw new Error('the service did not become ready in 60 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  if (warmup > 0) {
    const warmStart = Date.now();
    const warmDirs = await writePythonModels(path.join(tmp, 'warmup'), 'warmup', warmup);
    const warm = spawn(process.execPath, [...entryArgs('src/cli/main.ts'), '--json', '--server', server, 'batch', `${path.join(tmp, 'warmup')}/*`, '--concurrency', String(concurrency)], {
      cwd: repo, env: { ...process.env, MLL_SERVER: server, MLL_TOKEN: token }, stdio: ['ignore', 'ignore', 'inherit'],
    });
    cli = warm;
    const warmCode = await new Promise<number | null>((r) => warm.on('close', r));
    cli = undefined;
    if (warmCode !== 0) throw new Error(`the warm-up batch of ${warmDirs.length} models exited ${warmCode}`);
    console.error(`warm-up: ${warmDirs.length} models released in ${((Date.now() - warmStart) / 1000).toFixed(1)} s; measuring the next ${N}`);
  }
  const serviceBaseline = vmHwmKiB(service.pid);
  const cpuBefore = cpuSeconds(service.pid) + cpuSeconds(workers?.pid);
  const threadsBefore = serviceThreadCpu();
  const systemBefore = cpuSplit(service.pid).system + cpuSplit(workers?.pid).system;
  const loadBefore = os.loadavg()[0]!;

  // Sampler: one GET at a time of a version that exists. The batch creates the models in name
  // order, so the next name is probed (counted once it exists) and otherwise a random existing
  // one is read; no list calls that would load the service beyond the GETs measured.
  const samples: number[] = [];
  const sampledAt: number[] = [];
  const nameWidth = Math.max(4, String(N - 1).length);
  const nameOf = (i: number) => `bench-${String(i).padStart(nameWidth, '0')}`;
  let known = 0;
  let sampling = true;
  const get = async (name: string) => {
    const t = performance.now();
    const res = await fetch(`${server}/api/v1/models/${name}/versions/1`, { headers: auth }).catch(() => null);
    if (!res) return false;
    await res.arrayBuffer();
    if (res.status !== 200) return false;
    samples.push(performance.now() - t);
    sampledAt.push(Date.now());
    return true;
  };
  const sample = async () => {
    for (let tick = 0; sampling; tick++) {
      if (known < N && (known === 0 || tick % 2 === 0)) {
        if (await get(nameOf(known))) known++;
      } else await get(nameOf(Math.floor(Math.random() * known)));
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const samplers = sample();

  const start = Date.now();
  let cliPeak = 0;
  cli = spawn(process.execPath, [...entryArgs('src/cli/main.ts'), '--json', '--server', server, 'batch', `${modelsDir}/*`, '--concurrency', String(concurrency)], {
    cwd: repo, env: { ...process.env, MLL_SERVER: server, MLL_TOKEN: token }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let cliCpu = 0;
  const peakTimer = setInterval(() => {
    cliPeak = Math.max(cliPeak, vmHwmKiB(cli?.pid));
    cliCpu = Math.max(cliCpu, cpuSeconds(cli?.pid));
  }, 250);
  // RSS over time (VmRSS now, not the peak), printed as it is taken so a run cut short still
  // says how memory grew; also kept at every 1,000 versions the sampler has seen.
  const rssSeries: { at: number; versions: number; service: number; cli: number }[] = [];
  const counts = new Redis(redisUrl);
  const rssTimer = setInterval(() => {
    void counts.hget(redisKeys(prefix).statusCounts(), 'released').then((released) => {
      const row = { at: (Date.now() - start) / 1000, versions: Number(released ?? 0), service: vmRssKiB(service?.pid) / 1024, cli: vmRssKiB(cli?.pid) / 1024 };
      rssSeries.push(row);
      if (rssEvery > 0) console.error(`rss t=${row.at.toFixed(0)} s released=${row.versions}: service ${row.service.toFixed(0)} MB, mll ${row.cli.toFixed(0)} MB`);
    }, () => undefined);
  }, Math.max(1, rssEvery || 5) * 1000);
  const redisPid = await counts.info('server').then((info) => Number(/process_id:(\d+)/.exec(info)?.[1]) || undefined, () => undefined);
  let cpuLast = { at: Date.now(), released: 0, threads: serviceThreadCpu(), cli: 0, redis: cpuSeconds(redisPid) };
  const cpuTimer = cpuEvery > 0 ? setInterval(() => {
    void counts.hget(redisKeys(prefix).statusCounts(), 'released').then((n) => {
      const now = { at: Date.now(), released: Number(n ?? 0), threads: serviceThreadCpu(), cli: cpuSeconds(cli?.pid), redis: cpuSeconds(redisPid) };
      const seconds = (now.at - cpuLast.at) / 1000;
      const share = (used: number) => `${Math.round((100 * used) / seconds)}%`;
      const threads = [...now.threads].map(([name, used]) => `${name} ${share(used - (cpuLast.threads.get(name) ?? 0))}`).join(', ');
      console.error(`cpu t=${((now.at - start) / 1000).toFixed(0)} s released=${now.released} (+${((now.released - cpuLast.released) / seconds).toFixed(0)}/s): ${threads}; mll ${share(now.cli - cpuLast.cli)}, redis ${share(now.redis - cpuLast.redis)}`);
      cpuLast = now;
    }, () => undefined);
  }, cpuEvery * 1000) : undefined;
  let out = '';
  let err = '';
  cli.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  cli.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
  const code = await new Promise<number | null>((r) => cli!.on('close', r));
  const end = Date.now();
  clearInterval(peakTimer);
  clearInterval(rssTimer);
  clearInterval(cpuTimer);
  counts.disconnect();
  sampling = false;
  await samplers;
  const servicePeak = vmHwmKiB(service.pid);
  const serviceCpu = cpuSeconds(service.pid) + cpuSeconds(workers?.pid) - cpuBefore;
  const threadsAfter = serviceThreadCpu();
  const serviceSystem = cpuSplit(service.pid).system + cpuSplit(workers?.pid).system - systemBefore;
  const byThread = [...threadsAfter].map(([name, used]) => `${name} ${((1000 * (used - (threadsBefore.get(name) ?? 0))) / N).toFixed(1)}`).join(', ');
  const loadAfter = os.loadavg()[0]!;
  const workersPeak = vmHwmKiB(workers?.pid);

  interface Outcome { batches: { id: string }[]; counts: Record<string, number>; items: { status: string }[] }
  let outcome: Outcome;
  try {
    outcome = JSON.parse(out) as Outcome;
  } catch {
    throw new Error(`mll batch printed no JSON (exit ${code}):\n${err}\n${out.slice(0, 2000)}`);
  }
  // mll sends many models as several batches (at most maxPerBatch items each); all of them count.
  const items: { model: string; version: number | null }[] = [];
  for (const { id } of outcome.batches) {
    const view = await fetch(`${server}/api/v1/batches/${id}`, { headers: auth }).then((r) => r.json() as Promise<{ items: { model: string; version: number | null }[] }>);
    items.push(...view.items);
  }
  const records: { createdAt: string; updatedAt: string; status: string }[] = [];
  for (let i = 0; i < items.length; i += 200) {
    records.push(...await Promise.all(items.slice(i, i + 200).filter((it) => it.version !== null).map((it) => fetch(`${server}/api/v1/models/${it.model}/versions/${it.version}`, { headers: auth }).then((r) => r.json() as Promise<{ createdAt: string; updatedAt: string; status: string }>))));
  }
  const lastCreated = records.reduce((m, r) => Math.max(m, Date.parse(r.createdAt)), 0);
  const releasedAt = records.filter((r) => r.status === 'released').map((r) => Date.parse(r.updatedAt));
  const lastReleased = releasedAt.reduce((m, t) => Math.max(m, t), 0);
  const firstReleased = releasedAt.reduce((m, t) => Math.min(m, t), Infinity);

  const released = outcome.counts.released ?? 0;
  const acceptSeconds = (lastCreated - start) / 1000;
  const releaseSeconds = (lastReleased - start) / 1000;
  const wallSeconds = (end - start) / 1000;
  const sorted = [...samples].sort((a, b) => a - b);
  const p50 = percentile(sorted, 50);
  const p99 = percentile(sorted, 99);
  const phase = (inUpload: boolean) => {
    const xs = samples.filter((_, i) => (sampledAt[i]! <= lastCreated) === inUpload).sort((a, b) => a - b);
    return `p50 ${percentile(xs, 50).toFixed(1)} ms, p99 ${percentile(xs, 99).toFixed(1)} ms (${xs.length})`;
  };

  const rows: [string, string][] = [
    ['models', `${N} (~10 KiB each)${warmup > 0 ? ` after a warm-up batch of ${warmup}` : ''}, mll batch --concurrency ${concurrency}, exit ${code}; ${split ? 'API and workers in two processes' : 'src/bin/all.ts (API and workers in one process)'}, ${viaTsx ? 'sources through tsx' : 'compiled (dist/)'}`],
    ['released / failed', `${released} / ${(outcome.counts.failed ?? 0) + (outcome.counts.rejected ?? 0)}`],
    ['accepted uploads/s', `${(records.length / acceptSeconds).toFixed(1)} (all ${records.length} accepted after ${acceptSeconds.toFixed(1)} s)`],
    ['released versions/s', `${(released / releaseSeconds).toFixed(1)} (last released after ${releaseSeconds.toFixed(1)} s; first after ${((firstReleased - start) / 1000).toFixed(1)} s)`],
    ['mll batch wall time', `${wallSeconds.toFixed(1)} s (start to table)`],
    ['version GET latency', `p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${sorted.at(-1)?.toFixed(1)} ms (${samples.length} samples while the batch ran)`],
    ['  while uploading / after', `${phase(true)} / ${phase(false)}`],
    ['API peak RSS (VmHWM)', `${(servicePeak / 1024).toFixed(0)} MB (${(serviceBaseline / 1024).toFixed(0)} MB ${warmup > 0 ? 'after the warm-up' : 'once ready'}; ${split ? `API alone; the workers' process: ${(workersPeak / 1024).toFixed(0)} MB` : 'API and workers in one process'})`],
    ['mll peak RSS (VmHWM)', `${(cliPeak / 1024).toFixed(0)} MB`],
    ['service RSS by versions released', rssByThousands(rssSeries)],
    ['service CPU', `${serviceCpu.toFixed(1)} s user+sys (${((1000 * serviceCpu) / N).toFixed(0)} ms per version); mll: ${cliCpu.toFixed(1)} s`],
    ['service CPU by thread', `ms per version: ${byThread}; in the kernel (system calls): ${((1000 * serviceSystem) / N).toFixed(1)}`],
    ['machine load (1 min)', `${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after (${os.cpus().length} CPUs; other work on the machine slows every figure above)`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log(`\nBatch benchmark, node ${process.version}, ${os.cpus().length} CPUs, ${new Date().toISOString().slice(0, 10)}`);
  for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`);
  const okRelease = released === N && wallSeconds < 90;
  const okGet = p99 < 50;
  console.log(`\n  target: ${N} released in < 90 s: ${okRelease ? 'PASS' : 'FAIL'}; p99 GET < 50 ms: ${okGet ? 'PASS' : 'FAIL'}`);
  console.log('\nREADME:\n');
  console.log('| Measure | Result |\n| --- | --- |');
  for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);

  await stopChild(service);
  await stopChild(workers);
  service = undefined;
  workers = undefined;
  if (cpuProf) {
    console.log('\nService CPU profile (self time, top functions):');
    console.log(await summarizeProfiles(profDir, 25));
  }
  if (!flag('skip-docker-sample')) {
    const sample = await measureDockerSample({ sample: arg('docker-sample', 20), concurrency, total: N });
    console.log(`\nThe same models with docker instead (after the batch, the service idle):\n\n${dockerSampleTable(sample, N)}`);
  }
  process.exitCode = okRelease && okGet ? 0 : 1;
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  const tail = await fs.readFile(path.join(tmp, 'service.log'), 'utf8').catch(() => '');
  if (tail) console.error(`service log (tail):\n${tail.slice(-3000)}`);
  process.exitCode = 2;
} finally {
  const keys = await cleanup();
  console.error(`cleaned up: processes stopped, ${keys} Redis keys of ${prefix} deleted${keep ? `, kept ${tmp}` : `, ${tmp} removed`}`);
}
