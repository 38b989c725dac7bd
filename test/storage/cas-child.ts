// Child process of conditional-writes.test.ts (forked, with an IPC channel): CAS_INCREMENTS
// read-modify-write increments of one counter object through putIf, retried on conflict. Prints how
// many conflicts it retried.
import { Redis } from 'ioredis';
import { FsObjectStore } from '../../src/storage/fs-store.js';
import { MinioObjectStore } from '../../src/storage/minio-store.js';
import { getBufferWithEtag, isPreconditionFailed, type ObjectStore } from '../../src/storage/object-store.js';
import { RedisWriteLock } from '../../src/storage/write-lock.js';

const env = process.env;
let redis: Redis | undefined;
let store: ObjectStore;
if (env.CAS_STORE === 'fs') {
  store = new FsObjectStore({ root: env.CAS_ROOT! });
} else {
  redis = new Redis(env.REDIS_URL!);
  store = new MinioObjectStore({
    endpoint: env.S3_ENDPOINT!, accessKey: env.S3_ACCESS_KEY!, secretKey: env.S3_SECRET_KEY!, region: env.S3_REGION ?? 'us-east-1',
    bucket: env.CAS_BUCKET!, prefix: env.CAS_PREFIX!, partSize: 5 * 1024 * 1024,
    writeLock: new RedisWriteLock(redis, { prefix: env.CAS_LOCK_PREFIX! }),
  });
}
const key = env.CAS_KEY!;
const writer = env.CAS_WRITER!;
let conflicts = 0;
// Start together: once every child is loaded, the parent says go (an increment takes well under a
// millisecond on fs, so children that started at different times would not race at all).
process.send!('ready');
await new Promise((resolve) => process.once('message', resolve));
for (let i = 0; i < Number(env.CAS_INCREMENTS); i++) {
  for (;;) {
    const { body, etag } = await getBufferWithEtag(store, key);
    const value = JSON.parse(body.toString()) as { n: number; log: string[] };
    try {
      await store.putIf(key, JSON.stringify({ n: value.n + 1, log: [...value.log, `${writer}.${i}`] }), { ifMatch: etag });
      break;
    } catch (err) {
      if (!isPreconditionFailed(err)) throw err;
      conflicts += 1;
    }
  }
}
redis?.disconnect();
console.log(JSON.stringify({ conflicts }));
process.disconnect();
