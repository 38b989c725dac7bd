/**
 * The fault battery: each scenario runs ML Lambda against real services, breaks something on
 * purpose, and accounts for every version it tried to create. The tests in this folder assert on
 * the reports; `npm run chaos` runs the same scenarios with more versions and prints a table.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { FlowJob } from 'bullmq';
import { versionFlow } from '../../queues/flow.js';
import { versionJobId } from '../../queues/jobs.js';
import { stageQueueNames, versionQueueName } from '../../queues/names.js';
import { stageStatus, type Stage, type VersionStatus } from '../../src/domain/version.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { api, tarOf, uploadTar, waitForVersion, type PresentedVersion } from '../support/client.js';
import { freePort, startPrivateRegistry } from '../support/registry.js';
import { repoRoot } from '../support/paths.js';
import { spawnService, type ServiceProcess } from '../support/processes.js';
import { cleanRedis } from '../support/redis.js';
import { services } from '../support/services.js';
import { startOwnRedis } from '../support/redis-server.js';
import { eventId } from '../../src/webhooks/ids.js';
import { startReceiver } from '../webhooks/receiver.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { uniqueName } from '../support/unique.js';
import { sleep, waitFor } from '../support/wait.js';

/** What every fault scenario (here and in test/redis) accounts for, version by version. */
export interface VersionAccounting {
  fault: string;
  /** Uploads the API accepted (202), after the client's retries where it retries. */
  attempted: number;
  released: number;
  /** Failed with a reason (error code and message on the version). */
  failedWithReason: number;
  /** Accepted but neither released nor failed with a reason at the end (stuck or not found): must be 0. */
  lost: number;
  /** Released twice, a number given twice, or more than one image or version: must be 0. */
  duplicated: number;
  /** Other observations the tests assert on. */
  notes: Record<string, unknown>;
}

export interface FaultReport extends VersionAccounting {
  /** Processes that did not exit within their grace period plus a bound after SIGTERM: must be 0. */
  hung: number;
  /** Failures the scenario causes on purpose (a permanent outage); any other failure is unexpected. */
  expectedFailures?: number;
  /** Webhook events received (once per event id) of those expected, when the scenario has a receiver. */
  webhooks?: { delivered: number; expected: number };
}

const pythonModel = path.join(repoRoot, 'test', 'fixtures', 'models', 'python-tokenizer');

export async function modelTar(): Promise<Buffer> {
  return tarOf(pythonModel);
}

/** Kills the worker processes a scenario started, waits for them to go, stops the app. */
async function stopAll(workers: ServiceProcess[], app: TestApp): Promise<void> {
  for (const w of workers) w.kill('SIGKILL');
  await Promise.all(workers.map((w) => w.exited));
  await app.stop();
}

/** The model's tags in the registry: one per version, or the report counts a duplicate. */
async function countTags(report: FaultReport, app: TestApp, model: string, versions: number): Promise<void> {
  const tags = await registryTags(app.registry!, model);
  report.notes.tags = tags.length;
  if (tags.length !== versions) report.duplicated += 1;
}

/** ML Lambda on the S3 store through a proxy the scenario cuts (`down`) and mends (`up`); `stop` mends it, stops the app, closes the proxy. */
async function appBehindStoreProxy(env: Record<string, string>): Promise<{ app: TestApp; proxy: TcpProxy; stop(): Promise<void> }> {
  const s3 = new URL(services.s3().endpoint);
  const proxy = await startTcpProxy(s3.hostname, Number(s3.port));
  const app = await startTestApp({ store: 'minio', env: { MLL_S3_ENDPOINT: `http://${proxy.host}:${proxy.port}`, ...env } });
  const stop = async () => {
    await proxy.up().catch(() => undefined);
    await app.stop();
    await proxy.close();
  };
  return { app, proxy, stop };
}

async function versionOf(app: TestApp, model: string, version: number): Promise<PresentedVersion | undefined> {
  const res = await api<PresentedVersion>(`${app.url}/api/v1/models/${model}/versions/${version}`);
  return res.status === 200 ? res.body : undefined;
}

async function waitForStatus(app: TestApp, model: string, version: number, statuses: VersionStatus[], timeoutMs = 60_000) {
  return waitFor(`${model}:${version} to be ${statuses.join('|')}`, async () => {
    const v = await versionOf(app, model, version);
    return v && statuses.includes(v.status) ? v : undefined;
  }, timeoutMs);
}

