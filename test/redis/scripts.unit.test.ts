import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { RedisScript } from '../../src/redis/script.js';
import { repoRoot } from '../support/paths.js';
import { typescriptFiles, withoutComments } from '../support/source-scan.js';

/** Calls that send a Lua script's text (or its SHA) outside RedisScript, which sends the text once per server. */
export function scriptBypasses(source: string): string[] {
  const code = withoutComments(source);
  return [...code.matchAll(/\.(?:eval|evalsha|evalRo|evalshaRo|script)\(|\.call\(\s*['"](?:eval|evalsha|script)['"]/gi)].map((m) => m[0]);
}

describe('Lua scripts go through RedisScript (EVALSHA, the text only on NOSCRIPT)', () => {
  it('the scanner finds a script sent by hand (so the check below can fail)', () => {
    assert.equal(scriptBypasses("await redis.eval('return 1', 0);").length, 1);
    assert.equal(scriptBypasses('await this.redis.evalsha(sha, 1, key);').length, 1);
    assert.equal(scriptBypasses("await redis.call('EVAL', lua, 0);").length, 1);
    assert.deepEqual(scriptBypasses("// redis.eval(x)\nawait script.run(redis, [key], ['1']);\nconst evaluated = evaluate(x);"), []);
  });

  it('no code under src/, queues/ or workers/ calls EVAL or EVALSHA itself', async () => {
    const home = path.join('src', 'redis', 'script.ts');
    const offenders: string[] = [];
    for (const dir of ['src', 'queues', 'workers']) {
      for (const file of await typescriptFiles(path.join(repoRoot, dir))) {
        const rel = path.relative(repoRoot, file);
        if (rel === home) continue;
        for (const hit of scriptBypasses(await fs.readFile(file, 'utf8'))) offenders.push(`${rel}: ${hit}`);
      }
    }
    assert.deepEqual(offenders, [], 'define a Lua script as a RedisScript (src/redis/script.ts) and call its run()');
  });

  it('a script is named by the SHA1 of its text, which Redis uses for EVALSHA', () => {
    assert.equal(new RedisScript('return 1', 0).sha, 'e0e1f9fabfc9d4800c877a703b823ac0578ff8db');
  });
});
