/**
 * Dependency layer benchmark: a requirements file of a few synthetic wheels (~50 MiB, random
 * bytes, a dependency chain) served by a PEP 503 index over loopback, installed into an image
 * built on the Python runtime and pushed to a private registry, in one run:
 *   docker — `docker build` FROM the runtime with `RUN pip install -r requirements.txt --target
 *            /model/lib` (legacy builder, --no-cache when cold) + `docker push`
 *   oci    — the oci builder in a worker process (pip on the worker, wheels only, the layer written
 *            into the store) + the registry target
 * each cold (empty store, new repository; docker without its cache) and unchanged (the same
 * requirements as a new version), every sample printed, then the worker's peak RSS.
 *
 *   node --import tsx bench/deps/run.ts [--runs 3] [--runtime host/mll/runtime-python:3.11]
 * Needs: eval "$(bash scripts/services/docker.sh start)" and the Python runtime image (python3-pip in it).
 */
import { execFile, execFileSync, fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { startPackageIndex } from '../../test/support/package-index.js';
import { startPrivateRegistry } from '../../test/support/registry.js';
import { median } from '../lib/proc.js';
import type { BuildJob, BuildResult } from './worker.js';

const MiB = 1024 * 1024;
const execFileAsync = promisify(execFile);
const dockerHost = process.env.DOCKER_HOST;
const testRegistry = process.env.MLL_TEST_REGISTRY;
if (!dockerHost || !testRegistry) throw new Error('Start the services first: eval "$(bash scripts/services/docker.sh start)"');
const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    runtime: { type: 'string', default: `${testRegistry}/mll/runtime-python:3.11` },
  },
});
const runs = Number(args.runs);

