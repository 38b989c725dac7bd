import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { keys, parseVersionRecordKey } from '../../src/domain/keys.js';
import { repoRoot } from '../support/paths.js';
import { typescriptFiles, withoutComments } from '../support/source-scan.js';

/** The first path segment of every key the catalogue builds (`models`, `blobs`, …). */
function cataloguePrefixes(): string[] {
  const sample = Object.values(keys).map((make) => (make as (...args: unknown[]) => string)('x', 'x'));
  return [...new Set(sample.map((key) => key.split('/')[0]!))];
}

const storeMethods = 'put|putFile|putIf|get|getWithInfo|stat|list|delete|copy|presignPut|presignGet';
const storeHelpers = 'getJson|getJsonIfPresent|putJson|putJsonIf|getBuffer|getBufferWithEtag|exists';

/** Hand-built object keys in some TypeScript: literals under a catalogue prefix, or literal keys given to a store. */
export function handBuiltKeys(source: string, prefixes: string[]): string[] {
  const code = withoutComments(source);
  const found: string[] = [];
  const underPrefix = new RegExp(`['"\`](?:${prefixes.map((p) => p.replace(/[-.]/g, '\\$&')).join('|')})/[^'"\`]*['"\`]?`, 'g');
  const toStore = new RegExp(`store\\)?\\.(?:${storeMethods})\\(\\s*['"\`][^'"\`]*|\\b(?:${storeHelpers})\\([^,()]+,\\s*['"\`][^'"\`]*`, 'g');
  for (const re of [underPrefix, toStore]) for (const m of code.matchAll(re)) found.push(m[0]);
  return found;
}

describe('object-store keys', () => {
  it('the scanner finds hand-built keys (so the check below can fail)', () => {
    const prefixes = cataloguePrefixes();
    assert.ok(prefixes.includes('models') && prefixes.includes('blobs') && prefixes.includes('tokens'), prefixes.join());
    assert.equal(handBuiltKeys('const k = `batches/${id}.json`;', prefixes).length, 1);
    assert.equal(handBuiltKeys("await this.store.list('tokens/');", prefixes).length, 2);
    assert.equal(handBuiltKeys("await getJson(store, 'somewhere-new/a.json');", prefixes).length, 1);
    assert.equal(handBuiltKeys("await ports.store.put(`somewhere-else/${id}`, body);", prefixes).length, 1);
    assert.deepEqual(handBuiltKeys([
      '// `models/<name>/versions/` in a comment', '/* blobs/sha256/… */', "router.get('/models/:name', h);",
      "const url = 'https://x/models/a';", 'store.get(keys.blob(d));', "path.join(dir, 'blobs', 'sha256')",
    ].join('\n'), prefixes), []);
  });

  it('no code under src/ builds an object key outside src/domain/keys.ts', async () => {
    const prefixes = cataloguePrefixes();
    const offenders: string[] = [];
    for (const file of await typescriptFiles(path.join(repoRoot, 'src'))) {
      const rel = path.relative(repoRoot, file);
      // The CLI runs on users' machines and never touches the store (its `models/*` is a folder glob).
      if (rel === path.join('src', 'domain', 'keys.ts') || rel.startsWith(path.join('src', 'cli') + path.sep)) continue;
      for (const hit of handBuiltKeys(await fs.readFile(file, 'utf8'), prefixes)) offenders.push(`${rel}: ${hit}`);
    }
    assert.deepEqual(offenders, [], 'add the key to src/domain/keys.ts and build it there');
  });

  it('parses the version record keys it builds', () => {
    assert.deepEqual(parseVersionRecordKey(keys.versionRecord('half-plus-two', 12)), { model: 'half-plus-two', version: 12 });
    assert.equal(parseVersionRecordKey(keys.builtImage('half-plus-two', 12)), undefined);
    assert.equal(keys.blob('sha256:abc'), keys.blob('abc'));
  });
});
