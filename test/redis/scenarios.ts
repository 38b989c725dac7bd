/**
 * Redis Cluster and Sentinel faults: each scenario runs ML Lambda (API and workers in this
 * process) on a private Redis topology, breaks it on purpose while versions are in flight, and
 * accounts for every version it tried to create. Clients retry a 503 with the same
 * Idempotency-Key, as a client must; every refusal is recorded with its code and message.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { queuePrefix } from '../../queues/names.js';
import { run } from '../../src/bin/run.js';
import { loadConfig } from '../../src/config.js';
import { redisKeys } from '../../src/catalog/redis-keys.js';
import { keySlot } from '../../src/redis/slots.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { api, type PresentedVersion } from '../support/client.js';
import { clusterHealthy, clusterNodes, masterOfSlot, startRedisTopology, type RedisTopology } from '../support/redis-topology.js';
import { uniqueName } from '../support/unique.js';
import { sleep, waitFor } from '../support/wait.js';
import { modelTar, type VersionAccounting } from '../faults/scenarios.js';

const exec = promisify(execFile);

export interface Refusal {
  status: number | 'no answer';
  code?: string;
  message?: string;
}

export interface RedisFaultReport extends VersionAccounting {
  /** Every answer that was not a 202 while uploading or reading (503s during a failover). */
  refusals: Refusal[];
}

/** An upload as a careful client sends it: on a 503 or a lost connection, the same request again with the same Idempotency-Key. */
export async function uploadRetrying(url: string, model: string, body: Buffer, refusals: Refusal[], deadlineMs = 60_000): Promise<number> {
  const key = randomUUID();
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const res = await api<PresentedVersion & { error?: { code: string; message: string } }>(`${url}/api/v1/models/${model}/versions`, {
      method: 'POST', headers: { 'content-type': 'application/x-tar', 'idempotency-key': key }, body: new Uint8Array(body),
    }).catch(() => undefined);
    if (res?.status === 202) return res.body.version;
    refusals.push(res ? { status: res.status, code: res.body.error?.code, message: res.body.error?.message } : { status: 'no answer' });
    const retryable = !res || res.status === 503 || (res.status === 409 && res.body.error?.code === 'CONFLICT');
    if (!retryable || Date.now() > deadline) throw new Error(`upload refused: ${JSON.stringify(refusals.at(-1))}`);
    await sleep(300);
  }
}

async function versionOf(url: string, model: string, version: number, refusals: Refusal[]): Promise<PresentedVersion | undefined> {
  const res = await api<PresentedVersion & { error?: { code: string; message: string } }>(`${url}/api/v1/models/${model}/versions/${version}`).catch(() => undefined);
  if (res?.status === 200) return res.body;
  refusals.push(res ? { status: res.status, code: res.body.error?.code, message: res.body.error?.message } : { status: 'no answer' });
  return undefined;
}

/** Waits for every accepted version to be terminal and checks numbers, releases and listings. */
export async function account(fault: string, url: string, created: { model: string; version: number }[], refusals: Refusal[], notes: Record<string, unknown>, timeoutMs = 90_000): Promise<RedisFaultReport> {
  const report: RedisFaultReport = { fault, attempted: created.length, released: 0, failedWithReason: 0, lost: 0, duplicated: 0, refusals, notes };
  const seen = new Set<string>();
  const deadline = Date.now() + timeoutMs;
  for (const { model, version } of created) {
    const key = `${model}:${version}`;
    if (seen.has(key)) report.duplicated += 1;
    seen.add(key);
    let v: PresentedVersion | undefined;
    while (Date.now() < deadline) {
      v = await versionOf(url, model, version, refusals);
      if (v && (v.status === 'released' || v.status === 'failed')) break;
      await sleep(200);
    }
    if (v?.status === 'released') report.released += 1;
    else if (v?.status === 'failed' && v.error?.code && v.error.message) report.failedWithReason += 1;
    else report.lost += 1;
    const events = await api<{ items: { type: string; status?: string }[] }>(`${url}/api/v1/models/${model}/versions/${version}/events`);
    if ((events.body.items ?? []).filter((e) => e.type === 'status' && e.status === 'released').length > 1) report.duplicated += 1;
  }
  const byModel = new Map<string, number[]>();
  for (const c of created) byModel.set(c.model, [...(byModel.get(c.model) ?? []), c.version]);
  for (const [model, versions] of byModel) {
    const sorted = [...versions].sort((a, b) => a - b);
    // Dense: 1..n, each once. (A refused upload may not spend a number a later one skips.)
    if (sorted.some((n, i) => n !== i + 1)) report.duplicated += 1;
    const list = await api<{ total: number }>(`${url}/api/v1/models/${model}/versions?limit=500`);
    if (list.body.total !== versions.length) report.duplicated += Math.abs(list.body.total - versions.length);
  }
  return report;
}

