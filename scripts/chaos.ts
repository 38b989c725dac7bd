/**
 * `npm run chaos`: the fault battery of test/faults with more versions per fault, printed as a
 * table (the README keeps the latest one). Needs the services: scripts/chaos.sh starts them.
 */
import {
  gracefulShutdown, killWorkerAt, loseRedis, raceSameVersion, registryOutage, reindexAfterRetainedFailure, sigtermWithOutage, storeOutage,
  twoWorkers, webhooksAcrossRedisLoss, type FaultReport,
} from '../test/faults/scenarios.js';
import { killMasterMidBatch, nodesDownAtStartup, reshardDuringBatch, sentinelFailover, type RedisFaultReport } from '../test/redis/scenarios.js';

/** The Redis Cluster and Sentinel faults (test/redis/) in the battery's table. */
const redisFault = (run: () => Promise<RedisFaultReport>) => async (): Promise<FaultReport> => {
  const r = await run();
  return { fault: r.fault, attempted: r.attempted, released: r.released, failedWithReason: r.failedWithReason, lost: r.lost, duplicated: r.duplicated, hung: 0, notes: r.notes };
};

const scale = Number(process.env.MLL_CHAOS_VERSIONS ?? 5);
const runs: (() => Promise<FaultReport>)[] = [
  () => killWorkerAt('extract-mid', scale),
  () => killWorkerAt('build-mid', scale),
  () => killWorkerAt('registry-blob-mid', scale),
  () => killWorkerAt('push-mid', scale),
  () => killWorkerAt('s3-multipart-mid', Math.min(scale, 2)),
  () => loseRedis(scale),
  () => storeOutage(),
  () => registryOutage(scale),
  () => gracefulShutdown(),
  () => sigtermWithOutage('redis'),
  () => sigtermWithOutage('store'),
  () => sigtermWithOutage('registry'),
  () => twoWorkers(scale * 4),
  () => raceSameVersion(scale),
  () => webhooksAcrossRedisLoss(scale),
  () => reindexAfterRetainedFailure(),
  redisFault(() => killMasterMidBatch()),
  redisFault(() => nodesDownAtStartup()),
  redisFault(() => reshardDuringBatch()),
  redisFault(() => sentinelFailover()),
];

const rows: FaultReport[] = [];
const started = Date.now();
for (const run of runs) {
  const t = Date.now();
  try {
    const r = await run();
    rows.push(r);
    console.error(`done: ${r.fault} (${((Date.now() - t) / 1000).toFixed(1)} s)`);
  } catch (err) {
    rows.push({ fault: `(scenario crashed: ${(err as Error).message})`, attempted: 0, released: 0, failedWithReason: 0, lost: NaN, duplicated: NaN, hung: NaN, notes: {} });
  }
}
const date = new Date().toISOString().slice(0, 10);
const webhookCell = (r: FaultReport) => (r.webhooks ? `${r.webhooks.delivered} / ${r.webhooks.expected}` : '—');
console.log(`\nFault battery, ${date} (${((Date.now() - started) / 1000).toFixed(0)} s):\n`);
console.log('| fault | versions attempted | released | failed with reason | lost | duplicated | hung | webhooks delivered / expected |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) {
  console.log(`| ${r.fault} | ${r.attempted} | ${r.released} | ${r.failedWithReason} | ${r.lost} | ${r.duplicated} | ${r.hung} | ${webhookCell(r)} |`);
}

/** What is wrong with a row, if anything: a crashed scenario's NaN counts fail every check. */
function problems(r: FaultReport): string[] {
  const found: string[] = [];
  if (!(r.lost === 0)) found.push(`${r.lost} lost`);
  if (!(r.duplicated === 0)) found.push(`${r.duplicated} duplicated`);
  if (!(r.hung === 0)) found.push(`${r.hung} hung`);
  if (!(r.failedWithReason === (r.expectedFailures ?? 0))) found.push(`${r.failedWithReason} failed where ${r.expectedFailures ?? 0} were meant to`);
  if (r.webhooks && r.webhooks.delivered !== r.webhooks.expected) found.push(`${r.webhooks.delivered} of ${r.webhooks.expected} webhook events delivered`);
  return found;
}
let bad = false;
for (const r of rows) {
  const found = problems(r);
  if (found.length > 0) {
    bad = true;
    console.error(`FAIL: ${r.fault}: ${found.join(', ')}`);
  }
}
if (rows.reduce((sum, r) => sum + (r.released || 0), 0) === 0) {
  bad = true;
  console.error('FAIL: no version was released at all');
}
process.exit(bad ? 1 : 0);