/** Counts outcomes for the versions a scenario created; waits for each to be terminal first. */
async function account(fault: string, app: TestApp, created: { model: string; version: number }[], notes: Record<string, unknown> = {}, timeoutMs = 90_000): Promise<FaultReport> {
  const report: FaultReport = { fault, attempted: created.length, released: 0, failedWithReason: 0, lost: 0, duplicated: 0, hung: 0, notes };
  const seen = new Set<string>();
  for (const { model, version } of created) {
    const key = `${model}:${version}`;
    if (seen.has(key)) report.duplicated += 1;
    seen.add(key);
    const v = await waitForVersion(app.url, model, version, { timeoutMs }).catch(() => undefined);
    if (v?.status === 'released') report.released += 1;
    else if (v?.status === 'failed' && v.error?.code && v.error.message) report.failedWithReason += 1;
    else report.lost += 1;
    const events = await api<{ items: { type: string; status?: string }[] }>(`${app.url}/api/v1/models/${model}/versions/${version}/events`);
    const releases = (events.body.items ?? []).filter((e) => e.type === 'status' && e.status === 'released').length;
    if (releases > 1) report.duplicated += 1;
  }
  // Each model's versions are exactly 1..n: no gaps from crashes, no number given twice.
  const byModel = new Map<string, number[]>();
  for (const c of created) byModel.set(c.model, [...(byModel.get(c.model) ?? []), c.version]);
  for (const [model, versions] of byModel) {
    const list = await api<{ items: { version: number }[]; total: number }>(`${app.url}/api/v1/models/${model}/versions?limit=500`);
    if (list.body.total !== versions.length) report.duplicated += Math.abs(list.body.total - versions.length);
  }
  return report;
}

/** Tags in a registry repository: one per released version means one image per version. */
async function registryTags(registry: string, repository: string): Promise<string[]> {
  const [host, ...ns] = registry.split('/');
  const res = await fetch(`http://${host}/v2/${[...ns, repository].join('/')}/tags/list`);
  if (res.status === 404) return [];
  return ((await res.json()) as { tags: string[] | null }).tags ?? [];
}

