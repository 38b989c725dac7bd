import path from 'node:path';
import type { Config } from '../config.js';
import { FsObjectStore } from './fs-store.js';
import { MinioObjectStore } from './minio-store.js';
import type { ObjectStore } from './object-store.js';
import type { WriteLock } from './write-lock.js';

export * from './object-store.js';

/**
 * Picks the object store adapter named by the configuration. `writeLock` serialises conditional
 * writes on an S3 server that cannot do them itself.
 */
export function createObjectStore(config: Config, presignSecret: string, options: { writeLock?: WriteLock; blockingWrites?: boolean } = {}): ObjectStore {
  if (config.store === 'minio') {
    return new MinioObjectStore({
      endpoint: config.s3Endpoint!,
      publicEndpoint: config.s3PublicEndpoint,
      accessKey: config.s3AccessKey!,
      secretKey: config.s3SecretKey!,
      region: config.s3Region,
      bucket: config.s3Bucket,
      prefix: config.storePrefix,
      partSize: config.s3PartSize,
      writeLock: options.writeLock,
      failpoints: config.failpoints,
    });
  }
  return new FsObjectStore({
    root: path.join(config.dataDirAbs, 'store'),
    // A getter: with MLL_PORT=0 the base URL is known only once the server listens.
    presign: { get baseUrl() { return config.baseUrl; }, secret: presignSecret },
    blockingWrites: options.blockingWrites,
  });
}
