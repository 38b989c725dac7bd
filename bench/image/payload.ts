import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { keys } from '../../src/domain/keys.js';
import type { TreeEntry, TreeManifest } from '../../src/domain/tree.js';
import type { ObjectStore } from '../../src/storage/object-store.js';

const MiB = 1024 * 1024;

/** Writes `size` random bytes as a content blob (temp file, then moved into the store). */
export async function randomBlob(store: ObjectStore, size: number, scratch: string): Promise<{ digest: string; size: number }> {
  const file = path.join(scratch, `rand-${randomUUID()}`);
  const out = createWriteStream(file);
  const hash = createHash('sha256');
  for (let left = size; left > 0; left -= 4 * MiB) {
    const chunk = randomBytes(Math.min(left, 4 * MiB));
    hash.update(chunk);
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  const digest = `sha256:${hash.digest('hex')}`;
  await store.putFile(keys.blob(digest), file, { size, move: true });
  return { digest, size };
}

/** A tree of `count` random files of `each` bytes, as the extract stage would leave it. */
export async function randomTree(store: ObjectStore, count: number, each: number, scratch: string): Promise<TreeManifest> {
  const entries: TreeEntry[] = [];
  for (let i = 0; i < count; i++) {
    const { digest, size } = await randomBlob(store, each, scratch);
    entries.push({ type: 'file', path: count === 1 ? 'model.bin' : `shards/part-${String(i).padStart(3, '0')}.bin`, mode: 0o644, size, digest });
  }
  return { entries };
}