async function waitForSomeStatus(url: string, created: { model: string; version: number }[], status: string): Promise<void> {
  await waitFor(`a version to be ${status}`, async () => {
    for (const c of created) if ((await versionOf(url, c.model, c.version, []))?.status === status) return true;
    return undefined;
  });
}

async function uploadMany(app: TestApp, models: string[], perModel: number, body: Buffer, refusals: Refusal[], deadlineMs?: number) {
  return Promise.all(models.flatMap((model) => Array.from({ length: perModel }, async () => ({ model, version: await uploadRetrying(app.url, model, body, refusals, deadlineMs) }))));
}

/** The app's settings for these scenarios: short locks and retries, a pause in build so work is in flight. */
const faultEnv = (redisUrl: string, extra: Record<string, string> = {}) => ({
  REDIS_URL: redisUrl, MLL_STAGE_LOCK_MS: '3000', MLL_RECOVERY_CHECK_MS: '1000', MLL_FAILPOINTS: 'build-mid=sleep:1000', MLL_REDIS_WAIT_MS: '10000', ...extra,
});

/**
 * A master is SIGKILLed while versions are being built: the one holding the BullMQ queues (every
 * stage job goes through it). Its replica is promoted; every version completes exactly once.
 */
export async function killMasterMidBatch(): Promise<RedisFaultReport> {
  const cluster = await startRedisTopology('cluster', { nodeTimeoutMs: 1000 });
  let app: TestApp | undefined;
  try {
    app = await startTestApp({ env: faultEnv(cluster.url) });
    const body = await modelTar();
    const refusals: Refusal[] = [];
    const models = [uniqueName('kill-a'), uniqueName('kill-b'), uniqueName('kill-c')];
    const created = await uploadMany(app, models, 2, body, refusals);
    await waitForSomeStatus(app.url, created, 'building');
    const queueSlot = keySlot(`${queuePrefix(app.prefix)}:stage-build:wait`);
    const victim = await masterOfSlot(cluster, queueSlot, cluster.ports[0]!);
    const replica = (await clusterNodes(cluster, cluster.ports[0]!)).find((n) => n.masterId === victim.id)!;
    const killedAt = Date.now();
    await cluster.kill(victim.port);
    // Uploads go on during the failover.
    const during = uploadMany(app, models, 1, body, refusals);
    const live = cluster.ports.filter((p) => p !== victim.port);
    await waitFor('the replica to be promoted', async () => {
      const nodes = await clusterNodes(cluster, replica.port);
      return nodes.find((n) => n.id === replica.id)?.role === 'master' ? true : undefined;
    });
    const promotedAfterMs = Date.now() - killedAt;
    await clusterHealthy(cluster, live);
    created.push(...(await during));
    const report = await account('Cluster: the master holding the queues SIGKILLed mid-batch', app.url, created, refusals, {
      killed: victim.port, promoted: replica.port, promotedAfterMs,
    });
    // The numbers go on after the failover.
    const next = await uploadRetrying(app.url, models[0]!, body, refusals);
    report.notes.nextVersion = next;
    return report;
  } finally {
    await app?.stop().catch(() => undefined);
    await cluster.stop();
  }
}

/**
 * Nodes down at start-up. A seed node that is down while the cluster is whole (its replica took
 * over) does not matter. A shard with neither master nor replica stops the start with an error
 * naming the node and its slots; so do seed nodes none of which answers. When the shard's nodes
 * come back empty, the next start finds its markers gone, rebuilds from the store, and the
 * versions made before are all there and the numbers go on.
 */