async function upload(app: TestApp, model: string, body: Buffer): Promise<number> {
  const res = await uploadTar(app.url, model, body);
  if (res.status !== 202) throw new Error(`upload answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body.version;
}

/** Where a worker is killed: in the middle of a stage, or at a precise point of the work inside one. */
export type KillPoint = 'extract-mid' | 'build-mid' | 'registry-blob-mid' | 'push-mid' | 's3-multipart-mid';

const killPointFault: Record<KillPoint, string> = {
  'extract-mid': 'worker SIGKILLed mid-extract',
  'build-mid': 'worker SIGKILLed mid-build',
  'registry-blob-mid': 'worker SIGKILLed inside a blob upload to the registry',
  'push-mid': 'worker SIGKILLed between publish and release',
  's3-multipart-mid': 'worker SIGKILLed inside a multipart upload to S3 (extract storing a 12 MiB file)',
};

/** The python model plus a file of `mib` MiB of random bytes: stored by extract in several S3 parts. */
async function bigModelTar(mib: number): Promise<Buffer> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mll-big-model-'));
  try {
    await fs.cp(pythonModel, dir, { recursive: true });
    await fs.writeFile(path.join(dir, 'src', 'weights.bin'), randomBytes(mib * 1024 * 1024));
    return await tarOf(dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** Waits until a process says (on stderr) that it is paused at a failpoint. */
function waitForFailpoint(proc: ServiceProcess, name: string, timeoutMs = 60_000): Promise<true> {
  return waitFor(`the worker to pause at ${name}`, async () => (proc.output().includes(`failpoint ${name}: pausing`) ? true : undefined), timeoutMs);
}

/**
 * A worker process is SIGKILLed while it is paused at a failpoint: in the middle of a stage, inside
 * a blob upload to the registry (part of the body sent), inside a multipart upload to S3 (one part
 * in), or between publishing the image and releasing the version. A fresh worker takes the job over
 * once its lock expires. Every version must complete exactly once, with one image each.
 */
export async function killWorkerAt(point: KillPoint, versions = 1): Promise<FaultReport> {
  const s3 = point === 's3-multipart-mid';
  const app = await startTestApp({ workers: false, target: 'registry', store: s3 ? 'minio' : 'fs', env: { MLL_STAGE_LOCK_MS: '1500' } });
  const workers: ServiceProcess[] = [];
  try {
    const doomed = spawnService('workers', { ...app.env, MLL_FAILPOINTS: `${point}=sleep:600000` });
    workers.push(doomed);
    const model = uniqueName(`kill-${point.replace(/-mid$/, '')}`);
    const body = s3 ? await bigModelTar(12) : await modelTar();
    const created: { model: string; version: number }[] = [];
    for (let i = 0; i < versions; i++) created.push({ model, version: await upload(app, model, body) });
    await waitForFailpoint(doomed, point);
    doomed.kill('SIGKILL');
    const killed = await doomed.exited;
    workers.push(spawnService('workers', app.env));
    const report = await account(killPointFault[point], app, created, { killedBy: killed.signal });
    // The numbers go on after the crash.
    const after = await upload(app, model, body);
    await waitForStatus(app, model, after, ['released']);
    report.notes.nextVersion = after;
    report.notes.tags = (await registryTags(app.registry!, model)).sort();
    if ((report.notes.tags as string[]).length !== versions + 1) report.duplicated += 1;
    return report;
  } finally {
    await stopAll(workers, app);
  }
}

/** A worker SIGKILLed in the middle of a stage (see killWorkerAt). */
export function killWorkerMidStage(stage: Stage, versions = 1): Promise<FaultReport> {
  return killWorkerAt(`${stage}-mid`, versions);
}

const redisAnswers = (url: string) => waitFor(`Redis at ${url}`, async () => {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await r.connect();
    return (await r.ping()) === 'PONG' ? true : undefined;
  } finally {
    r.disconnect();
  }
});

/** Redis is killed and restarted empty (as Redis here keeps nothing on disk), while a version builds. */
export async function loseRedis(versions = 3): Promise<FaultReport> {
  const port = await freePort();
  const startRedis = () => {
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    return child;
  };
  let redisProcess = startRedis();
  const redisUrl = `redis://127.0.0.1:${port}`;
  await redisAnswers(redisUrl);
  const env = { REDIS_URL: redisUrl, MLL_RECOVERY_CHECK_MS: '500', MLL_FAILPOINTS: 'build-mid=sleep:1500', MLL_STAGE_LOCK_MS: '2000' };
  let app = await startTestApp({ env });
  const dataDir = app.config.dataDir;
  try {
    const model = uniqueName('redis-loss');
    const body = await modelTar();
    const created: { model: string; version: number }[] = [];
    for (let i = 0; i < versions - 1; i++) created.push({ model, version: await upload(app, model, body) });
    for (const c of created) await waitForStatus(app, c.model, c.version, ['released']);
    const building = await upload(app, model, body);
    created.push({ model, version: building });
    await waitForStatus(app, model, building, ['building']);
    // Redis dies and comes back empty.
    redisProcess.kill('SIGKILL');
    await new Promise((r) => redisProcess.once('exit', r));
    redisProcess = startRedis();
    // The running service notices, rebuilds its index from the store and re-enqueues the build.
    await waitFor('the index to be rebuilt', async () => ((await versionOf(app, model, 1))?.status === 'released' ? true : undefined), 30_000);
    const next = await upload(app, model, body);
    created.push({ model, version: next });
    const running = await account('Redis lost (restarted empty) while running', app, created, { nextVersion: next });
    // And on start-up: stop everything, lose Redis again, start a fresh process.
    await app.running.stop();
    redisProcess.kill('SIGKILL');
    await new Promise((r) => redisProcess.once('exit', r));
    redisProcess = startRedis();
    await redisAnswers(redisUrl);
    app = await startTestApp({ env: { ...env, MLL_DATA_DIR: dataDir, MLL_PREFIX: app.prefix } });
    const afterRestart = await upload(app, model, body);
    await waitForStatus(app, model, afterRestart, ['released']);
    running.notes.versionAfterRestart = afterRestart;
    const list = await api<{ total: number }>(`${app.url}/api/v1/models/${model}/versions`);
    running.notes.versionsListed = list.body.total;
    return running;
  } finally {
    await app.stop().catch(() => undefined);
    redisProcess.kill('SIGKILL');
  }
}

/**
 * The object store goes away: during an upload (a clear 503, nothing half-written, no number
 * spent), during extraction (retries, then finishes when it is back), and for good (fails with
 * the reason after the configured attempts).
 */
export async function storeOutage(): Promise<FaultReport> {
  // The pause in the middle of extract lets the store go away while extraction is under way.
  const { app, proxy, stop } = await appBehindStoreProxy({ MLL_STAGE_ATTEMPTS: '4', MLL_STAGE_BACKOFF_MS: '400', MLL_FAILPOINTS: 'extract-mid=sleep:1000' });
  try {
    const model = uniqueName('store-down');
    const body = await modelTar();
    const created: { model: string; version: number }[] = [];
    const notes: Record<string, unknown> = {};

    await proxy.down();
    const refused = await uploadTar(app.url, model, body);
    notes.uploadWhileDown = { status: refused.status, code: refused.body.error?.code };
    await proxy.up();
    const leftovers: string[] = [];
    for await (const o of app.running.services.store.list('uploads/')) leftovers.push(o.key);
    notes.leftoverUploads = leftovers.length;

    // Down right after the upload was accepted: extraction retries until the store is back.
    const v1 = await upload(app, model, body);
    created.push({ model, version: v1 });
    notes.firstVersionNumber = v1;
    await waitForStatus(app, model, v1, ['extracting']);
    await proxy.down();
    await waitFor('extract to retry', async () => {
      const events = await app.running.services.catalog.readEvents(model, v1);
      return events.some((e) => e.type === 'log' && /attempt \d+ of \d+ failed/.test(e.message ?? '')) ? true : undefined;
    }, 30_000);
    await proxy.up();
    const v1Done = await waitForStatus(app, model, v1, ['released', 'failed']);
    // Build and push ran once each, after extract's retries: each stage counts its own attempts.
    notes.laterStageAttempts = [v1Done.stages.build?.attempts, v1Done.stages.push?.attempts];

    // Down for good: the version fails with the reason once its attempts are spent.
    const v2 = await upload(app, model, body);
    created.push({ model, version: v2 });
    await proxy.down();
    const failed = await waitForStatus(app, model, v2, ['failed', 'released'], 60_000);
    notes.permanentOutage = { status: failed.status, code: failed.error?.code };
    await proxy.up();
    const report = await account('object store down (upload → 503, extract → retried, then for good)', app, created, notes);
    report.expectedFailures = 1;
    return report;
  } finally {
    await stop();
  }
}

/** The registry stops for a while during pushes (they retry), then for good (fail with the reason). */
export async function registryOutage(versions = 2): Promise<FaultReport> {
  const registry = await startPrivateRegistry();
  const base = services.baseImages();
  const app = await startTestApp({
    target: 'registry',
    env: { MLL_REGISTRY: `${registry.host}/chaos`, MLL_RUNTIMES: `python=${base.python}`, MLL_STAGE_ATTEMPTS: '6', MLL_STAGE_BACKOFF_MS: '300' },
  });
  try {
    const model = uniqueName('registry-down');
    const body = await modelTar();
    const created: { model: string; version: number }[] = [];
    await registry.stop();
    for (let i = 0; i < versions; i++) created.push({ model, version: await upload(app, model, body) });
    // What readers are shown while push retries: never back to building once pushing.
    const statuses: string[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const status = (await versionOf(app, model, created[0]!.version))?.status;
        if (status && statuses[statuses.length - 1] !== status) statuses.push(status);
        await sleep(25);
      }
    })();
    await waitFor('pushes to be retried', async () => {
      const v = await versionOf(app, model, created[0]!.version);
      return (v?.stages.push?.attempts ?? 0) >= 2 ? true : undefined;
    });
    await sleep(1000);
    sampling = false;
    await sampler;
    await registry.start();
    for (const c of created) await waitForStatus(app, c.model, c.version, ['released', 'failed']);
    // The retries went on from push: extract and build ran once.
    const first = await versionOf(app, model, created[0]!.version);
    const shown = (await app.running.services.catalog.readEvents(model, created[0]!.version)).filter((e) => e.type === 'status');
    const retried = {
      attempts: Object.fromEntries((['extract', 'build', 'push'] as const).map((s) => [s, first?.stages[s]?.attempts])),
      extractsShown: shown.filter((e) => e.status === 'extracting').length,
      buildsShown: shown.filter((e) => e.status === 'building').length,
      statusesShown: statuses,
    };
    await registry.stop();
    const doomed = await upload(app, model, body);
    created.push({ model, version: doomed });
    const failed = await waitForStatus(app, model, doomed, ['failed', 'released'], 60_000);
    const report = await account('registry down during push (a while, then for good)', app, created, {
      permanentOutage: { status: failed.status, code: failed.error?.code }, retried,
    });
    report.expectedFailures = 1;
    await registry.start();
    report.notes.tags = (await registryTags(`${registry.host}/chaos`, model)).sort();
    return report;
  } finally {
    await app.stop();
    await registry.dispose();
  }
}

