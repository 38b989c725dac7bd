/**
 * Image benchmark: for payloads of 10 MiB, 300 MiB (one file) and 300 MiB (30 files) of random bytes,
 * times in one run and against one registry (a private instance, removed afterwards):
 *   docker  — the dockerode builder (docker build, context streamed from the store) + docker push
 *   oci     — the daemonless oci builder + the registry target (OCI distribution API)
 *   raw     — a raw monolithic blob upload (POST, PUT ?digest=) of the payload's bytes: the floor
 * each cold (new bytes) and unchanged (the same payload as a new version), then the peak RSS of a
 * child process that builds and pushes a 1 GiB payload.
 *
 *   node --import tsx bench/image/run.ts [--sizes 10,300,300x30] [--runs 1] [--skip-docker] [--rss-gib 1]
 * Needs: eval "$(bash scripts/services/docker.sh start)"
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { keys } from '../../src/domain/keys.js';
import type { TreeManifest } from '../../src/domain/tree.js';
import { DockerImageBuilder } from '../../src/image/docker/builder.js';
import { createDocker } from '../../src/image/docker/engine.js';
import { OciImageBuilder } from '../../src/image/oci/builder.js';
import { RegistryClient } from '../../src/image/registry/client.js';
import { Registries } from '../../src/image/registry/registries.js';
import { RegistryTarget } from '../../src/image/registry/target.js';
import type { BuildRequest, StageContext } from '../../src/image/types.js';
import { createLogger } from '../../src/log.js';
import { FsObjectStore } from '../../src/storage/fs-store.js';
import { startPrivateRegistry } from '../../test/support/registry.js';
import { randomTree } from './payload.js';

const MiB = 1024 * 1024;
const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10,300,300x30' },
    runs: { type: 'string', default: '1' },
    'skip-docker': { type: 'boolean', default: false },
    'rss-gib': { type: 'string', default: '1' },
    gzip: { type: 'boolean', default: false },
  },
});
const runs = Number(args.runs);
const dockerHost = process.env.DOCKER_HOST;
const basePython = process.env.MLL_TEST_BASE_PYTHON;
if (!dockerHost || !basePython) throw new Error('Start the services first: eval "$(bash scripts/services/docker.sh start)"');

const logger = createLogger('warn');
const ctx = (): StageContext => ({ signal: new AbortController().signal, log: () => undefined, logger });
const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'mll-bench-image-'));
const store = new FsObjectStore({ root: path.join(scratch, 'store') });
const registry = await startPrivateRegistry();
let modelSeq = 0;
const name = (kind: string) => `bench-${kind}-${Date.now().toString(36)}-${modelSeq++}`;

// The runtime lives in the same registry as the pushes, as in production (base layers mount).
const runtime = `${registry.host}/mll/runtime-python:dev`;
execFileSync('skopeo', ['copy', '--quiet', '--preserve-digests', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${basePython}`, `docker://${runtime}`]);

const registries = new Registries({ logger });
const docker = createDocker(dockerHost);
const ociBuilder = new OciImageBuilder({ store, logger, registries, runtimes: { python: runtime }, compression: 'none', scratchDir: scratch });
const gzipBuilder = new OciImageBuilder({ store, logger, registries, runtimes: { python: runtime }, compression: 'gzip', scratchDir: scratch });
const dockerBuilder = new DockerImageBuilder({ store, logger, registries, runtimes: { python: runtime }, docker: () => docker });
const target = new RegistryTarget({ store, logger, registries, registry: registry.host });
const dockerTags: string[] = [];

function request(model: string, version: number, tree: TreeManifest): BuildRequest {
  const protobin = Buffer.from(`contract of ${model}`);
  return {
    model, version, modelType: 'python:3.11', framework: 'python', tree,
    contract: { protobin, digest: `sha256:${createHash('sha256').update(protobin).digest('hex')}` },
  };
}

/** Each measurement starts with the disk's write-back done, so one path's writes do not slow the next. */
async function timed(fn: () => Promise<unknown>): Promise<number> {
  execFileSync('sync');
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

async function buildAndPush(builder: OciImageBuilder | DockerImageBuilder, model: string, version: number, tree: TreeManifest): Promise<void> {
  const image = await builder.build(request(model, version, tree), ctx());
  if (image.kind === 'docker') dockerTags.push(image.localTag, `${registry.host}/${model}:${version}`);
  await target.publish(image, { repository: model, tag: String(version) }, ctx());
}

/** The floor: each payload file's bytes as one blob, POST then a monolithic PUT ?digest= (digests known beforehand). */
async function rawUpload(tree: TreeManifest): Promise<void> {
  const client = new RegistryClient({ registry: registry.host, insecure: true });
  const repo = name('raw');
  for (const e of tree.entries) {
    if (e.type !== 'file') continue;
    const outcome = await client.uploadBlob(repo, { digest: e.digest, size: e.size, open: () => store.get(keys.blob(e.digest)) });
    if (outcome !== 'uploaded') throw new Error(`raw upload was ${outcome}`);
  }
}

interface Row {
  payload: string; dockerCold?: number; dockerUnchanged?: number; ociCold: number; ociUnchanged: number; raw: number; gzipCold?: number;
  /** Median of the per-run ratios (each run's oci and raw measured back to back). */
  ociOverRaw: number; dockerOverOci?: number;
}
const rows: Row[] = [];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// Warm-up (connections, JIT, the runtime's manifest and config), as in a long-running worker.
{
  const warm = await randomTree(store, 1, MiB, scratch);
  await buildAndPush(ociBuilder, name('warm'), 1, warm);
  if (!args['skip-docker']) await buildAndPush(dockerBuilder, name('warm'), 1, warm);
}

for (const spec of args.sizes.split(',')) {
  const [mib, countText] = spec.split('x');
  const count = Number(countText ?? 1);
  const total = Number(mib) * MiB;
  const label = `${mib} MiB${count > 1 ? ` (${count} files)` : ' (1 file)'}`;
  const samples: Record<keyof Omit<Row, 'payload'>, number[]> = {
    dockerCold: [], dockerUnchanged: [], ociCold: [], ociUnchanged: [], raw: [], gzipCold: [], ociOverRaw: [], dockerOverOci: [],
  };
  for (let r = 0; r < runs; r++) {
    process.stderr.write(`${label}: run ${r + 1}/${runs}\n`);
    let dockerCold: number | undefined;
    if (!args['skip-docker']) {
      const tree = await randomTree(store, count, total / count, scratch);
      const model = name('docker');
      dockerCold = await timed(() => buildAndPush(dockerBuilder, model, 1, tree));
      samples.dockerCold.push(dockerCold);
      samples.dockerUnchanged.push(await timed(() => buildAndPush(dockerBuilder, model, 2, tree)));
    }
    const tree = await randomTree(store, count, total / count, scratch);
    const model = name('oci');
    const cold = await timed(() => buildAndPush(ociBuilder, model, 1, tree));
    const raw = await timed(() => rawUpload(tree));
    samples.ociCold.push(cold);
    samples.raw.push(raw);
    samples.ociOverRaw.push(cold / raw);
    if (dockerCold !== undefined) samples.dockerOverOci.push(dockerCold / cold);
    // Unchanged: the same payload as new versions (three, one after the other).
    for (let v = 2; v <= 4; v++) samples.ociUnchanged.push(await timed(() => buildAndPush(ociBuilder, model, v, tree)));
    if (args.gzip) {
      const gzTree = await randomTree(store, count, total / count, scratch);
      samples.gzipCold.push(await timed(() => buildAndPush(gzipBuilder, name('gzip'), 1, gzTree)));
    }
  }
  process.stderr.write(`${label}: ${JSON.stringify(Object.fromEntries(Object.entries(samples).filter(([, v]) => v.length).map(([k, v]) => [k, v.map((x) => Number(x.toFixed(3)))])))}\n`);
  rows.push({
    payload: label,
    dockerCold: samples.dockerCold.length ? median(samples.dockerCold) : undefined,
    dockerUnchanged: samples.dockerUnchanged.length ? median(samples.dockerUnchanged) : undefined,
    ociCold: median(samples.ociCold), ociUnchanged: median(samples.ociUnchanged), raw: median(samples.raw),
    ociOverRaw: median(samples.ociOverRaw), dockerOverOci: samples.dockerOverOci.length ? median(samples.dockerOverOci) : undefined,
    gzipCold: samples.gzipCold.length ? median(samples.gzipCold) : undefined,
  });
}

// Peak RSS: a child builds and pushes a 1 GiB payload; its maxRSS is what counts.
let rss: { gib: number; peakMb: number; seconds: number } | undefined;
if (Number(args['rss-gib']) > 0) {
  const gib = Number(args['rss-gib']);
  process.stderr.write(`peak RSS with ${gib} GiB\n`);
  const tree = await randomTree(store, 1, gib * 1024 * MiB, scratch);
  const treeFile = path.join(scratch, 'rss-tree.json');
  await fs.writeFile(treeFile, JSON.stringify(tree));
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'rss-child.ts'), path.join(scratch, 'store'), treeFile, registry.host, runtime, scratch],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.on('data', (c: Buffer) => { text += c.toString(); });
    child.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`rss child exited ${code}`))));
  });
  const parsed = JSON.parse(out) as { maxRssKb: number; seconds: number };
  rss = { gib, peakMb: parsed.maxRssKb / 1024, seconds: parsed.seconds };
}

