/**
 * Image benchmark: for payloads of 10 MiB, 300 MiB (one file) and 300 MiB (30 files) of random bytes,
 * times in one run and against one registry (a private instance, removed afterwards):
 *   docker    — the dockerode builder (docker build, context streamed from the store) + docker push;
 *               docker gzips its layers
 *   oci+gzip  — the daemonless oci builder with gzip layers (MLL_LAYER_COMPRESSION=gzip, level 1),
 *               like for like with docker's compressed layers
 *   oci+zstd  — the oci builder with zstd layers (MLL_LAYER_COMPRESSION=zstd: level 3, every core)
 *   oci       — the oci builder with uncompressed layers (the default) + the registry target
 *   raw       — the floor: each payload file's bytes as one monolithic blob upload (POST, PUT ?digest=),
 *               as many at once as the registry target uploads new layers (LAYER_UPLOADS_IN_FLIGHT)
 * each cold (new bytes) and unchanged (the same payload as a new version), then the peak RSS of a
 * child process that builds and pushes a 1 GiB payload, then an unchanged payload as a new version
 * end to end through the service (unchanged-e2e.ts: upload done → released).
 *
 *   node --import tsx bench/image/run.ts [--sizes 10,300,300x30] [--runs 1] [--skip-docker] [--rss-gib 1]
 *        [--e2e-sizes 0,64] [--e2e-versions 5]
 * Needs: eval "$(bash scripts/services/s3.sh start)"; eval "$(bash scripts/services/docker.sh start)"
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
import { LAYER_UPLOADS_IN_FLIGHT, RegistryTarget } from '../../src/image/registry/target.js';
import type { BuildRequest, StageContext } from '../../src/image/types.js';
import { createLogger } from '../../src/log.js';
import { mapLimit } from '../../src/shared/map-limit.js';
import { FsObjectStore } from '../../src/storage/fs-store.js';
import { startPrivateRegistry } from '../../test/support/registry.js';
import { randomTree } from './payload.js';
import { e2eTable, measureUnchangedE2e, type E2eRow } from './unchanged-e2e.js';

const MiB = 1024 * 1024;
const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10,300,300x30' },
    runs: { type: 'string', default: '1' },
    'skip-docker': { type: 'boolean', default: false },
    'rss-gib': { type: 'string', default: '1' },
    'e2e-sizes': { type: 'string', default: '0,64' },
    'e2e-versions': { type: 'string', default: '5' },
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
const zstdBuilder = new OciImageBuilder({ store, logger, registries, runtimes: { python: runtime }, compression: 'zstd', scratchDir: scratch });
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

/**
 * The floor: each payload file's bytes as one blob, POST then a monolithic PUT ?digest= (digests
 * known beforehand), as many at once as the registry target uploads new layers.
 */
async function rawUpload(tree: TreeManifest): Promise<void> {
  const client = new RegistryClient({ registry: registry.host, insecure: true });
  const repo = name('raw');
  const files = tree.entries.flatMap((e) => (e.type === 'file' ? [e] : []));
  await mapLimit(files, LAYER_UPLOADS_IN_FLIGHT, async (e) => {
    const outcome = await client.uploadBlob(repo, { digest: e.digest, size: e.size, open: () => store.get(keys.blob(e.digest)) });
    if (outcome !== 'uploaded') throw new Error(`raw upload was ${outcome}`);
  });
}

type Series = 'dockerCold' | 'dockerUnchanged' | 'gzipCold' | 'gzipUnchanged' | 'zstdCold' | 'zstdUnchanged' | 'ociCold' | 'ociUnchanged' | 'raw'
  | 'ociOverRaw' | 'dockerOverOci' | 'dockerOverGzip' | 'dockerOverZstd';
