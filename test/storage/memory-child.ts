// Child process of memory.test.ts: streams MEM_MIB MiB of unknown length into S3 and prints peak RSS.
import { readFileSync } from 'node:fs';
import { MinioObjectStore } from '../../src/storage/minio-store.js';
import { randomStream } from './conformance.js';

const vmHwmMiB = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;
const store = new MinioObjectStore({
  endpoint: process.env.S3_ENDPOINT!,
  accessKey: process.env.S3_ACCESS_KEY!,
  secretKey: process.env.S3_SECRET_KEY!,
  region: process.env.S3_REGION ?? 'us-east-1',
  bucket: process.env.MEM_BUCKET!,
  prefix: process.env.MEM_PREFIX!,
  partSize: 8 * 1024 * 1024,
});
await store.check();
const baselineMiB = vmHwmMiB();
const { stream } = randomStream(Number(process.env.MEM_MIB) * 1024 * 1024, 3);
const info = await store.put('big.bin', stream);
const peakRssMiB = vmHwmMiB();
await store.delete('big.bin');
console.log(JSON.stringify({ peakRssMiB, baselineMiB, size: info.size }));
