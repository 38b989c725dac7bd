/**
 * An unchanged payload as a new version, end to end through the real service: the API and the
 * workers as two processes (S3 store, oci builder, registry target), a Python model uploaded once
 * (cold), then the byte-identical tar again as new versions. Each sample runs from the moment the
 * upload's 202 arrives (upload done) to the moment the version's event stream says it is released,
 * and is split by the events' own timestamps into: queued → extract → build → push → released.
 *
 *   node --import tsx bench/image/unchanged-e2e.ts [--sizes 0,64] [--versions 5]   (MiB of weights; 0 = code only)
 * Also run by bench/image/run.ts. Needs the S3 store and docker.sh's services.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { deploymentKeyPatterns } from '../../src/catalog/redis-keys.js';
import { makeTar } from '../../test/support/tar.js';
import { funcMain, servingYaml } from '../batch/models.js';
import { median, startService, type ServiceProcess } from '../lib/proc.js';

const MiB = 1024 * 1024;

export interface E2eSample {
  /** Upload done (202 received) to released seen on the event stream, seconds. */
  total: number;
  /** From the events' timestamps (ms resolution), seconds: created → extract starts, and each stage. */
  queued: number;
  extract: number;
  build: number;
  push: number;
  /** The push stage's end to the released event seen by the client. */
  tail: number;
  /** Whether extract said it reused an earlier extraction (no unpacking). */
  extractReused: boolean;
}

export interface E2eRow {
  label: string;
  payloadBytes: number;
  cold: number;
  samples: E2eSample[];
}

interface SseEvent { event: string; data: { type?: string; status?: string; at?: string; message?: string; stage?: string } }

