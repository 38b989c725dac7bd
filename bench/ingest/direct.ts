import type { FileHandle } from 'node:fs/promises';
import fs from 'node:fs/promises';
import type * as Minio from 'minio';

/**
 * The direct baseline of bench/ingest: a file to S3 as one multipart upload with the same part size
 * and the same number of parts in flight as the service's intake (MinioObjectStore.putStream), each
 * part read from the file at its offset (no hashing, no archive checks: the client's own floor).
 * Uses the MinIO client's multipart calls, as the store does.
 */
export async function directMultipartUpload(
  client: Minio.Client, bucket: string, name: string, file: string,
  options: { partSize: number; partsInFlight: number },
): Promise<number> {
  const { size } = await fs.stat(file);
  const handle: FileHandle = await fs.open(file, 'r');
  const uploadId = await client.initiateNewMultipartUpload(bucket, name, {});
  try {
    const count = Math.max(1, Math.ceil(size / options.partSize));
    const etags: { part: number; etag: string }[] = [];
    let next = 0;
    const lane = async () => {
      // Each lane reuses one buffer, like the store's ring: memory is partsInFlight parts.
      const buffer = Buffer.allocUnsafe(options.partSize);
      while (next < count) {
        const index = next++;
        const start = index * options.partSize;
        const length = Math.min(options.partSize, size - start);
        const { bytesRead } = await handle.read(buffer, 0, length, start);
        if (bytesRead !== length) throw new Error(`short read at ${start} of ${file}`);
        const part = index + 1;
        const { etag } = await client.uploadPart({ bucketName: bucket, objectName: name, uploadID: uploadId, partNumber: part, headers: {} }, buffer.subarray(0, length));
        etags.push({ part, etag });
      }
    };
    await Promise.all(Array.from({ length: Math.min(options.partsInFlight, count) }, lane));
    etags.sort((a, b) => a.part - b.part);
    await client.completeMultipartUpload(bucket, name, uploadId, etags);
    return size;
  } catch (err) {
    await client.abortMultipartUpload(bucket, name, uploadId).catch(() => undefined);
    throw err;
  } finally {
    await handle.close();
  }
}
