import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cachedConfig, rememberConfig } from '../../src/image/oci/config-cache.js';
import { MemoryObjectStore } from '../../src/storage/memory-store.js';

describe('runtime config cache', () => {
  it('gives a config back only for the store that holds it', () => {
    const a = new MemoryObjectStore();
    const b = new MemoryObjectStore();
    const bytes = Buffer.from('{"config":{}}');
    rememberConfig(a, 'sha256:aa', bytes);
    assert.equal(cachedConfig(a, 'sha256:aa'), bytes);
    assert.equal(cachedConfig(b, 'sha256:aa'), undefined);
    assert.equal(cachedConfig(a, 'sha256:bb'), undefined);
  });

  it('keeps the 32 most recently used and nothing over 1 MiB', () => {
    const store = new MemoryObjectStore();
    for (let i = 0; i < 40; i++) {
      rememberConfig(store, `sha256:${i}`, Buffer.from(String(i)));
      if (i >= 1) cachedConfig(store, 'sha256:0'); // used again and again: stays
    }
    assert.ok(cachedConfig(store, 'sha256:0'));
    assert.equal(cachedConfig(store, 'sha256:1'), undefined);
    assert.ok(cachedConfig(store, 'sha256:39'));
    rememberConfig(store, 'sha256:big', Buffer.alloc(1024 * 1024 + 1));
    assert.equal(cachedConfig(store, 'sha256:big'), undefined);
  });
});
