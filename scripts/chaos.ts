/**
 * `npm run chaos`: the fault battery of test/faults with more versions per fault, printed as a
 * table (the README keeps the latest one). Needs the services: scripts/chaos.sh starts them.
 */
import {
  gracefulShutdown, killWorkerMidStage, loseRedis, registryOutage, storeOutage, twoWorkers, type FaultReport,
} from '../test/faults/scenarios.js';
import { killMasterMidBatch, nodesDownAtStartup, reshardDuringBatch, sentinelFailover, type RedisFaultReport } from '../test/redis/scenarios.js';

/** The Redis Cluster and Sentinel faults (test/redis/) in the battery's table. */
const redisFault = (run: () => Promise<RedisFaultReport>) => async (): Promise<FaultReport> => {
  const r = await run();
  return { fault: r.fault, attempted: r.attempted, released: r.released, failedWithReason: r.failedWithReason, lost: r.lost, duplicated: r.duplicated, hung: 0, notes: r.notes };
};

const scale = Number(process.env.MLL_CHAOS_VERSIONS ?? 5);
const runs: (() => Promise<FaultReport>)[] = [
  () => killWorkerMidStage('extract', scale),
  () => killWorkerMidStage('build', scale),
  () => killWorkerMidStage('push', scale),
  () => loseRedis(scale),
  () => storeOutage(),
  () => registryOutage(scale),
  () => gracefulShutdown(),
  () => twoWorkers(scale * 4),
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
console.log(`\nFault battery, ${date} (${((Date.now() - started) / 1000).toFixed(0)} s):\n`);
console.log('| fault | versions attempted | released | failed with reason | lost | duplicated |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) console.log(`| ${r.fault} | ${r.attempted} | ${r.released} | ${r.failedWithReason} | ${r.lost} | ${r.duplicated} |`);
const bad = rows.some((r) => !(r.lost === 0 && r.duplicated === 0));
process.exit(bad ? 1 : 0);