export async function nodesDownAtStartup(): Promise<RedisFaultReport> {
  const cluster = await startRedisTopology('cluster', { nodeTimeoutMs: 1000 });
  let app: TestApp | undefined;
  const notes: Record<string, unknown> = {};
  const refusals: Refusal[] = [];
  try {
    const seed = cluster.ports[0]!;
    const first = (await clusterNodes(cluster, seed)).find((n) => n.port === seed)!;
    const firstReplica = (await clusterNodes(cluster, seed)).find((n) => n.masterId === first.id)!;
    await cluster.kill(seed);
    await waitFor('the first seed\'s replica to be promoted', async () =>
      ((await clusterNodes(cluster, firstReplica.port)).find((n) => n.id === firstReplica.id)?.role === 'master' ? true : undefined));
    let live = cluster.ports.filter((p) => p !== seed);
    await clusterHealthy(cluster, live);

    // The first seed node in REDIS_URL is down: ML Lambda starts on the others and works.
    app = await startTestApp({ env: faultEnv(cluster.url, { MLL_FAILPOINTS: '' }) });
    const body = await modelTar();
    const model = uniqueName('startup');
    const created = [];
    for (let i = 0; i < 2; i++) created.push({ model, version: await uploadRetrying(app.url, model, body, refusals) });
    const before = await account('Cluster: a seed node down at start-up', app.url, created, refusals, {});
    notes.withSeedDown = { released: before.released, lost: before.lost };
    const { prefix, config } = app;
    await app.running.stop();

    // A whole shard down: the start stops, naming the node and its slots.
    const nodes = await clusterNodes(cluster, live[0]!);
    const shard = nodes.find((n) => n.role === 'master' && !n.failed && n.port !== firstReplica.port)!;
    const shardReplica = nodes.find((n) => n.masterId === shard.id)!;
    await cluster.kill(shard.port);
    await cluster.kill(shardReplica.port);
    live = live.filter((p) => p !== shard.port && p !== shardReplica.port);
    await waitFor('the cluster to report the shard down', async () =>
      ((await cluster.cli(live[0]!, 'cluster', 'info')).includes('cluster_state:fail') ? true : undefined));
    const env = { ...app.env, REDIS_URL: cluster.url, MLL_REDIS_WAIT_MS: '1500' };
    const started = Date.now();
    notes.shardDown = await run({ api: true, workers: true }, loadConfig(env)).then(
      async (r) => { await r.stop(); return { started: true }; },
      (err: Error & { code?: string }) => ({ code: err.code, message: err.message, afterMs: Date.now() - started }),
    );
    notes.shardDownNode = `127.0.0.1:${shard.port}`;
    notes.noSeedAnswers = await run({ api: true, workers: true }, loadConfig({ ...env, REDIS_URL: `redis+cluster://127.0.0.1:${shard.port},127.0.0.1:${shardReplica.port}` })).then(
      async (r) => { await r.stop(); return { started: true }; },
      (err: Error & { code?: string }) => ({ code: err.code, message: err.message }),
    );

    // The shard's nodes come back, empty: the start rebuilds what the shard lost from the store.
    await cluster.restart(shard.port);
    await cluster.restart(shardReplica.port);
    live.push(shard.port, shardReplica.port);
    await clusterHealthy(cluster, live);
    app = await startTestApp({ env: faultEnv(cluster.url, { MLL_FAILPOINTS: '', MLL_DATA_DIR: config.dataDir, MLL_PREFIX: prefix }) });
    const next = await uploadRetrying(app.url, model, body, refusals);
    created.push({ model, version: next });
    const report = await account('Cluster: nodes down at start-up', app.url, created, refusals, notes);
    report.notes.nextVersion = next;
    return report;
  } finally {
    await app?.stop().catch(() => undefined);
    await cluster.stop();
  }
}

/** Error replies the nodes sent, by kind (INFO errorstats): MOVED, ASK and TRYAGAIN are the redirections clients followed. */
async function errorReplies(cluster: RedisTopology): Promise<Record<string, number>> {
  const totals: Record<string, number> = {};
  for (const port of cluster.ports) {
    const info = await cluster.cli(port, 'info', 'errorstats').catch(() => '');
    for (const [, kind, count] of info.matchAll(/errorstat_(\w+):count=(\d+)/g)) totals[kind!] = (totals[kind!] ?? 0) + Number(count);
  }
  return totals;
}

/** A name (from `make`) whose keys `keyOf(name)` all hash below `maxSlot`, so a reshard of the lowest slots moves them. */
function nameInLowSlots(make: () => string, keysOf: (name: string) => string[], maxSlot: number): string {
  for (;;) {
    const name = make();
    if (keysOf(name).every((key) => keySlot(key) < maxSlot)) return name;
  }
}

/**
 * Resharding under load: `redis-cli --cluster reshard` moves the lowest slots of the first master
 * to another while uploads keep coming and stages run. The deployment prefix and the model names
 * are chosen so that the queues, the global index and every model live in those slots: their
 * commands meet MOVED and ASK redirections (and TRYAGAIN for scripts whose keys are mid-migration).
 */