/** Reads a version's event stream until `end`; returns every event with the time the client saw `end`. */
async function followToEnd(url: string, token: string): Promise<{ events: SseEvent[]; endAt: number; status: string }> {
  const res = await fetch(url, { headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` } });
  if (!res.ok || !res.body) throw new Error(`events answered ${res.status}`);
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    for (let cut = buffered.indexOf('\n\n'); cut >= 0; cut = buffered.indexOf('\n\n')) {
      const frame = buffered.slice(0, cut);
      buffered = buffered.slice(cut + 2);
      const event = /^event: (.*)$/m.exec(frame)?.[1];
      const data = /^data: (.*)$/m.exec(frame)?.[1];
      if (!event || data === undefined) continue;
      const parsed = JSON.parse(data) as SseEvent['data'];
      if (event === 'end') {
        const endAt = performance.now();
        await res.body.cancel().catch(() => undefined);
        return { events, endAt, status: parsed.status ?? '?' };
      }
      events.push({ event, data: parsed });
    }
  }
  throw new Error('the event stream closed before its end event');
}

async function upload(base: string, model: string, tar: Buffer, token: string): Promise<{ version: number; doneAt: number }> {
  const res = await fetch(`${base}/api/v1/models/${model}/versions`, {
    method: 'POST', body: new Uint8Array(tar), headers: { 'content-type': 'application/x-tar', authorization: `Bearer ${token}` },
  });
  const doneAt = performance.now();
  const body = await res.json() as { version?: number };
  if (res.status !== 202 || typeof body.version !== 'number') throw new Error(`upload answered ${res.status}: ${JSON.stringify(body)}`);
  return { version: body.version, doneAt };
}

function breakdown(events: SseEvent[], doneAt: number, endAt: number, createdAtMs: number): E2eSample {
  const statusAt = (status: string) => {
    const e = events.find((x) => x.data.type === 'status' && x.data.status === status);
    return e?.data.at ? Date.parse(e.data.at) : NaN;
  };
  const extracting = statusAt('extracting');
  const building = statusAt('building');
  const pushing = statusAt('pushing');
  const released = statusAt('released');
  return {
    total: (endAt - doneAt) / 1000,
    queued: (extracting - createdAtMs) / 1000,
    extract: (building - extracting) / 1000,
    build: (pushing - building) / 1000,
    push: (released - pushing) / 1000,
    tail: NaN,
    extractReused: events.some((e) => e.data.type === 'log' && /extracted before; reusing/.test(e.data.message ?? '')),
  };
}

export interface E2eOptions {
  /** host:port of the registry images are pushed to (plain HTTP). */
  registry: string;
  /** The Python runtime base image, in that registry. */
  runtime: string;
  /** MiB of random weights per payload (0: serving.yaml and func_main.py only). */
  sizesMiB: number[];
  /** Unchanged versions per payload. */
  versions: number;
  /** Print the last version's events with their times (where the time goes). */
  trace?: boolean;
}

/** Starts the service (API + workers), measures, stops it and removes its S3 objects and Redis keys. */
export async function measureUnchangedE2e(options: E2eOptions): Promise<E2eRow[]> {
  const endpoint = process.env.S3_ENDPOINT;
  if (!endpoint) throw new Error('Start the S3 store first: eval "$(bash scripts/services/s3.sh start)"');
  const token = `mll_${randomBytes(6).toString('hex')}_${randomBytes(32).toString('base64url')}`;
  const prefix = `benche2e-${Date.now().toString(36)}`;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mll-bench-e2e-'));
  const env = {
    MLL_BOOTSTRAP_TOKEN: token, MLL_PREFIX: prefix, MLL_DATA_DIR: path.join(dir, 'data'),
    MLL_STORE: 'minio', MLL_S3_ENDPOINT: endpoint, MLL_S3_ACCESS_KEY: process.env.S3_ACCESS_KEY!, MLL_S3_SECRET_KEY: process.env.S3_SECRET_KEY!,
    MLL_S3_BUCKET: 'mll-bench', MLL_STORE_PREFIX: `${prefix}/`,
    MLL_BUILDER: 'oci', MLL_TARGET: 'registry', MLL_REGISTRY: options.registry, MLL_REGISTRY_INSECURE: 'true',
    MLL_RUNTIMES: `python=${options.runtime}`, MLL_RECOVERY_CHECK_MS: '0',
  };
  const started: ServiceProcess[] = [];
  const rows: E2eRow[] = [];
  try {
    started.push(await startService('api', env));
    started.push(await startService('workers', env));
    const base = started[0]!.url;
    for (const mib of options.sizesMiB) {
      const model = `e2e-${mib}m-${Date.now().toString(36)}`;
      const files = [
        { name: 'serving.yaml', body: servingYaml(model) },
        { name: 'src/func_main.py', body: funcMain(model, 2048) },
        ...(mib > 0 ? [{ name: 'src/weights.bin', body: randomBytes(mib * MiB) }] : []),
      ];
      const tar = await makeTar(files);
      const label = mib > 0 ? `${mib} MiB of weights (${(tar.length / MiB).toFixed(1)} MiB tar)` : `code only (${(tar.length / 1024).toFixed(0)} KiB tar)`;
      const samples: E2eSample[] = [];
      let cold = NaN;
      for (let v = 0; v <= options.versions; v++) {
        const { version, doneAt } = await upload(base, model, tar, token);
        const { events, endAt, status } = await followToEnd(`${base}/api/v1/models/${model}/versions/${version}/events`, token);
        if (status !== 'released') throw new Error(`${model} v${version} ended ${status}: ${JSON.stringify(events.slice(-3))}`);
        const record = await fetch(`${base}/api/v1/models/${model}/versions/${version}`, { headers: { authorization: `Bearer ${token}` } })
          .then((r) => r.json() as Promise<{ createdAt: string; stages?: Record<string, { finishedAt?: string }> }>);
        const sample = breakdown(events, doneAt, endAt, Date.parse(record.createdAt));
        const pushEnd = record.stages?.push?.finishedAt;
        sample.tail = pushEnd ? sample.total - (Date.parse(pushEnd) - Date.parse(record.createdAt)) / 1000 : NaN;
        if (v === 0) cold = sample.total;
        else samples.push(sample);
        if (options.trace && v === options.versions) {
          const t0 = Date.parse(record.createdAt);
          for (const e of events) process.stderr.write(`  +${Date.parse(e.data.at ?? '') - t0} ms ${e.data.type} ${e.data.status ?? ''} ${e.data.message ?? ''}\n`);
        }
        process.stderr.write(`e2e ${label} v${version}${v === 0 ? ' (cold)' : ''}: ${fmt(sample)}\n`);
      }
      rows.push({ label, payloadBytes: tar.length, cold, samples });
    }
  } finally {
    for (const p of started.reverse()) await p.stop();
    await cleanup(prefix, endpoint);
    await fs.rm(dir, { recursive: true, force: true });
  }
  return rows;
}

const ms = (s: number) => `${Math.round(s * 1000)}`;
function fmt(s: E2eSample): string {
  return `${ms(s.total)} ms (queued ${ms(s.queued)}, extract ${ms(s.extract)}${s.extractReused ? ' reused' : ''}, build ${ms(s.build)}, push ${ms(s.push)})`;
}

async function cleanup(prefix: string, endpoint: string): Promise<void> {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  for (const pattern of deploymentKeyPatterns(prefix)) {
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (found.length > 0) await redis.unlink(...found);
    } while (cursor !== '0');
  }
  redis.disconnect();
  const { Client } = await import('minio');
  const url = new URL(endpoint);
  const s3 = new Client({ endPoint: url.hostname, port: Number(url.port), useSSL: false, accessKey: process.env.S3_ACCESS_KEY!, secretKey: process.env.S3_SECRET_KEY!, region: process.env.S3_REGION ?? 'us-east-1' });
  const names: string[] = [];
  for await (const obj of s3.listObjectsV2('mll-bench', `${prefix}/`, true) as AsyncIterable<{ name: string }>) names.push(obj.name);
  for (let i = 0; i < names.length; i += 500) await s3.removeObjects('mll-bench', names.slice(i, i + 500));
}

/** The README table of these rows. */
export function e2eTable(rows: E2eRow[]): string {
  const lines = [
    '| payload | cold (first version) | unchanged: median (every sample) | queued | extract | build | push | after push | target < 0.3 s |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows) {
    const m = (pick: (s: E2eSample) => number) => `${ms(median(r.samples.map(pick)))} ms`;
    const total = median(r.samples.map((s) => s.total));
    lines.push(`| ${r.label} | ${r.cold.toFixed(2)} s | ${ms(total)} ms (${r.samples.map((s) => ms(s.total)).join(', ')}) | ${m((s) => s.queued)} | ${m((s) => s.extract)}${r.samples.every((s) => s.extractReused) ? ' (reused)' : ''} | ${m((s) => s.build)} | ${m((s) => s.push)} | ${m((s) => s.tail)} | ${total < 0.3 ? 'met' : 'missed'} |`);
  }
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { sizes: { type: 'string', default: '0,64' }, versions: { type: 'string', default: '5' }, trace: { type: 'boolean', default: false } } });
  const basePython = process.env.MLL_TEST_BASE_PYTHON;
  const registry = process.env.MLL_TEST_REGISTRY;
  if (!basePython || !registry) throw new Error('Start the services first: eval "$(bash scripts/services/docker.sh start)"');
  const rows = await measureUnchangedE2e({ registry, runtime: basePython, sizesMiB: values.sizes.split(',').map(Number), versions: Number(values.versions), trace: values.trace });
  console.log(`\nUnchanged payload as a new version, upload done → released (API + workers, S3 store, registry), load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}, ${execFileSync('date', ['-u', '+%F %H:%M']).toString().trim()} UTC:\n`);
  console.log(e2eTable(rows));
}
