/**
 * The docker baseline of bench/batch, measured rather than stated: `docker build` + `docker push`
 * of a sample of the same tiny Python models (FROM the Python runtime, the model folder copied to
 * /model/files), one at a time and then `concurrency` at a time, against the project's dockerd
 * (DOCKER_HOST from scripts/services/docker.sh) and a private registry (removed afterwards). The
 * time for 1,000 models is extrapolated from the sample, and the table says so.
 *
 *   node --import tsx bench/batch/docker-sample.ts [--sample 20] [--concurrency 8]
 * Also run by bench/batch/run.ts after its batch (--docker-sample 0 skips it).
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { promisify } from 'node:util';
import { mapLimit } from '../../src/shared/map-limit.js';
import { startPrivateRegistry } from '../../test/support/registry.js';
import { median } from '../lib/proc.js';
import { writePythonModels } from './models.js';

const run = promisify(execFile);

export interface DockerSampleResult {
  sample: number;
  /** Per-model build+push seconds, one model at a time. */
  sequential: number[];
  sequentialWall: number;
  concurrency: number;
  /** Wall seconds for the whole sample, `concurrency` models at a time. */
  concurrentWall: number;
  loadBefore: number;
  loadAfter: number;
}

export async function measureDockerSample(options: { sample: number; concurrency: number; total: number }): Promise<DockerSampleResult> {
  const dockerHost = process.env.DOCKER_HOST;
  const base = process.env.MLL_TEST_BASE_PYTHON;
  if (!dockerHost || !base) throw new Error('Start the services first: eval "$(bash scripts/services/docker.sh start)"');
  const env = { ...process.env, DOCKER_HOST: dockerHost };
  const docker = (args: string[]) => run('docker', args, { env, maxBuffer: 16 * 1024 * 1024 });
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'mll-bench-docker-sample-'));
  const registry = await startPrivateRegistry();
  const tags: string[] = [];
  try {
    const dockerfile = path.join(tmp, 'Dockerfile');
    await fs.writeFile(dockerfile, `FROM ${base}\nCOPY . /model/files/\n`);
    const stamp = Date.now().toString(36);
    // Warm-up (not counted): the base's layers reach the registry once, as they would in production.
    const [warm] = await writePythonModels(path.join(tmp, 'warm'), `dockerwarm-${stamp}`, 1);
    const one = async (dir: string) => {
      const tag = `${registry.host}/${path.basename(dir)}:1`;
      tags.push(tag);
      const t0 = performance.now();
      await docker(['build', '--quiet', '-f', dockerfile, '-t', tag, dir]);
      await docker(['push', '--quiet', tag]);
      return (performance.now() - t0) / 1000;
    };
    await one(warm!);
    const loadBefore = os.loadavg()[0]!;
    const sequentialDirs = await writePythonModels(path.join(tmp, 'seq'), `dockerseq-${stamp}`, options.sample);
    const concurrentDirs = await writePythonModels(path.join(tmp, 'par'), `dockerpar-${stamp}`, options.sample);
    const sequential: number[] = [];
    let t0 = performance.now();
    for (const dir of sequentialDirs) {
      sequential.push(await one(dir));
      process.stderr.write(`docker build+push ${sequential.length}/${options.sample}: ${sequential.at(-1)!.toFixed(2)} s\n`);
    }
    const sequentialWall = (performance.now() - t0) / 1000;
    t0 = performance.now();
    await mapLimit(concurrentDirs, options.concurrency, one);
    const concurrentWall = (performance.now() - t0) / 1000;
    process.stderr.write(`docker build+push of ${options.sample}, ${options.concurrency} at a time: ${concurrentWall.toFixed(1)} s\n`);
    return { sample: options.sample, sequential, sequentialWall, concurrency: options.concurrency, concurrentWall, loadBefore, loadAfter: os.loadavg()[0]! };
  } finally {
    for (let i = 0; i < tags.length; i += 50) {
      try { execFileSync('docker', ['rmi', '-f', ...tags.slice(i, i + 50)], { env, stdio: 'ignore' }); } catch { /* gone */ }
    }
    await registry.dispose();
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/** The README rows: measured on the sample, extrapolated to `total` (and said to be). */
export function dockerSampleTable(r: DockerSampleResult, total: number): string {
  const perModel = median(r.sequential);
  const scale = total / r.sample;
  const minutes = (s: number) => `${(s / 60).toFixed(1)} min`;
  return [
    `| docker build + push per model (measured on ${r.sample}, extrapolated to ${total.toLocaleString('en')}) | result |`,
    '| --- | --- |',
    `| one at a time, per model | median ${perModel.toFixed(2)} s (${r.sequential.map((x) => x.toFixed(2)).join(', ')}) |`,
    `| one at a time, ${r.sample} models | ${r.sequentialWall.toFixed(1)} s → ${total.toLocaleString('en')} extrapolated: ${minutes(r.sequentialWall * scale)} |`,
    `| ${r.concurrency} at a time, ${r.sample} models | ${r.concurrentWall.toFixed(1)} s → ${total.toLocaleString('en')} extrapolated: ${minutes(r.concurrentWall * scale)} |`,
    `| machine load (1 min) | ${r.loadBefore.toFixed(1)} before, ${r.loadAfter.toFixed(1)} after (${os.cpus().length} CPUs) |`,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { sample: { type: 'string', default: '20' }, concurrency: { type: 'string', default: '8' }, total: { type: 'string', default: '1000' } } });
  const total = Number(values.total);
  const result = await measureDockerSample({ sample: Number(values.sample), concurrency: Number(values.concurrency), total });
  console.log(`\nDocker per model, ${new Date().toISOString().slice(0, 16)} UTC:\n`);
  console.log(dockerSampleTable(result, total));
}
