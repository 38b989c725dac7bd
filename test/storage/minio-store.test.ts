import { Redis } from 'ioredis';
import { MinioObjectStore } from '../../src/storage/minio-store.js';
import { RedisWriteLock } from '../../src/storage/write-lock.js';
import { cleanRedis } from '../support/redis.js';
import { services, testBucket } from '../support/services.js';
import { uniqueName } from '../support/unique.js';
import { objectStoreConformance } from './conformance.js';

objectStoreConformance('minio (S3 API)', async () => {
  const s3 = services.s3();
  const prefix = uniqueName('conformance');
  const redis = new Redis(services.redisUrl());
  const store = new MinioObjectStore({
    ...s3,
    bucket: testBucket,
    prefix: `${prefix}/`,
    partSize: 5 * 1024 * 1024,
    writeLock: new RedisWriteLock(redis, { prefix }),
  });
  return {
    store,
    dispose: async () => {
      await cleanRedis(prefix);
      redis.disconnect();
    },
  };
});