/**
 * SIGTERM to a process running the API and the workers while a stage runs: it stops taking
 * uploads, lets the stage finish within the grace period and exits; another process finishes.
 */
export async function gracefulShutdown(): Promise<FaultReport> {
  const first = await startTestApp({ api: true, workers: false });
  const port = String(await freePort());
  const env = { ...first.env, MLL_PORT: port, MLL_FAILPOINTS: 'build-mid=sleep:2500', MLL_SHUTDOWN_GRACE_MS: '20000' };
  // The test's own app only reads (API without workers); the process under test does the work.
  const proc = spawnService('all', env);
  const url = `http://127.0.0.1:${port}`;
  let replacement: ServiceProcess | undefined;
  try {
    await waitFor('the service to start', async () => ((await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) ? true : undefined));
    const model = uniqueName('sigterm');
    const body = await modelTar();
    const res = await uploadTar(url, model, body);
    if (res.status !== 202) throw new Error(JSON.stringify(res.body));
    const created = [{ model, version: res.body.version }];
    await waitForStatus(first, model, res.body.version, ['building']);
    const signalled = Date.now();
    proc.kill('SIGTERM');
    await sleep(300);
    const during = await uploadTar(url, model, body).then((r) => r.status, () => 'refused');
    const exit = await proc.exited;
    const exitedAfterMs = Date.now() - signalled;
    const afterExit = await versionOf(first, model, res.body.version);
    replacement = spawnService('workers', { ...first.env, MLL_FAILPOINTS: '' });
    return await account('SIGTERM while a stage runs (drain, then another worker)', first, created, {
      uploadDuringShutdown: during, exit, exitedAfterMs, statusWhenExited: afterExit?.status,
      buildFinishedBeforeExit: Boolean(afterExit?.stages.build?.finishedAt),
    });
  } finally {
    proc.kill('SIGKILL');
    replacement?.kill('SIGKILL');
    await Promise.all([proc.exited, replacement?.exited]);
    await first.stop();
  }
}