for (const tag of dockerTags) { try { execFileSync('docker', ['rmi', '-f', tag], { stdio: 'ignore' }); } catch { /* gone */ } }
await registry.dispose();
await fs.rm(scratch, { recursive: true, force: true });

const s = (x?: number) => (x === undefined ? '—' : `${x.toFixed(x < 0.1 ? 3 : 2)} s`);
const ratio = (a?: number, b?: number) => (a === undefined || b === undefined ? '—' : `${(a / b).toFixed(2)}×`);
const lines = [
  `| payload | docker build+push cold | oci build+push cold | raw upload (floor) | docker ÷ oci (cold) | oci ÷ raw | docker unchanged | oci unchanged${args.gzip ? ' | oci gzip cold' : ''} |`,
  `| --- | --- | --- | --- | --- | --- | --- | ---${args.gzip ? ' | ---' : ''} |`,
  ...rows.map((r) => `| ${r.payload} | ${s(r.dockerCold)} | ${s(r.ociCold)} | ${s(r.raw)} | ${ratio(r.dockerOverOci, 1)} | ${ratio(r.ociOverRaw, 1)} | ${s(r.dockerUnchanged)} | ${s(r.ociUnchanged)}${args.gzip ? ` | ${s(r.gzipCold)}` : ''} |`),
];
console.log(`\nImage build + push, ${os.cpus().length} CPUs (load average ${os.loadavg()[0]!.toFixed(1)}), median of ${runs} run(s) (ratios: median of per-run ratios; unchanged: median of 3 versions per run), one private registry (distribution ${execFileSync('docker-registry', ['--version']).toString().split(' ')[2]?.trim()}):\n`);
console.log(lines.join('\n'));
if (rss) console.log(`\nPeak RSS of a process building and pushing a ${rss.gib} GiB payload (oci builder + registry target): ${rss.peakMb.toFixed(0)} MB (${rss.seconds.toFixed(1)} s)`);
console.log('\nTargets: cold 300 MiB ≥ 8× faster than docker and ≤ 1.3× the raw upload; unchanged < 0.1 s; peak RSS < 150 MB at 1 GiB.');
