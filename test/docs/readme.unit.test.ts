import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { it } from 'node:test';
import { configTable } from '../../scripts/config-table.js';
import { repoRoot } from '../support/paths.js';

const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');

it('starts with the two commands: run the service, run the whole test suite', () => {
  const commands = (/```bash\n([\s\S]*?)```/.exec(readme)?.[1] ?? '').split('\n').filter(Boolean).map((l) => l.replace(/\s+#.*$/, ''));
  assert.deepEqual(commands, ['npm ci && npm start', 'npm ci && npm test']);
  const ci = readFileSync(path.join(repoRoot, '.ci', 'run'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#') && !l.startsWith('set ') && !l.startsWith('cd '));
  assert.deepEqual(ci, [commands[1]], '.ci/run runs exactly the README test command');
});

it('documents every configuration variable exactly as the schema defines it', () => {
  const block = /<!-- config:start -->\n([\s\S]*?)\n<!-- config:end -->/.exec(readme)?.[1];
  assert.equal(block, configTable(), 'regenerate with: node --import tsx scripts/config-table.ts');
});
