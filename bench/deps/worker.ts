/**
 * Child of bench/deps/run.ts: a worker process that builds (oci builder, pip on this machine) and
 * pushes images on request, so its peak RSS is the worker's alone. Messages in: BuildJob; out:
 * BuildResult. The index, registry and docker baseline live in the parent.
 */
import { createHash } from 'node:crypto';
import type { DependencySettings } from '../../src/image/deps/index.js';
import { OciImageBuilder } from '../../src/image/oci/builder.js';
import { Registries } from '../../src/image/registry/registries.js';
import { RegistryTarget } from '../../src/image/registry/target.js';
import type { OciBuiltImage } from '../../src/image/types.js';
import { createLogger } from '../../src/log.js';
import { FsObjectStore } from '../../src/storage/fs-store.js';
import { putTree } from '../../test/image/helpers.js';

export interface BuildJob {
  storeRoot: string;
  scratch: string;
  model: string;
  version: number;
  requirements: string;
  runtime: string;
  registry: string;
  indexUrl: string;
}

export interface BuildResult {
  buildSeconds: number;
  pushSeconds: number;
  reused: boolean;
  layerDigest: string;
  layerBytes: number;
  packages: number;
  maxRssKb: number;
}

const logger = createLogger('warn');
const registries = new Registries({ logger });

async function run(job: BuildJob): Promise<BuildResult> {
  const store = new FsObjectStore({ root: job.storeRoot });
  const dependencies: DependencySettings = {
    install: true, index: { indexUrl: job.indexUrl, extraIndexUrls: [], trustedHosts: [] }, allowSdist: false, sandbox: 'bwrap',
    timeoutMs: 600_000, maxBytes: 2 * 1024 ** 3, interpreter: 'python3', defaultPythonVersion: '3.11',
    searchPath: process.env.PATH ?? '/usr/bin:/bin',
  };
  const builder = new OciImageBuilder({ store, logger, registries, runtimes: { python: job.runtime }, compression: 'none', scratchDir: job.scratch, dependencies });
  const target = new RegistryTarget({ store, logger, registries, registry: job.registry });
  const tree = await putTree(store, [
    { path: 'src/func_main.py', content: 'import bench_a\n\ndef predict(x):\n    return {"y": x}\n' },
    { path: 'requirements.txt', content: job.requirements },
  ]);
  const protobin = Buffer.from(`contract of ${job.model}`);
  const tStart = performance.now();
  const ctx = { signal: new AbortController().signal, log: (l: string) => { if (process.env.BENCH_TRACE) process.stderr.write(`  [${((performance.now() - tStart) / 1000).toFixed(2)}] ${l.slice(0, 150)}\n`); }, logger };
  const t0 = performance.now();
  const image = await builder.build({
    model: job.model, version: job.version, modelType: 'python:3.11', framework: 'python', tree,
    contract: { protobin, digest: `sha256:${createHash('sha256').update(protobin).digest('hex')}` },
    dependencies: { source: 'requirements.txt', text: job.requirements },
  }, ctx) as OciBuiltImage;
  const t1 = performance.now();
  await target.publish(image, { repository: job.model, tag: String(job.version) }, ctx);
  const t2 = performance.now();
  const deps = image.dependencies!;
  return {
    buildSeconds: (t1 - t0) / 1000, pushSeconds: (t2 - t1) / 1000, reused: deps.reused, layerDigest: deps.digest, layerBytes: deps.size,
    packages: deps.packages.length, maxRssKb: process.resourceUsage().maxRSS,
  };
}

process.on('message', (job: BuildJob) => {
  run(job).then(
    (result) => process.send!({ ok: true, result }),
    (err: unknown) => process.send!({ ok: false, error: err instanceof Error ? err.message : String(err) }),
  );
});
process.send!({ ready: true });
