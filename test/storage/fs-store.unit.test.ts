import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { serveStoreUrl } from '../../src/storage/fs-presign.js';
import { FsObjectStore } from '../../src/storage/fs-store.js';
import { objectStoreConformance } from './conformance.js';

objectStoreConformance('fs', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'mll-fs-store-'));
  const secret = 'conformance-secret';
  // Presigned fs URLs point at the API's store route; serve exactly that handler here.
  const holder: { store?: FsObjectStore } = {};
  const server = http.createServer((req, res) => void serveStoreUrl(holder.store!, secret, req, res, { maxBytes: 1 << 30 }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const store = new FsObjectStore({ root, presign: { baseUrl: `http://127.0.0.1:${port}`, secret } });
  holder.store = store;
  return {
    store,
    presignServer: { close: () => new Promise<void>((r) => server.close(() => r())) },
    dispose: () => rm(root, { recursive: true, force: true }),
  };
});
