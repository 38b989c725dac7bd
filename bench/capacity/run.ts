import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from 'minio';
import { startPrivateRegistry, type PrivateRegistry } from '../../test/support/registry.js';
import { writePythonModel, writePythonModels } from '../batch/models.js';
import { cpuSeconds, freePort, statusKiB, stopChild } from '../lib/proc.js';
import { classifyRegistry, classifyS3, startCountingProxy, tallyDelta, type CountingProxy, type Tally } from './counting-proxy.js';
import { benchmarkShard, commandDelta, startOwnRedis, type OwnRedis, type RedisStats } from './redis.js';

/**
 * The capacity benchmark (issue 13, item 5):
 *   node --import tsx bench/capacity/run.ts [--models 200] [--big 2] [--big-mib 300] [--keep]
 * Runs ML Lambda as production scales it: the API and one worker process per stage
 * (MLL_WORKER_STAGES), on the S3 store and a registry target, with every dependency counted:
 *   - Redis: a redis-server of its own; INFO commandstats deltas give commands per version;
 *   - S3: a counting HTTP proxy in front of the S3 endpoint (S3_ENDPOINT, scripts/services/s3.sh);
 *   - registry: a counting proxy in front of a private registry (Debian's docker-registry);
 *   - CPU: /proc/<pid>/stat of each process (the API, extract, build, push, webhooks).
 * Releases N tiny Python models (~10 KiB) with `mll batch`, then a few models with one big file of
 * random bytes, and prints per released version: Redis commands, S3 requests and bytes, registry
 * requests and bytes, CPU per stage; then the ceilings of one Redis shard, one S3 prefix and one
 * worker core, each with its formula. Cleans up what it started (by pid), its objects and folder.
 */

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Math.max(0, Number(process.argv[i + 1]) || 0) : dflt;
};
const N = arg('models', 200);
const BIG = arg('big', 2);
const BIG_MIB = arg('big-mib', 300);
const keep = process.argv.includes('--keep');
const idleSeconds = 10;
const s3Endpoint = process.env.S3_ENDPOINT ?? 'http://127.0.0.1:9000';
const s3AccessKey = process.env.S3_ACCESS_KEY ?? 'mll:admin';
const s3SecretKey = process.env.S3_SECRET_KEY ?? 'mll-secret-key';
const bucket = 'mll-test';

const stages = ['extract', 'build', 'push', 'webhooks'] as const;
type Role = 'api' | (typeof stages)[number];

const rssMiB = (pid: number | undefined, field: 'VmRSS' | 'VmHWM') => statusKiB(pid, field) / 1024;