/** Medians of every series; ratios are medians of the per-run ratios (measured back to back in each run). */
interface Row { payload: string; median: Partial<Record<Series, number>>; samples: Record<Series, number[]> }
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
  const samples: Record<Series, number[]> = {
    dockerCold: [], dockerUnchanged: [], gzipCold: [], gzipUnchanged: [], zstdCold: [], zstdUnchanged: [], ociCold: [], ociUnchanged: [], raw: [],
    ociOverRaw: [], dockerOverOci: [], dockerOverGzip: [], dockerOverZstd: [],
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
    for (const [kind, builder, coldSeries, unchangedSeries, ratioSeries] of [
      ['gzip', gzipBuilder, 'gzipCold', 'gzipUnchanged', 'dockerOverGzip'],
      ['zstd', zstdBuilder, 'zstdCold', 'zstdUnchanged', 'dockerOverZstd'],
    ] as const) {
      const tree = await randomTree(store, count, total / count, scratch);
      const model = name(kind);
      const cold = await timed(() => buildAndPush(builder, model, 1, tree));
      samples[coldSeries].push(cold);
      if (dockerCold !== undefined) samples[ratioSeries].push(dockerCold / cold);
      samples[unchangedSeries].push(await timed(() => buildAndPush(builder, model, 2, tree)));
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
  }
  const shown = Object.fromEntries(Object.entries(samples).filter(([, v]) => v.length).map(([k, v]) => [k, v.map((x) => Number(x.toFixed(3)))]));
  process.stderr.write(`${label}: ${JSON.stringify(shown)}\n`);
  rows.push({
    payload: label,
    samples,
    median: Object.fromEntries(Object.entries(samples).filter(([, v]) => v.length).map(([k, v]) => [k, median(v)])),
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

// An unchanged payload as a new version through the whole service, against the same registry.
let e2e: E2eRow[] = [];
const e2eSizes = args['e2e-sizes'].split(',').filter((x) => x !== '').map(Number);
if (e2eSizes.length > 0) {
  e2e = await measureUnchangedE2e({ registry: registry.host, runtime, sizesMiB: e2eSizes, versions: Number(args['e2e-versions']) });
}

for (const tag of dockerTags) { try { execFileSync('docker', ['rmi', '-f', tag], { stdio: 'ignore' }); } catch { /* gone */ } }
await registry.dispose();
await fs.rm(scratch, { recursive: true, force: true });

const s = (x?: number) => (x === undefined ? '—' : `${x.toFixed(x < 0.1 ? 3 : 2)} s`);
const every = (xs: number[]) => (xs.length > 1 ? ` (${xs.map((x) => x.toFixed(x < 0.1 ? 3 : 2)).join(', ')})` : '');
const cell = (r: Row, k: Series) => `${s(r.median[k])}${every(r.samples[k])}`;
const ratio = (r: Row, k: Series) => (r.median[k] === undefined ? '—' : `${r.median[k]!.toFixed(2)}×${every(r.samples[k]).replace(/\)$/, '×)')}`);
const lines = [
  '| payload | docker build+push (gzip) | oci+gzip build+push | oci+zstd build+push | oci build+push (uncompressed) | raw upload (floor, 6 at once) | docker ÷ oci+gzip | docker ÷ oci+zstd | docker ÷ oci | oci ÷ raw | unchanged: docker | unchanged: oci+gzip | unchanged: oci+zstd | unchanged: oci |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...rows.map((r) => `| ${r.payload} | ${cell(r, 'dockerCold')} | ${cell(r, 'gzipCold')} | ${cell(r, 'zstdCold')} | ${cell(r, 'ociCold')} | ${cell(r, 'raw')} | ${ratio(r, 'dockerOverGzip')} | ${ratio(r, 'dockerOverZstd')} | ${ratio(r, 'dockerOverOci')} | ${ratio(r, 'ociOverRaw')} | ${cell(r, 'dockerUnchanged')} | ${cell(r, 'gzipUnchanged')} | ${cell(r, 'zstdUnchanged')} | ${cell(r, 'ociUnchanged')} |`),
];
const load = () => os.loadavg().map((x) => x.toFixed(1)).join(' ');
console.log(`\nImage build + push, ${new Date().toISOString().slice(0, 16)} UTC, ${os.cpus().length} CPUs (load average ${load()}), median of ${runs} run(s), every sample in brackets (ratios: median of per-run ratios; unchanged oci: 3 versions per run), one private registry (distribution ${execFileSync('docker-registry', ['--version']).toString().split(' ')[2]?.trim()}):\n`);
console.log(lines.join('\n'));
if (rss) console.log(`\nPeak RSS of a process building and pushing a ${rss.gib} GiB payload (oci builder + registry target): ${rss.peakMb.toFixed(0)} MB (${rss.seconds.toFixed(1)} s)`);
if (e2e.length > 0) {
  console.log(`\nAn unchanged payload as a new version, upload done (202) → released seen on the version's event stream; API and workers as two processes, S3 store, oci builder, the registry above (load average ${load()}); stages from the events' timestamps, medians:\n`);
  console.log(e2eTable(e2e));
}
console.log('\nTargets: cold 300 MiB ≥ 8× faster than docker and ≤ 1.3× the raw upload; unchanged < 0.1 s (build + push) and < 0.3 s end to end (upload done → released); peak RSS < 150 MB at 1 GiB.');