/** How long after its grace period a SIGTERMed process may take to exit before it counts as hung. */
export const shutdownBoundMs = 5_000;

export type OutageKind = 'redis' | 'store' | 'registry';

/**
 * SIGTERM to a process (API + workers) in the middle of a stage while Redis, the object store or
 * the registry is unreachable: it must exit within its grace period plus `shutdownBoundMs`, log a
 * bounded number of lines (one per outage, not one per reconnect attempt), and leave the version
 * to another worker, which releases it once the service is back.
 */
export async function sigtermWithOutage(kind: OutageKind, graceMs = 3000): Promise<FaultReport> {
  const ownRedis = kind === 'redis' ? await startOwnRedis() : undefined;
  const s3 = kind === 'store' ? new URL(services.s3().endpoint) : undefined;
  const s3Proxy = s3 ? await startTcpProxy(s3.hostname, Number(s3.port)) : undefined;
  const registry = kind === 'registry' ? await startPrivateRegistry() : undefined;
  const env: Record<string, string> = { MLL_STAGE_LOCK_MS: '1500', MLL_RECOVERY_CHECK_MS: '500' };
  if (ownRedis) env.REDIS_URL = ownRedis.url;
  if (s3Proxy) env.MLL_S3_ENDPOINT = `http://${s3Proxy.host}:${s3Proxy.port}`;
  if (registry) Object.assign(env, { MLL_REGISTRY: `${registry.host}/chaos`, MLL_RUNTIMES: `python=${services.baseImages().python}` });
  // The test's own app only reads (API without workers); the process under test does the work.
  const observer = await startTestApp({ api: true, workers: false, store: s3Proxy ? 'minio' : 'fs', target: registry ? 'registry' : 'oci-layout', env });
  const stage: Stage = kind === 'registry' ? 'push' : 'build';
  const port = String(await freePort());
  const proc = spawnService('all', {
    ...observer.env, MLL_PORT: port, MLL_FAILPOINTS: `${stage}-mid=sleep:600000`, MLL_SHUTDOWN_GRACE_MS: String(graceMs), MLL_LOG_LEVEL: 'info',
  });
  const url = `http://127.0.0.1:${port}`;
  let replacement: ServiceProcess | undefined;
  const cut = () => (ownRedis ? ownRedis.stop() : s3Proxy ? s3Proxy.down() : registry!.stop());
  const mend = () => (ownRedis ? ownRedis.start() : s3Proxy ? s3Proxy.up() : registry!.start());
  try {
    await waitFor('the service to start', async () => ((await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) ? true : undefined));
    const model = uniqueName(`sigterm-${kind}`);
    const res = await uploadTar(url, model, await modelTar());
    if (res.status !== 202) throw new Error(JSON.stringify(res.body));
    const created = [{ model, version: res.body.version }];
    await waitForStatus(observer, model, res.body.version, [stageStatus[stage]]);
    await sleep(1500); // well inside the failpoint's pause
    await cut();
    await sleep(500);
    const signalled = Date.now();
    proc.kill('SIGTERM');
    const exit = await Promise.race([proc.exited, sleep(graceMs + shutdownBoundMs).then(() => 'hung' as const)]);
    const exitedAfterMs = Date.now() - signalled;
    const output = proc.output();
    const afterSignal = output.slice(output.indexOf('"shutting down'));
    const logLines = afterSignal.split('\n').filter((l) => l.trim() !== '').length;
    if (process.env.MLL_DEBUG_SCENARIO) console.error(output);
    proc.kill('SIGKILL');
    await mend();
    // Another worker takes the version over once the job's lock has run out.
    replacement = spawnService('workers', observer.env);
    const report = await account(`SIGTERM mid-${stage} with ${kind === 'store' ? 'the object store' : kind === 'redis' ? 'Redis' : 'the registry'} down`, observer, created, {
      exit, exitedAfterMs, logLinesAfterSignal: logLines, graceMs,
    });
    if (exit === 'hung') report.hung += 1;
    if (registry) report.notes.tags = (await registryTags(`${registry.host}/chaos`, model)).sort();
    return report;
  } finally {
    proc.kill('SIGKILL');
    replacement?.kill('SIGKILL');
    await Promise.all([proc.exited, replacement?.exited]);
    await mend().catch(() => undefined);
    await observer.stop();
    await s3Proxy?.close();
    await registry?.dispose();
    await ownRedis?.stop();
  }
}

