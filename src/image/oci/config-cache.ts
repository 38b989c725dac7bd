import type { ObjectStore } from '../../storage/object-store.js';

/**
 * Runtime image configs by digest, in memory, per store (a config is remembered only once that
 * store holds it). They are content-addressed, so a copy is never stale, and every build on the
 * same runtime would otherwise read the same config from the store twice (resolving the runtime,
 * then completing the image): round trips that are most of what an unchanged payload's new version
 * costs.
 */
const MAX_ENTRIES = 32;
const MAX_BYTES = 1024 * 1024;
const byStore = new WeakMap<ObjectStore, Map<string, Buffer>>();

export function cachedConfig(store: ObjectStore, digest: string): Buffer | undefined {
  const configs = byStore.get(store);
  const bytes = configs?.get(digest);
  if (configs && bytes) {
    // Most recently used last: the first key is the one to evict.
    configs.delete(digest);
    configs.set(digest, bytes);
  }
  return bytes;
}

/** Keeps a config that `store` holds under its digest. */
export function rememberConfig(store: ObjectStore, digest: string, bytes: Buffer): void {
  if (bytes.length > MAX_BYTES) return;
  let configs = byStore.get(store);
  if (!configs) byStore.set(store, (configs = new Map()));
  configs.set(digest, bytes);
  while (configs.size > MAX_ENTRIES) configs.delete(configs.keys().next().value!);
}