async function waitReady(url: string, child: ChildProcess, what: string, headers: Record<string, string> = {}): Promise<void> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode})`);
    if (await fetch(`${url}/readyz`, { headers }).then((r) => r.ok, () => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} was not ready within 180 s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function deleteObjects(prefix: string): Promise<number> {
  const u = new URL(s3Endpoint);
  const client = new Client({ endPoint: u.hostname, port: Number(u.port), useSSL: u.protocol === 'https:', accessKey: s3AccessKey, secretKey: s3SecretKey, region: process.env.S3_REGION ?? 'us-east-1', pathStyle: true });
  const names: string[] = [];
  for await (const item of client.listObjectsV2(bucket, prefix, true) as AsyncIterable<{ name?: string }>) if (item.name) names.push(item.name);
  for (let i = 0; i < names.length; i += 1000) await client.removeObjects(bucket, names.slice(i, i + 1000));
  return names.length;
}

const token = `mll_${randomBytes(9).toString('base64url').replace(/[-_]/g, 'x').slice(0, 12)}_${randomBytes(32).toString('base64url')}`;
const auth = { authorization: `Bearer ${token}` };
const id = `cap${Date.now().toString(36)}`;
const storePrefix = `capacity-${id}/`;
const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'mll-bench-capacity-'));

let redis: OwnRedis | undefined;
let registry: PrivateRegistry | undefined;
let s3Proxy: CountingProxy | undefined;
let registryProxy: CountingProxy | undefined;
const processes = new Map<Role, ChildProcess>();
let cli: ChildProcess | undefined;

const cleanup = async () => {
  await stopChild(cli, 2000);
  await Promise.all([...processes.values()].map((p) => stopChild(p)));
  await s3Proxy?.close();
  await registryProxy?.close();
  await registry?.dispose();
  await redis?.stop();
  const objects = await deleteObjects(storePrefix).catch((err: unknown) => `? (${err instanceof Error ? err.message : String(err)})`);
  if (!keep) await fs.rm(tmp, { recursive: true, force: true });
  return objects;
};
process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));

interface Snapshot {
  at: number;
  cpu: Map<Role, number>;
  redis: RedisStats;
  s3: Map<string, Tally>;
  registry: Map<string, Tally>;
}

async function snapshot(): Promise<Snapshot> {
  return {
    at: Date.now(),
    cpu: new Map([...processes].map(([role, child]) => [role, cpuSeconds(child.pid)])),
    redis: await redis!.stats(),
    s3: s3Proxy!.snapshot(),
    registry: registryProxy!.snapshot(),
  };
}

interface Phase {
  name: string;
  released: number;
  wallSeconds: number;
  cliCpu: number;
  cpu: Map<Role, number>;
  redis: ReturnType<typeof commandDelta>;
  s3: Map<string, Tally>;
  registry: Map<string, Tally>;
}

/** One `mll batch` of the given folders; the counters' difference over it. */
async function phase(name: string, glob: string, expected: number, server: string): Promise<Phase> {
  const before = await snapshot();
  cli = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', '--json', '--server', server, 'batch', glob, '--concurrency', '8'], {
    cwd: repo, env: { ...process.env, MLL_SERVER: server, MLL_TOKEN: token }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let cliCpu = 0;
  const timer = setInterval(() => (cliCpu = Math.max(cliCpu, cpuSeconds(cli?.pid))), 250);
  let out = '';
  let err = '';
  cli.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  cli.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
  const code = await new Promise<number | null>((r) => cli!.on('close', r));
  clearInterval(timer);
  cli = undefined;
  const after = await snapshot();
  let counts: Record<string, number>;
  try {
    counts = (JSON.parse(out) as { counts: Record<string, number> }).counts;
  } catch {
    throw new Error(`mll batch printed no JSON (exit ${code}):\n${err}\n${out.slice(0, 2000)}`);
  }
  const released = counts.released ?? 0;
  if (released !== expected) throw new Error(`${name}: ${released} of ${expected} released (${JSON.stringify(counts)}); see ${path.join(tmp, 'service.log')}`);
  return {
    name, released, cliCpu,
    wallSeconds: (after.at - before.at) / 1000,
    cpu: new Map([...after.cpu].map(([role, s]) => [role, s - (before.cpu.get(role) ?? 0)])),
    redis: commandDelta(after.redis, before.redis),
    s3: tallyDelta(after.s3, before.s3),
    registry: tallyDelta(after.registry, before.registry),
  };
}

const fmt = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : '–');
/** A rate with two significant digits below 10 (0.22, 3.4), whole numbers above. */
const rate = (x: number) => (!Number.isFinite(x) ? '–' : x >= 10 ? x.toFixed(0) : x.toPrecision(2));
const bytes = (n: number) => (n >= 1024 * 1024 ? `${fmt(n / 1024 / 1024)} MiB` : n >= 1024 ? `${fmt(n / 1024)} KiB` : `${Math.round(n)} B`);
const lines: string[] = [];
const say = (s = '') => {
  lines.push(s);
  console.log(s);
};
function table(head: string[], rows: (string | number)[][]): void {
  say(`| ${head.join(' | ')} |`);
  say(`| ${head.map(() => '---').join(' | ')} |`);
  for (const r of rows) say(`| ${r.join(' | ')} |`);
}

try {
  const loadBefore = os.loadavg();
  redis = await startOwnRedis();
  registry = await startPrivateRegistry();
  s3Proxy = await startCountingProxy(s3Endpoint, classifyS3(storePrefix));
  registryProxy = await startCountingProxy(`http://${registry.host}`, classifyRegistry);

  const genStart = Date.now();
  const tinyRoot = path.join(tmp, 'tiny');
  await writePythonModels(tinyRoot, 'tiny', N);
  const bigRoot = path.join(tmp, 'big');
  for (let i = 0; i < BIG; i++) {
    const dir = await writePythonModel(bigRoot, `big-${i}`);
    const file = createWriteStream(path.join(dir, 'src', 'weights.bin'));
    for (let m = 0; m < BIG_MIB; m++) if (!file.write(randomBytes(1024 * 1024))) await new Promise<void>((r) => file.once('drain', () => r()));
    await new Promise<void>((resolve, reject) => file.end((e?: Error | null) => (e ? reject(e) : resolve())));
  }
  console.error(`wrote ${N} tiny models and ${BIG} of ${BIG_MIB} MiB in ${Date.now() - genStart} ms`);

  const log = createWriteStream(path.join(tmp, 'service.log'));
  const port = await freePort();
  const server = `http://127.0.0.1:${port}`;
  const env: Record<string, string | undefined> = {
    ...process.env,
    MLL_HOST: '127.0.0.1', MLL_PORT: String(port), MLL_DATA_DIR: path.join(tmp, 'data'), MLL_PREFIX: id, MLL_LOG_LEVEL: 'warn',
    REDIS_URL: redis.url, MLL_BOOTSTRAP_TOKEN: token,
    MLL_STORE: 'minio', MLL_S3_ENDPOINT: s3Proxy.url, MLL_S3_ACCESS_KEY: s3AccessKey, MLL_S3_SECRET_KEY: s3SecretKey, MLL_S3_BUCKET: bucket, MLL_STORE_PREFIX: storePrefix,
    MLL_TARGET: 'registry', MLL_REGISTRY: `${registryProxy.host}/${id}`, MLL_REGISTRY_INSECURE: 'true',
    MLL_RECOVERY_CHECK_MS: '0',
  };
  const start = (role: Role, entry: string, extra: Record<string, string>) => {
    const child = spawn(process.execPath, ['--import', 'tsx', entry], { cwd: repo, env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    processes.set(role, child);
    return child;
  };
  await waitReady(server, start('api', 'src/bin/api.ts', {}), 'the API', auth);
  await Promise.all(stages.map(async (stage) => {
    const probe = await freePort();
    const child = start(stage, 'src/bin/workers.ts', { MLL_WORKER_STAGES: stage, MLL_WORKERS_PORT: String(probe) });
    await waitReady(`http://127.0.0.1:${probe}`, child, `the ${stage} worker`);
  }));

  // Idle cost (BullMQ's polling, timers): CPU over a quiet window before the batches, per second.
  const idleStart = await snapshot();
  await new Promise((r) => setTimeout(r, idleSeconds * 1000));
  const idleEnd = await snapshot();
  const idleWall = (idleEnd.at - idleStart.at) / 1000;
  const idle = new Map([...idleEnd.cpu].map(([role, s]) => [role, (s - (idleStart.cpu.get(role) ?? 0)) / idleWall]));
  const idleRedis = commandDelta(idleEnd.redis, idleStart.redis);
  const idleCommands = [...idleRedis.commands.values()].reduce((a, b) => a + b.calls, 0) / idleWall;

  const phases: Phase[] = [];
  if (N > 0) phases.push(await phase(`${N} tiny (~10 KiB)`, `${tinyRoot}/*`, N, server));
  if (BIG > 0) phases.push(await phase(`${BIG} × ${BIG_MIB} MiB`, `${bigRoot}/*`, BIG, server));
  const rss = new Map([...processes].map(([role, child]) => [role, rssMiB(child.pid, 'VmHWM')]));

  // What one shard sustains, on the same server, after the batches (nothing else is using it).
  const shard = await benchmarkShard(redis.port);
  const loadAfter = os.loadavg();

  say(`\nCapacity benchmark, node ${process.version}, ${os.cpus().length} CPUs, ${new Date().toISOString()}`);
  say(`load average (1/5/15 min): ${loadBefore.map((x) => fmt(x, 2)).join(' ')} before, ${loadAfter.map((x) => fmt(x, 2)).join(' ')} after`);
  say('API, extract, build, push and webhooks workers in five processes; S3 store (counting proxy), registry target (counting proxy), Redis of its own.\n');
  for (const p of phases) say(`${p.name}: ${p.released} released in ${fmt(p.wallSeconds)} s (mll batch start to its table; mll itself used ${fmt(p.cliCpu, 2)} s CPU)`);

  say(`\n**Service CPU per released version, by process** (user+sys from /proc/<pid>/stat, idle polling included; idle: the same process doing nothing, over ${idleSeconds} s before the batches)\n`);
  const roles: Role[] = ['api', ...stages];
  table(['process', ...phases.map((p) => p.name), 'idle'], [
    ...roles.map((role) => [role, ...phases.map((p) => `${fmt((1000 * (p.cpu.get(role) ?? 0)) / p.released)} ms`), `${fmt(1000 * (idle.get(role) ?? 0))} ms/s`]),
    ['**total**', ...phases.map((p) => `**${fmt((1000 * [...p.cpu.values()].reduce((a, b) => a + b, 0)) / p.released)} ms**`), `${fmt(1000 * [...idle.values()].reduce((a, b) => a + b, 0))} ms/s`],
  ]);

  say('\n**Redis commands per released version** (INFO commandstats delta; commands run inside scripts are counted as well)\n');
  const commandNames = [...new Set(phases.flatMap((p) => [...p.redis.commands.keys()]))]
    .sort((a, b) => (phases[0]!.redis.commands.get(b)?.calls ?? 0) - (phases[0]!.redis.commands.get(a)?.calls ?? 0));
  table(['command', ...phases.map((p) => p.name), 'µs per call (tiny)'], [
    ...commandNames.map((c) => [c, ...phases.map((p) => fmt((p.redis.commands.get(c)?.calls ?? 0) / p.released)),
      fmt((phases[0]!.redis.commands.get(c)?.usec ?? 0) / Math.max(1, phases[0]!.redis.commands.get(c)?.calls ?? 0), 2)]),
    ['**all**', ...phases.map((p) => `**${fmt([...p.redis.commands.values()].reduce((a, b) => a + b.calls, 0) / p.released)}**`), ''],
    ['redis-server CPU', ...phases.map((p) => `${fmt((1000 * p.redis.cpuSeconds) / p.released, 2)} ms`), ''],
  ]);
  say(`\nIdle (no batch, ${idleSeconds} s): ${fmt(idleCommands)} commands/s (BullMQ's polling and markers), redis-server ${fmt((1000 * idleRedis.cpuSeconds) / idleWall, 2)} ms CPU/s.`);

  const tallyTable = (title: string, pick: (p: Phase) => Map<string, Tally>) => {
    say(`\n**${title} per released version** (requests; bytes sent / received)\n`);
    const names = [...new Set(phases.flatMap((p) => [...pick(p).keys()]))].sort();
    const cell = (t: Tally | undefined, n: number) => (t ? `${fmt(t.requests / n, 2)} (${bytes(t.bytesIn / n)} / ${bytes(t.bytesOut / n)})` : '–');
    const sum = (m: Map<string, Tally>) => [...m.values()].reduce((a, t) => ({ requests: a.requests + t.requests, bytesIn: a.bytesIn + t.bytesIn, bytesOut: a.bytesOut + t.bytesOut }), { requests: 0, bytesIn: 0, bytesOut: 0 });
    table(['request', ...phases.map((p) => p.name)], [
      ...names.map((k) => [k, ...phases.map((p) => cell(pick(p).get(k), p.released))]),
      ['**all**', ...phases.map((p) => `**${cell(sum(pick(p)), p.released)}**`)],
    ]);
  };
  tallyTable('S3 requests', (p) => p.s3);
  tallyTable('Registry requests', (p) => p.registry);

  // Ceilings, from the tiny phase (the per-version overhead; big models are bound by bytes).
  say('\n**Predicted ceilings** (versions/s; from the tiny models unless said)\n');
  const rows: string[][] = [];
  for (const p of phases) {
    const commands = [...p.redis.commands.values()].reduce((a, b) => a + b.calls, 0) / p.released;
    const usec = [...p.redis.commands.values()].reduce((a, b) => a + b.usec, 0) / p.released;
    for (const [bench, perSecond] of shard) {
      rows.push([`one Redis shard (${p.name})`, rate(perSecond / commands), `${fmt(perSecond, 0)} ${bench}/s (redis-benchmark -P 16 -c 50, best of 3, same server) ÷ ${fmt(commands)} commands per version`]);
    }
    rows.push([`one Redis shard, CPU (${p.name})`, rate(p.released / p.redis.cpuSeconds), `1 s ÷ ${fmt((1000 * p.redis.cpuSeconds) / p.released, 2)} ms redis-server CPU per version (used_cpu_user+sys delta)`]);
    rows.push([`one Redis shard, command time (${p.name})`, rate(1e6 / usec), `1 s ÷ ${fmt(usec)} µs of commandstats usec per version (execution only, no I/O)`]);
    const puts = [...p.s3].filter(([k]) => /^(PUT|POST|DELETE) /.test(k)).reduce((a, [, t]) => a + t.requests, 0) / p.released;
    const gets = [...p.s3].filter(([k]) => /^(GET|HEAD) /.test(k)).reduce((a, [, t]) => a + t.requests, 0) / p.released;
    rows.push([`one S3 prefix, AWS (${p.name})`, rate(Math.min(3500 / puts, 5500 / gets)), `min(3,500 PUT/s ÷ ${fmt(puts, 2)} PUT+POST+DELETE, 5,500 GET/s ÷ ${fmt(gets, 2)} GET+HEAD) per version (AWS's published per-prefix request rates)`]);
    const wall = p.wallSeconds;
    const s3Requests = [...p.s3.values()].reduce((a, t) => a + t.requests, 0);
    rows.push([`local S3 server, as measured (${p.name})`, `≥ ${rate(p.released / wall)}`, `${s3Requests} requests in ${fmt(wall)} s = ${fmt(s3Requests / wall, 0)} req/s served while the batch ran ÷ ${fmt(s3Requests / p.released, 1)} per version (a lower bound: the batch, not the server, set the pace)`]);
    for (const role of stages.filter((s) => s !== 'webhooks')) {
      const ms = (1000 * (p.cpu.get(role) ?? 0)) / p.released;
      rows.push([`one worker core, ${role} (${p.name})`, rate(1000 / ms), `1 s ÷ ${fmt(ms)} ms CPU per version in the ${role} process`]);
    }
    const workerMs = (1000 * stages.reduce((a, s) => a + (p.cpu.get(s) ?? 0), 0)) / p.released;
    rows.push([`one worker core, all stages (${p.name})`, rate(1000 / workerMs), `1 s ÷ ${fmt(workerMs)} ms CPU per version, every worker process`]);
    const apiMs = (1000 * (p.cpu.get('api') ?? 0)) / p.released;
    rows.push([`one API core (${p.name})`, rate(1000 / apiMs), `1 s ÷ ${fmt(apiMs)} ms CPU per version in the API`]);
  }
  table(['ceiling', 'versions/s', 'formula'], rows);
  say(`\nPeak RSS (VmHWM): ${[...rss].map(([role, mib]) => `${role} ${fmt(mib, 0)} MB`).join(', ')}`);
  say(`redis-benchmark on the same server: ${[...shard].map(([k, v]) => `${k} ${fmt(v, 0)}/s`).join(', ')}`);
  await fs.writeFile(path.join(tmp, 'report.md'), `${lines.join('\n')}\n`);
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  const tail = await fs.readFile(path.join(tmp, 'service.log'), 'utf8').catch(() => '');
  if (tail) console.error(`service log (tail):\n${tail.slice(-3000)}`);
  process.exitCode = 2;
} finally {
  const objects = await cleanup();
  console.error(`cleaned up: processes stopped, ${objects} objects under ${bucket}/${storePrefix} deleted${keep ? `, kept ${tmp}` : `, ${tmp} removed`}`);
}
