/**
 * bench/ingest: a 1 GiB model through the API into the S3 store, against direct uploads of the same
 * file to the same store in the same run:
 *   direct multipart — the baseline: the same part size (MLL_S3_PART_SIZE's default) and the same
 *                      parts in flight (MULTIPART_PARTS_IN_FLIGHT) as the service's intake (direct.ts)
 *   fPutObject       — the MinIO client's own upload, one part at a time (what a user would type)
 * The order rotates every run, so the machine's load hits each equally. Prints every sample, the
 * medians, the ratio to the direct multipart upload and the API process's peak RSS.
 *
 *   eval "$(bash scripts/services/s3.sh start)"; node --import tsx bench/ingest/run.ts [--mib 1024] [--runs 3]
 */
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import * as Minio from 'minio';
import { Redis } from 'ioredis';
import { deploymentKeyPatterns } from '../../src/catalog/redis-keys.js';
import { loadConfig } from '../../src/config.js';
import { MULTIPART_PARTS_IN_FLIGHT } from '../../src/storage/minio-store.js';
import { ustarHeader } from '../../test/support/tar.js';
import { median, peakRssMiB, startService } from '../lib/proc.js';
import { directMultipartUpload } from './direct.js';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const MiB = 1024 * 1024;
const sizeMiB = arg('mib', 1024);
const runs = arg('runs', 3);
const endpoint = process.env.S3_ENDPOINT;
if (!endpoint) throw new Error('Start the S3 store first: eval "$(bash scripts/services/s3.sh start)"');
const s3 = { accessKey: process.env.S3_ACCESS_KEY!, secretKey: process.env.S3_SECRET_KEY!, region: process.env.S3_REGION ?? 'us-east-1' };
const bucket = 'mll-bench';
const prefix = `ingest-${Date.now().toString(36)}`;
/** The service's defaults, so the direct client does what the intake does. */
const partSize = loadConfig({}).s3PartSize;
const partsInFlight = MULTIPART_PARTS_IN_FLIGHT;

/** A tar holding one file of `size` random bytes, written without buffering it. */
async function writeTar(file: string, size: number): Promise<number> {
  const header = ustarHeader('model/weights.bin', size);
  const out = createWriteStream(file);
  const write = (b: Buffer) => new Promise<void>((resolve) => (out.write(b) ? resolve() : out.once('drain', resolve)));
  await write(header);
  const block = randomBytes(MiB);
  for (let written = 0; written < size; written += MiB) {
    block.writeUInt32LE(written / MiB, 0);
    await write(block.subarray(0, Math.min(MiB, size - written)));
  }
  await write(Buffer.alloc((512 - (size % 512)) % 512 + 1024));
  await new Promise((r) => out.end(r));
  return (await fs.stat(file)).size;
}

function postFile(url: string, file: string, size: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/x-tar', 'content-length': size, authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    createReadStream(file).pipe(req);
  });
}

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mll-bench-ingest-'));
const tar = path.join(dir, 'model.tar');
const size = await writeTar(tar, sizeMiB * MiB);
const url = new URL(endpoint);
const client = new Minio.Client({ endPoint: url.hostname, port: Number(url.port), useSSL: false, ...s3, partSize });
if (!(await client.bucketExists(bucket))) await client.makeBucket(bucket);

// The service runs with token auth on, as deployed; the bench brings its own admin token.
const token = `mll_${randomBytes(6).toString('hex')}_${randomBytes(32).toString('base64url')}`;
const service = await startService('api', {
  MLL_BOOTSTRAP_TOKEN: token,
  MLL_STORE: 'minio', MLL_S3_ENDPOINT: endpoint, MLL_S3_ACCESS_KEY: s3.accessKey, MLL_S3_SECRET_KEY: s3.secretKey,
  MLL_S3_BUCKET: bucket, MLL_STORE_PREFIX: `${prefix}/api/`, MLL_S3_PART_SIZE: String(partSize),
  MLL_PREFIX: prefix, MLL_DATA_DIR: path.join(dir, 'data'), MLL_MAX_UPLOAD_BYTES: String(4 * 1024 * MiB),
});

type Path = 'direct' | 'api' | 'fput';
const samples: Record<Path, number[]> = { direct: [], api: [], fput: [] };
const rate = (since: bigint) => size / MiB / (Number(process.hrtime.bigint() - since) / 1e9);
const run: Record<Path, (i: number) => Promise<void>> = {
  direct: async (i) => {
    await directMultipartUpload(client, bucket, `${prefix}/direct/${i}.tar`, tar, { partSize, partsInFlight });
  },
  api: async () => {
    const status = await postFile(`${service.url}/api/v1/models/ingest-bench/versions`, tar, size);
    if (status !== 202) throw new Error(`upload answered ${status}`);
  },
  fput: async (i) => {
    await client.fPutObject(bucket, `${prefix}/fput/${i}.tar`, tar, {});
  },
};
const order: Path[] = ['direct', 'api', 'fput'];
const names: Record<Path, string> = { direct: 'direct multipart', api: 'through the API', fput: 'fPutObject' };
try {
  const loadBefore = os.loadavg()[0]!;
  for (let i = 0; i < runs; i++) {
    // Rotate: direct, api, fput; then api, fput, direct; ...
    const turn = [...order.slice(i % order.length), ...order.slice(0, i % order.length)];
    const line: string[] = [];
    for (const p of turn) {
      const t = process.hrtime.bigint();
      await run[p](i);
      samples[p].push(rate(t));
      line.push(`${names[p]} ${samples[p].at(-1)!.toFixed(0)} MiB/s`);
    }
    console.log(`run ${i + 1}: ${line.join(', ')}`);
  }
  const rss = peakRssMiB(service.child.pid!);
  const m = (p: Path) => median(samples[p]);
  const all = (p: Path) => samples[p].map((x) => x.toFixed(0)).join(', ');
  const ratios = samples.api.map((a, i) => a / samples.direct[i]!);
  console.log(`\n${new Date().toISOString().slice(0, 16)} UTC, ${os.cpus().length} CPUs, load average ${loadBefore.toFixed(1)} before, ${os.loadavg()[0]!.toFixed(1)} after; part size ${partSize / MiB} MiB, ${partsInFlight} parts in flight (direct and API)\n`);
  console.log('| payload | direct multipart (MiB/s) | through the API (MiB/s) | API ÷ direct | fPutObject, one part at a time (MiB/s) | API peak RSS |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  console.log(`| ${sizeMiB} MiB tar | ${m('direct').toFixed(0)} (${all('direct')}) | ${m('api').toFixed(0)} (${all('api')}) | ${median(ratios).toFixed(2)} (${ratios.map((r) => r.toFixed(2)).join(', ')}) | ${m('fput').toFixed(0)} (${all('fput')}) | ${rss.toFixed(0)} MiB |`);
  console.log(`\nmedian of ${runs} runs, order rotated each run (ratio: median of the per-run ratios); target: API ÷ direct >= 0.80, peak RSS < 200 MB`);
} finally {
  await service.stop();
  for await (const obj of client.listObjectsV2(bucket, `${prefix}/`, true) as AsyncIterable<{ name: string }>) {
    await client.removeObject(bucket, obj.name);
  }
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  for (const pattern of deploymentKeyPatterns(prefix)) {
    const found = await redis.keys(pattern);
    if (found.length) await redis.del(...found);
  }
  redis.disconnect();
  await fs.rm(dir, { recursive: true, force: true });
}