/**
 * Webhook events survive everything between the record and the receiver: the process is
 * SIGKILLed between a version's release and the relay of its event (the outbox intent is left),
 * the receiver answers 503 for a while, and Redis restarts empty while those deliveries wait for
 * their next attempt (their jobs and schedule are gone). Every event must reach the receiver, with
 * its id as webhook-id, and none may be answered 2xx twice.
 */
export async function webhooksAcrossRedisLoss(versions = 3): Promise<FaultReport> {
  const ownRedis = await startOwnRedis();
  let receiverUp = false;
  const rx = await startReceiver(() => ({ status: receiverUp ? 204 : 503 }));
  const answered: { id: string; ok: boolean }[] = [];
  const env = {
    REDIS_URL: ownRedis.url, MLL_WEBHOOK_ALLOW_PRIVATE: 'true', MLL_WEBHOOK_BACKOFF_MS: '1000', MLL_WEBHOOK_BACKOFF_MAX_MS: '3000',
    MLL_RECOVERY_CHECK_MS: '500', MLL_STAGE_LOCK_MS: '1500',
  };
  const observer = await startTestApp({ api: true, workers: false, env });
  const processes: ServiceProcess[] = [];
  const start = (extra: Record<string, string>) => {
    const proc = spawnService('all', { ...observer.env, ...extra });
    processes.push(proc);
    return proc;
  };
  try {
    const hook = await api<{ id: string }>(`${observer.url}/api/v1/webhooks`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: rx.url, events: ['version.released', 'version.failed'] }),
    });
    if (hook.status !== 201) throw new Error(`webhook registration answered ${hook.status}`);
    const model = uniqueName('wh-redis-loss');
    const body = await modelTar();
    const created: { model: string; version: number }[] = [];
    // 1. Killed between the release and the relay of its event: the intent is all that is left.
    const doomed = start({ MLL_FAILPOINTS: 'outbox-relay=sleep:600000' });
    const first = await upload(observer, model, body);
    created.push({ model, version: first });
    await waitForStatus(observer, model, first, ['released', 'failed']);
    await sleep(500);
    doomed.kill('SIGKILL');
    await doomed.exited;
    const killedBeforeRelay = rx.requests.length === 0;
    // 2. Another process relays it (outbox sweep); the receiver is down, so deliveries wait.
    start({});
    for (let i = 1; i < versions; i++) created.push({ model, version: await upload(observer, model, body) });
    const ids = created.map((c) => eventId(observer.prefix, `version.released
${c.model}
${c.version}`));
    await waitFor('every event to be attempted while the receiver is down', async () => {
      const seen = new Set(rx.requests.map((r) => String(r.headers['webhook-id'])));
      return ids.every((id) => seen.has(id)) ? true : undefined;
    }, 60_000);
    // 3. Redis restarts empty while the deliveries wait for their next attempt.
    await ownRedis.restartEmpty();
    await sleep(1500);
    receiverUp = true;
    const before = rx.requests.length;
    await waitFor('every event to be delivered', async () => {
      const ok = new Set(rx.requests.slice(before).map((r) => String(r.headers['webhook-id'])));
      return ids.every((id) => ok.has(id)) ? true : undefined;
    }, 60_000).catch(() => undefined);
    await sleep(3000); // time for a double send to show
    for (const [i, r] of rx.requests.entries()) answered.push({ id: String(r.headers['webhook-id']), ok: i >= before });
    const report = await account('Redis restarted empty while webhook deliveries wait (and a kill before the relay)', observer, created, {
      killedBeforeRelay, requests: rx.requests.length,
    });
    const okPerId = new Map<string, number>();
    for (const a of answered) if (a.ok) okPerId.set(a.id, (okPerId.get(a.id) ?? 0) + 1);
    report.webhooks = { delivered: ids.filter((id) => (okPerId.get(id) ?? 0) >= 1).length, expected: ids.length };
    report.notes.unexpectedIds = [...new Set(answered.map((a) => a.id))].filter((id) => !ids.includes(id));
    report.duplicated += [...okPerId.values()].filter((n) => n > 1).length;
    return report;
  } finally {
    for (const p of processes) p.kill('SIGKILL');
    await Promise.all(processes.map((p) => p.exited));
    await observer.stop();
    await rx.close();
    await ownRedis.stop();
  }
}

