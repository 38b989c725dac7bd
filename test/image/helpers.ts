import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { keys } from '../../src/domain/keys.js';
import type { TreeEntry, TreeManifest } from '../../src/domain/tree.js';
import type { BuildRequest, StageContext } from '../../src/image/types.js';
import { createLogger } from '../../src/log.js';
import { FsObjectStore } from '../../src/storage/fs-store.js';
import type { ObjectStore } from '../../src/storage/object-store.js';

export const logger = createLogger(process.env.MLL_TEST_LOG_LEVEL ?? 'silent');

export { sha256Digest as sha256 } from '../../src/shared/digest.js';
import { sha256Digest as sha256 } from '../../src/shared/digest.js';

/** An fs object store in a fresh temp dir; `cleanup` removes it. */
export async function tempStore(label = 'img'): Promise<{ store: FsObjectStore; dir: string; cleanup: () => Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `mll-${label}-`));
  const store = new FsObjectStore({ root: path.join(dir, 'store') });
  return { store, dir, cleanup: () => fs.rm(dir, { recursive: true, force: true }) };
}

export interface FileSpec {
  path: string;
  /** Content, or a byte count of random (seeded per call) content streamed into the store. */
  content: Buffer | string | number;
  mode?: number;
}

export type TreeSpec = (FileSpec | { path: string; symlink: string })[];

/** A model tree with every kind of entry the builders must carry: a large and a small file, an executable, an empty file, a path over 100 bytes, a symlink. */
export const varietyTree: TreeSpec = [
  { path: 'weights/model.bin', content: 5 * 1024 * 1024 },
  { path: 'weights/small.bin', content: 1000 },
  { path: 'config.json', content: '{"x": 1}' },
  { path: 'bin/serve.sh', content: '#!/bin/sh\nexit 0\n', mode: 0o755 },
  { path: 'empty.txt', content: '' },
  { path: `deep/${'n'.repeat(110)}/file.txt`, content: 'long path' },
  { path: 'current', symlink: 'weights/model.bin' },
];

/** Writes the files' bytes as content blobs and returns the tree manifest the extract stage would make. */
export async function putTree(store: ObjectStore, spec: TreeSpec): Promise<TreeManifest> {
  const entries: TreeEntry[] = [];
  for (const item of spec) {
    if ('symlink' in item) {
      entries.push({ type: 'symlink', path: item.path, target: item.symlink });
      continue;
    }
    const { digest, size } = typeof item.content === 'number'
      ? await putRandomBlob(store, item.content)
      : await putBlob(store, Buffer.from(item.content));
    entries.push({ type: 'file', path: item.path, mode: item.mode ?? 0o644, size, digest });
  }
  entries.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  return { entries };
}

export async function putBlob(store: ObjectStore, data: Buffer): Promise<{ digest: string; size: number }> {
  const digest = sha256(data);
  await store.put(keys.blob(digest), data, { size: data.length });
  return { digest, size: data.length };
}

/** Streams `size` random bytes into the store (1 MiB at a time) and returns their digest. */
export async function putRandomBlob(store: ObjectStore, size: number): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  const tmpKey = `tmp-random/${randomBytes(8).toString('hex')}`;
  async function* gen() {
    for (let left = size; left > 0; left -= 1024 * 1024) {
      const chunk = randomBytes(Math.min(left, 1024 * 1024));
      hash.update(chunk);
      yield chunk;
    }
  }
  await store.put(tmpKey, Readable.from(gen()), { size });
  const digest = `sha256:${hash.digest('hex')}`;
  await store.copy(tmpKey, keys.blob(digest));
  await store.delete(tmpKey);
  return { digest, size };
}

export function testContext(): StageContext & { lines: string[]; controller: AbortController } {
  const controller = new AbortController();
  const lines: string[] = [];
  return { signal: controller.signal, log: (line) => lines.push(line), logger, lines, controller };
}

export function buildRequest(model: string, tree: TreeManifest, overrides: Partial<BuildRequest> = {}): BuildRequest {
  const protobin = Buffer.from(`contract of ${model}`);
  return {
    model, version: 1, modelType: 'python:3.11', framework: 'python', tree,
    contract: { protobin, digest: sha256(protobin) },
    labels: { team: 'tests' }, description: `test model ${model}`,
    ...overrides,
  };
}

/** Runs the docker CLI against the test engine; returns stdout. */
export function docker(args: string[], input?: string): string {
  return execFileSync('docker', args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
}

/** The manifest a registry serves for repo:ref, with its digest as the registry computes it. */
export async function fetchManifest(host: string, repository: string, ref: string, auth?: { username: string; password: string }) {
  const headers: Record<string, string> = {
    accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json',
  };
  if (auth) headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  const res = await fetch(`http://${host}/v2/${repository}/manifests/${ref}`, { headers });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, digest: sha256(bytes), header: res.headers.get('docker-content-digest'), json: res.status === 200 ? JSON.parse(bytes.toString('utf8')) as Record<string, unknown> : undefined };
}

/** Best-effort removal of a pushed manifest (the registries run with delete enabled). */
export async function deleteManifest(host: string, repository: string, digest: string, auth?: { username: string; password: string }): Promise<void> {
  const headers: Record<string, string> = {};
  if (auth) headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  await fetch(`http://${host}/v2/${repository}/manifests/${digest}`, { method: 'DELETE', headers }).catch(() => undefined);
}

/**
 * Counts the bytes read from each store key (by wrapping `get`), to prove which stage reads what.
 * `stop` puts the original method back.
 */
export function countReads(store: ObjectStore): { payloadBytes(tree: TreeManifest): number; stop(): void } {
  const counts = new Map<string, number>();
  const original = store.get.bind(store);
  store.get = async (key, options) => {
    const stream = await original(key, options);
    stream.on('data', (chunk: Buffer) => counts.set(key, (counts.get(key) ?? 0) + chunk.length));
    return stream;
  };
  return {
    payloadBytes: (tree) => tree.entries.reduce((sum, e) => sum + (e.type === 'file' ? counts.get(keys.blob(e.digest)) ?? 0 : 0), 0),
    stop: () => { store.get = original; },
  };
}