export async function reshardDuringBatch(slotsToMove = 400): Promise<RedisFaultReport> {
  const cluster = await startRedisTopology('cluster', { nodeTimeoutMs: 2000 });
  let app: TestApp | undefined;
  try {
    const seed = cluster.ports[0]!;
    const source = await masterOfSlot(cluster, 0, seed);
    const moved = Math.min(slotsToMove, source.slots[0]![1] + 1);
    const k = (p: string) => redisKeys(p);
    const prefix = nameInLowSlots(() => uniqueName('mllt'), (p) => [`${queuePrefix(p)}:x`, k(p).models()], moved);
    const models = Array.from({ length: 4 }, () => nameInLowSlots(() => uniqueName('reshard'), (m) => [k(prefix).version(m, 1)], moved));
    app = await startTestApp({ env: faultEnv(cluster.url, { MLL_PREFIX: prefix, MLL_FAILPOINTS: 'build-mid=sleep:300' }) });
    const body = await modelTar();
    const refusals: Refusal[] = [];
    const created = await uploadMany(app, models, 1, body, refusals);
    await waitForSomeStatus(app.url, created, 'building');
    const target = (await clusterNodes(cluster, seed)).find((n) => n.role === 'master' && n.id !== source.id)!;
    let resharding = true;
    const started = Date.now();
    const reshard = exec('redis-cli', ['--cluster', 'reshard', `127.0.0.1:${seed}`, '--cluster-from', source.id, '--cluster-to', target.id,
      '--cluster-slots', String(moved), '--cluster-yes'], { maxBuffer: 64 << 20 }).finally(() => (resharding = false));
    // Uploads keep coming while the slots move, two at a time.
    const during: Promise<{ model: string; version: number }>[] = [];
    for (let i = 0; resharding && i < 40; i++) {
      const model = models[i % models.length]!;
      during.push(uploadRetrying(app.url, model, body, refusals).then((version) => ({ model, version })));
      if (during.length % 2 === 0) await Promise.all(during.slice(-2));
    }
    await reshard;
    const reshardMs = Date.now() - started;
    created.push(...(await Promise.all(during)));
    const redirections = await errorReplies(cluster);
    const queueSlot = keySlot(`${queuePrefix(prefix)}:x`);
    const owner = await masterOfSlot(cluster, queueSlot, seed);
    return await account('Cluster: slots of the queues, the index and the models resharded under load', app.url, created, refusals, {
      slotsMoved: moved, reshardMs, uploadsDuringReshard: during.length, redirections, queueSlotNowOn: owner.port, queueSlotWasOn: source.port, queueSlotMovedTo: target.port,
    });
  } finally {
    await app?.stop().catch(() => undefined);
    await cluster.stop();
  }
}

/** Sentinel: the master is SIGKILLed mid-batch; the sentinels promote the replica and ML Lambda follows. */
export async function sentinelFailover(): Promise<RedisFaultReport> {
  const topology: RedisTopology = await startRedisTopology('sentinel', { nodeTimeoutMs: 1000 });
  let app: TestApp | undefined;
  try {
    app = await startTestApp({ env: faultEnv(topology.url) });
    const body = await modelTar();
    const refusals: Refusal[] = [];
    const models = [uniqueName('sentinel-a'), uniqueName('sentinel-b')];
    const created = await uploadMany(app, models, 2, body, refusals);
    await waitForSomeStatus(app.url, created, 'building');
    const [master, replica, sentinel] = [topology.ports[0]!, topology.ports[1]!, topology.ports[2]!];
    const killedAt = Date.now();
    await topology.kill(master);
    // A failover the sentinels must try again starts over after 2 × failover-timeout (20 s): on a
    // loaded machine uploads may wait that long, as a careful client would.
    const during = uploadMany(app, models, 1, body, refusals, 150_000);
    during.catch(() => undefined); // awaited below; not an unhandled rejection while the promotion is awaited
    await waitFor('the sentinels to promote the replica', async () =>
      ((await topology.cli(sentinel, 'sentinel', 'get-master-addr-by-name', 'mll')).split('\n')[1] === String(replica) ? true : undefined), 150_000);
    const promotedAfterMs = Date.now() - killedAt;
    created.push(...(await during));
    const report = await account('Sentinel: the master SIGKILLed mid-batch', app.url, created, refusals, { killed: master, promoted: replica, promotedAfterMs });
    report.notes.nextVersion = await uploadRetrying(app.url, models[0]!, body, refusals);
    return report;
  } finally {
    await app?.stop().catch(() => undefined);
    await topology.stop();
  }
}
