import { MinioObjectStore } from '../../src/storage/minio-store.js';
import { services, testBucket } from '../support/services.js';
import { uniqueName } from '../support/unique.js';
import { objectStoreConformance } from './conformance.js';

objectStoreConformance('minio (S3 API)', async () => {
  const s3 = services.s3();
  const store = new MinioObjectStore({
    ...s3,
    bucket: testBucket,
    prefix: `${uniqueName('conformance')}/`,
    partSize: 5 * 1024 * 1024,
  });
  return { store, dispose: async () => {} };
});
