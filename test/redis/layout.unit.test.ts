import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../support/paths.js';
import { typescriptFiles, withoutComments } from '../support/source-scan.js';

/**
 * Redis keys hand-built in some TypeScript (a template on a deployment prefix, or a literal `mll:`
 * key) and direct ioredis imports: both bypass what keeps the layout slot-safe (the key catalogue
 * and its slot check) and what keeps connections right for their role (the connection factory).
 */
export function redisBypasses(source: string): string[] {
  const code = withoutComments(source);
  const found: string[] = [];
  for (const re of [/`[^`]*\$\{[^}]*prefix\}[:}][^`]*`/gi, /['"`]\{?mll:[A-Za-z{]/g, /from\s+['"]ioredis['"]/g, /new (?:Redis|Cluster)\(/g]) {
    for (const m of code.matchAll(re)) found.push(m[0]);
  }
  return found;
}

describe('Redis keys and connections have one home each', () => {
  it('the scanner finds bypasses (so the check below can fail)', () => {
    assert.equal(redisBypasses('const k = `${config.prefix}:seq:${model}`;').length, 1);
    assert.equal(redisBypasses('const k = `{${this.prefix}}:x`;').length, 1);
    assert.equal(redisBypasses("redis.get('mll:write-lock-epoch');").length, 1);
    assert.equal(redisBypasses("import { Redis } from 'ioredis';\nconst r = new Redis(url);").length, 2);
    assert.deepEqual(redisBypasses([
      '// `${prefix}:seq` in a comment', '/* mll:idx */', "echo 'mll: installed'", 'const url = `${base}/api/v1/models/${m}`;',
      "import type { RedisClient } from '../redis/connect.js';", 'redis.get(keys.version(m, v));',
    ].join('\n')), []);
  });

  it('no code under src/, queues/ or workers/ builds a Redis key or a connection outside their homes', async () => {
    // The key catalogue, and BullMQ's queue prefix next to the queue names.
    const homes = new Set([path.join('src', 'catalog', 'redis-keys.ts'), path.join('queues', 'names.ts')]);
    const offenders: string[] = [];
    for (const dir of ['src', 'queues', 'workers']) {
      for (const file of await typescriptFiles(path.join(repoRoot, dir))) {
        const rel = path.relative(repoRoot, file);
        if (homes.has(rel) || rel.startsWith(path.join('src', 'redis') + path.sep)) continue;
        for (const hit of redisBypasses(await fs.readFile(file, 'utf8'))) offenders.push(`${rel}: ${hit}`);
      }
    }
    assert.deepEqual(offenders, [], 'build keys in src/catalog/redis-keys.ts (and list keys used together in slotGroups), connections with src/redis/connect.ts');
  });
});