const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'mll-bench-deps-'));
const registry = await startPrivateRegistry();
const index = await startPackageIndex();
const runtime = `${registry.host}/mll/runtime-python:3.11`;
execFileSync('skopeo', ['copy', '--quiet', '--preserve-digests', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${args.runtime}`, `docker://${runtime}`]);
const dockerEnv = { ...process.env, DOCKER_HOST: dockerHost, DOCKER_BUILDKIT: '0' };
// Asynchronous: the index answers from this process's event loop while docker builds.
async function dockerCli(cmd: string[]): Promise<string> {
  try {
    return (await execFileAsync('docker', cmd, { env: dockerEnv, maxBuffer: 64 * MiB })).stdout;
  } catch (err) {
    throw new Error(`docker ${cmd[0]} failed: ${String((err as { stderr?: string }).stderr ?? err)}`, { cause: err });
  }
}
await dockerCli(['pull', '-q', runtime]);

// ~50 MiB of wheels: a native-extension-like blob and small modules each, a → b → c, and d.
const wheels = [
  { name: 'bench-a', version: '1.0', big: 18, small: 60, requires: ['bench-b==1.0'] },
  { name: 'bench-b', version: '1.0', big: 14, small: 40, requires: ['bench-c>=1.0'] },
  { name: 'bench-c', version: '1.0', big: 10, small: 30, requires: [] },
  { name: 'bench-d', version: '1.0', big: 6, small: 20, requires: [] },
];
let wheelBytes = 0;
for (const w of wheels) {
  const pkg = w.name.replace('-', '_');
  const files: Record<string, string | number> = { [`${pkg}/_native.cpython-311-x86_64-linux-gnu.so`]: w.big * MiB };
  for (let i = 0; i < w.small; i++) files[`${pkg}/mod_${i}.py`] = 2048 + (i * 97) % 6000;
  files[`${pkg}/__init__.py`] = `NAME = "${w.name}"\n`;
  wheelBytes += (await index.addWheel({ name: w.name, version: w.version, files, requires: w.requires })).size;
}
const requirements = 'bench-a==1.0\nbench-d\n';
process.stderr.write(`index ${index.publicUrl}: ${wheels.length} wheels, ${(wheelBytes / MiB).toFixed(1)} MiB\n`);

// The worker: one long-lived process, as in production, so its peak RSS covers every oci build.
const worker: ChildProcess = fork(path.join(import.meta.dirname, 'worker.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
await new Promise<void>((resolve) => worker.once('message', () => resolve()));
function ociBuild(job: BuildJob): Promise<BuildResult> {
  return new Promise((resolve, reject) => {
    worker.once('message', (m: { ok: boolean; result?: BuildResult; error?: string }) => (m.ok ? resolve(m.result!) : reject(new Error(m.error))));
    worker.send(job);
  });
}

/** The baseline: a docker build of the same base with the RUN pip install, then docker push. */
async function dockerBuildPush(repo: string, tag: string, noCache: boolean): Promise<number> {
  const ctxDir = path.join(scratch, `ctx-${repo}`);
  await fs.mkdir(path.join(ctxDir, 'files', 'src'), { recursive: true });
  await fs.writeFile(path.join(ctxDir, 'files', 'requirements.txt'), requirements);
  await fs.writeFile(path.join(ctxDir, 'files', 'src', 'func_main.py'), 'import bench_a\n\ndef predict(x):\n    return {"y": x}\n');
  await fs.writeFile(path.join(ctxDir, 'contract.protobin'), `contract of ${repo}`);
  await fs.writeFile(path.join(ctxDir, 'Dockerfile'), [
    `FROM ${runtime}`,
    'ARG PIP_INDEX_URL',
    'USER 0',
    'COPY files/requirements.txt /tmp/requirements.txt',
    'RUN pip install -r /tmp/requirements.txt --target /model/lib --no-cache-dir --disable-pip-version-check',
    'COPY files/ /model/files/',
    'COPY contract.protobin /model/contract.protobin',
    '',
  ].join('\n'));
  const ref = `${registry.host}/${repo}:${tag}`;
  execFileSync('sync');
  const t0 = performance.now();
  await dockerCli(['build', '-q', ...(noCache ? ['--no-cache'] : []), '--network', 'host', '--build-arg', `PIP_INDEX_URL=${index.url}`, '-t', ref, ctxDir]);
  await dockerCli(['push', '-q', ref]);
  return (performance.now() - t0) / 1000;
}

const samples = {
  dockerCold: [] as number[], dockerUnchanged: [] as number[], ociCold: [] as number[], ociUnchanged: [] as number[],
  ociColdBuild: [] as number[], ociUnchangedBuild: [] as number[], ratio: [] as number[],
};
const dockerRefs: string[] = [];
let layer: BuildResult | undefined;
let maxRssKb = 0;
const job = (model: string, version: number, storeRoot: string): BuildJob => ({
  storeRoot, scratch: path.join(scratch, 'work'), model, version, requirements, runtime, registry: registry.host, indexUrl: index.url,
});

// Warm-up: connections, JIT, the runtime's manifest and config, pip's first start (page cache).
await ociBuild(job('warm-oci', 1, path.join(scratch, 'store-warm')));
await dockerBuildPush('warm-docker', '1', false);

for (let r = 0; r < runs; r++) {
  process.stderr.write(`run ${r + 1}/${runs}\n`);
  const repo = `deps-docker-${r}`;
  const dockerCold = await dockerBuildPush(repo, '1', true);
  samples.dockerCold.push(dockerCold);
  samples.dockerUnchanged.push(await dockerBuildPush(repo, '2', false));
  dockerRefs.push(`${registry.host}/${repo}:1`, `${registry.host}/${repo}:2`);

  // Cold: an empty store (no dependency layer record) and a new repository (every blob uploaded).
  const storeRoot = path.join(scratch, `store-${r}`);
  execFileSync('sync');
  const t0 = performance.now();
  const cold = await ociBuild(job(`deps-oci-${r}`, 1, storeRoot));
  const coldSeconds = (performance.now() - t0) / 1000;
  if (cold.reused) throw new Error('a cold build reused its layer');
  samples.ociCold.push(coldSeconds);
  samples.ociColdBuild.push(cold.buildSeconds);
  samples.ratio.push(dockerCold / coldSeconds);
  layer = cold;
  // Unchanged: the same requirements as new versions, three one after the other.
  for (let v = 2; v <= 4; v++) {
    execFileSync('sync');
    const t1 = performance.now();
    const again = await ociBuild(job(`deps-oci-${r}`, v, storeRoot));
    samples.ociUnchanged.push((performance.now() - t1) / 1000);
    samples.ociUnchangedBuild.push(again.buildSeconds);
    if (!again.reused || again.layerDigest !== cold.layerDigest) throw new Error('an unchanged build did not reuse its layer');
    maxRssKb = again.maxRssKb;
  }
}

worker.kill();
for (const ref of dockerRefs) await dockerCli(['rmi', '-f', ref]).catch(() => undefined);
await index.close();
await registry.dispose();
await fs.rm(scratch, { recursive: true, force: true });

const show = (xs: number[]) => xs.map((x) => x.toFixed(3)).join(', ');
process.stderr.write(`samples (s): ${JSON.stringify(Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, show(v)])))}\n`);
const s = (x: number) => `${x.toFixed(x < 0.1 ? 3 : 2)} s`;
console.log(`\nDependency layer, ${os.cpus().length} CPUs (load average ${os.loadavg()[0]!.toFixed(1)}), ${wheels.length} wheels of ${(wheelBytes / MiB).toFixed(1)} MiB ` +
  `(${layer!.packages} packages, layer ${(layer!.layerBytes / MiB).toFixed(1)} MiB), median of ${runs} run(s):\n`);
console.log('| path | cold (build + push) | unchanged (new version) | samples cold | samples unchanged |');
console.log('| --- | --- | --- | --- | --- |');
console.log(`| docker build + push (RUN pip install) | ${s(median(samples.dockerCold))} | ${s(median(samples.dockerUnchanged))} | ${show(samples.dockerCold)} | ${show(samples.dockerUnchanged)} |`);
console.log(`| oci builder + registry target | ${s(median(samples.ociCold))} | ${s(median(samples.ociUnchanged))} | ${show(samples.ociCold)} | ${show(samples.ociUnchanged)} |`);
console.log(`| of which the oci build (pip + layer) | ${s(median(samples.ociColdBuild))} | ${s(median(samples.ociUnchangedBuild))} | ${show(samples.ociColdBuild)} | ${show(samples.ociUnchangedBuild)} |`);
console.log(`\ndocker ÷ oci, cold (median of per-run ratios): ${median(samples.ratio).toFixed(2)}× (${samples.ratio.map((x) => x.toFixed(2)).join(', ')})`);
console.log(`Worker peak RSS (maxRSS of the process that ran every oci build, pip excluded): ${(maxRssKb / 1024).toFixed(0)} MB`);
console.log('Targets: cold ≥ 3× faster than docker, unchanged < 0.1 s, peak RSS < 200 MB.');