/**
 * Two worker processes race on the same versions: every version is enqueued twice (a second flow
 * under other job ids), so both run its stages at once and both write its record. The record is
 * changed by compare-and-swap: each version must be released once (one 'released' transition),
 * with every stage's finish recorded, and one image.
 */
export async function raceSameVersion(versions = 4): Promise<FaultReport> {
  const app = await startTestApp({ workers: false, target: 'registry', env: { MLL_EXTRACT_CONCURRENCY: '4', MLL_BUILD_CONCURRENCY: '4' } });
  const workers = [spawnService('workers', app.env), spawnService('workers', app.env)];
  try {
    const model = uniqueName('race');
    const body = await modelTar();
    const created: { model: string; version: number }[] = [];
    const { flows, config } = app.running.services;
    for (let i = 0; i < versions; i++) {
      const version = await upload(app, model, body);
      created.push({ model, version });
      // The same version's flow again, under other job ids: BullMQ sees two different flows.
      const twin = versionFlow(config, { model, version });
      const rename = (job: FlowJob): FlowJob => ({ ...job, opts: { ...job.opts, jobId: `${job.opts!.jobId}.twin` }, children: job.children?.map(rename) });
      await flows.add(rename(twin));
    }
    const report = await account('two workers racing the same versions (each enqueued twice)', app, created);
    let incomplete = 0;
    for (const c of created) {
      const v = await versionOf(app, c.model, c.version);
      if (!v || !(['extract', 'build', 'push'] as const).every((st) => v.stages[st]?.finishedAt) || !v.image?.digest) incomplete += 1;
    }
    report.notes.incompleteRecords = incomplete;
    report.lost += incomplete;
    await countTags(report, app, model, versions);
    return report;
  } finally {
    await stopAll(workers, app);
  }
}

