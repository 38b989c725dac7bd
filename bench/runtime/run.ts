/**
 * Runtime start-up benchmark: the time from `docker start` until ML Lambda's Python runtime answers
 * GET /v2/health/ready with 200 (contract read, gRPC and HTTP faces listening, func_main imported),
 * against a floor measured in the same run on the same image and engine: `python3 -m http.server`
 * answering the same path (container start + the interpreter + a listening socket, nothing else).
 * Alternating, every sample printed, medians and their ratio. Target: ready < 2 s. The CPU time the
 * container used until ready is printed too: on a machine shared with other work it tells what the
 * start costs when wall time mostly measures waiting for a core.
 * Then the images' sizes: compressed in the registry, unpacked in the engine.
 *
 *   node --import tsx bench/runtime/run.ts [--runs 7]
 * Needs: eval "$(bash scripts/services/docker.sh start)"
 */
import fs from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { Contract } from '../../src/contract/index.js';
import { docker, pull, startRuntime, writeModelDir } from '../../test/runtime/support.js';

const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '7' } } });
const runs = Number(args.runs);
const [plain, sklearn] = [process.env.MLL_TEST_BASE_PYTHON, process.env.MLL_TEST_BASE_PYTHON_SKLEARN];
if (!process.env.DOCKER_HOST || !plain || !sklearn) throw new Error('Start the services first: eval "$(bash scripts/services/docker.sh start)"');
const images: Record<string, string> = { 'runtime-python': plain, 'runtime-python-sklearn': sklearn };

const contract: Contract = {
  framework: 'python',
  signatures: [{ name: 'predict', inputs: [{ name: 'x', dtype: 'float', shape: [-1] }], outputs: [{ name: 'y', dtype: 'float', shape: [-1] }] }],
};
const models: Record<string, string> = {
  'runtime-python': 'def predict(x):\n    return {"y": x * 2 + 1}\n',
  'runtime-python-sklearn': 'from sklearn.linear_model import LinearRegression\n\ndef predict(x):\n    return {"y": x * 2 + 1}\n',
};
const floorCommand = ['sh', '-c', 'mkdir -p /tmp/w/v2/health && echo ok > /tmp/w/v2/health/ready && cd /tmp/w && exec python3 -m http.server 9091'];

/** CPU time the container has used (cgroup v1 cpuacct or v2 cpu.stat): independent of how busy the machine is. */
async function cpuMs(id: string): Promise<number> {
  const v1 = await fs.readFile(`/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`, 'utf8').catch(() => null);
  if (v1) return Number(v1) / 1e6;
  for (const file of [`/sys/fs/cgroup/system.slice/docker-${id}.scope/cpu.stat`, `/sys/fs/cgroup/docker/${id}/cpu.stat`]) {
    const v2 = await fs.readFile(file, 'utf8').catch(() => null);
    const usec = v2 && /usage_usec (\d+)/.exec(v2);
    if (usec) return Number(usec[1]) / 1e3;
  }
  return NaN;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number) => `${Math.round(x)} ms`;

console.log(`runtime start-up, ${runs} runs each, alternating with the floor (python3 -m http.server in the same image)\n`);
const rows: string[] = [];
for (const [name, image] of Object.entries(images)) {
  pull(image);
  const dir = await writeModelDir('bench', contract, { 'src/func_main.py': models[name]! });
  const ready: number[] = [];
  const floor: number[] = [];
  const inside: number[] = [];
  const cpu: number[] = [];
  const floorCpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const base = await startRuntime(image, [], { command: floorCommand });
    floor.push(base.readyAfterMs);
    floorCpu.push(await cpuMs(base.id));
    base.remove();
    const rt = await startRuntime(image, ['-v', `${dir}:/model:ro`]);
    ready.push(rt.readyAfterMs);
    cpu.push(await cpuMs(rt.id));
    const logged = /ready in (\d+) ms/.exec(rt.logs());
    if (logged) inside.push(Number(logged[1]));
    rt.remove();
  }
  await fs.rm(dir, { recursive: true, force: true });
  console.log(`${name}`);
  console.log(`  ready after docker start: ${ready.map(ms).join(', ')}`);
  console.log(`  floor (http.server):      ${floor.map(ms).join(', ')}`);
  console.log(`  python start to ready (the runtime's own log): ${inside.map(ms).join(', ')}`);
  console.log(`  CPU time used until ready: ${cpu.map(ms).join(', ')} (floor: ${floorCpu.map(ms).join(', ')})`);
  rows.push(`| ${name} | ${ms(median(ready))} | ${ms(median(floor))} | ${(median(ready) / median(floor)).toFixed(2)} | ${ms(median(inside))} | ${ms(median(cpu))} / ${ms(median(floorCpu))} | ${median(ready) < 2000 ? 'yes' : 'no'} |`);
}

console.log(`\nload average at the end: ${(await fs.readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')}`);
console.log('| image | ready (median) | floor (median) | ratio | python start to ready | CPU until ready / floor | < 2 s |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) console.log(r);

console.log('\n| image | layers (compressed, registry) | unpacked (engine) |');
console.log('| --- | --- | --- |');
for (const [name, image] of Object.entries(images)) {
  const [, repo, tag] = /^[^/]+\/(.+):([^:]+)$/.exec(image)!;
  const registry = image.split('/')[0];
  const res = await fetch(`http://${registry}/v2/${repo}/manifests/${tag}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  const manifest = await res.json() as { layers: { size: number }[] };
  const compressed = manifest.layers.map((l) => l.size);
  const unpacked = Number(docker(['image', 'inspect', '-f', '{{.Size}}', image]).trim());
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  console.log(`| ${name} | ${mb(compressed.reduce((a, b) => a + b, 0))} (${compressed.map(mb).join(' + ')}) | ${mb(unpacked)} |`);
}