/**
 * A version fails for good while the object store is down, so the failure is only in Redis (the
 * store still says it was extracting) and its failed jobs are kept under their ids. Once the store
 * is back, `mll reindex` must run it again: the kept jobs must not make the new flow a no-op.
 */
export async function reindexAfterRetainedFailure(): Promise<FaultReport> {
  const { app, proxy, stop } = await appBehindStoreProxy({ MLL_STAGE_ATTEMPTS: '2', MLL_STAGE_BACKOFF_MS: '200', MLL_FAILPOINTS: 'extract-mid=sleep:1000' });
  try {
    const model = uniqueName('reindex-retained');
    const version = await upload(app, model, await modelTar());
    await waitForStatus(app, model, version, ['extracting']);
    await proxy.down();
    const failed = await waitForStatus(app, model, version, ['failed', 'released'], 60_000);
    const { catalog, queue } = app.running.services;
    // The worker's own 'failed' handler marks the version again once BullMQ has moved the job; it
    // must see the store down too, or the failure becomes durable and there is nothing to re-run.
    await waitFor('the failed job to be kept', async () =>
      ((await (await queue(versionQueueName).getJob(versionJobId({ model, version })))?.getState()) === 'failed' ? true : undefined));
    await sleep(1000);
    await proxy.up();
    const durable = await catalog.getDurable(model, version);
    const kept = await queue(versionQueueName).getJob(versionJobId({ model, version }));
    const notes: Record<string, unknown> = {
      shownWhileDown: failed.status, durableStatus: durable.status, keptJobState: await kept?.getState(),
    };
    const reindex = await api<{ requeued: number }>(`${app.url}/api/v1/admin/reindex`, { method: 'POST' });
    notes.reindex = { status: reindex.status, requeued: reindex.body.requeued };
    const report = await account('a version failed while the store was down, then mll reindex (its failed jobs kept)', app, [{ model, version }], notes);
    return report;
  } finally {
    await stop();
  }
}

/**
 * Two worker processes on the same queues build every version once; a duplicated job for a
 * finished version does no second piece of work.
 */
export async function twoWorkers(versions = 8): Promise<FaultReport> {
  const app = await startTestApp({ workers: false, target: 'registry' });
  const workers = [spawnService('workers', app.env), spawnService('workers', app.env)];
  try {
    const model = uniqueName('scale-out');
    const body = await modelTar();
    const created = await Promise.all(Array.from({ length: versions }, async () => ({ model, version: await upload(app, model, body) })));
    const report = await account('two worker processes on the same queues', app, created);
    let builds = 0;
    for (const c of created) {
      const events = await app.running.services.catalog.readEvents(c.model, c.version);
      builds += events.filter((e) => e.type === 'log' && /^build: .* builder/.test(e.message ?? '')).length;
    }
    report.notes.builds = builds;
    // A duplicate of a finished version's build job: picked up, and skipped.
    const queue = new Queue(stageQueueNames.build, { connection: app.running.services.queueRedis, prefix: app.running.services.queuePrefix });
    const job = await queue.add('build', { model, version: created[0]!.version }, { jobId: `${model}.v${created[0]!.version}.build-duplicate` });
    const result = await waitFor('the duplicate job to finish', async () => {
      const j = await queue.getJob(job.id!);
      return j?.finishedOn ? j.returnvalue : undefined;
    });
    await queue.close();
    report.notes.duplicateJobResult = result;
    await countTags(report, app, model, versions);
    return report;
  } finally {
    await stopAll(workers, app);
  }
}

export { cleanRedis };
