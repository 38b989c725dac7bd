import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { inspectModel } from '../../src/contract/index.js';
import { repoRoot, requireSharedFixtures } from '../support/paths.js';

/**
 * Every <framework>/<case>/model/ of a fixture set must give exactly its expected.json (notes
 * ignored). Both the shared fixtures (real models, ../shared/fixtures) and the project's own
 * generated edge fixtures (test/fixtures/contract) use this layout.
 */

interface Case { framework: string; name: string; dir: string }

function casesIn(root: string): Case[] {
  const out: Case[] = [];
  if (!existsSync(root)) return out;
  for (const f of readdirSync(root, { withFileTypes: true })) {
    if (!f.isDirectory()) continue;
    const framework = f.name;
    const fdir = path.join(root, framework);
    for (const e of readdirSync(fdir, { withFileTypes: true })) {
      if (e.isDirectory() && existsSync(path.join(fdir, e.name, 'expected.json'))) {
        out.push({ framework, name: e.name, dir: path.join(fdir, e.name) });
      }
    }
  }
  return out.sort((a, b) => `${a.framework}/${a.name}`.localeCompare(`${b.framework}/${b.name}`));
}

function expectedOf(c: Case): unknown {
  const json = JSON.parse(readFileSync(path.join(c.dir, 'expected.json'), 'utf8')) as Record<string, unknown>;
  delete json.notes;
  return json;
}

function suite(title: string, root: string, minimum: number): void {
  describe(title, () => {
    const cases = casesIn(root);
    test(`has at least ${minimum} cases`, () => {
      assert.ok(cases.length >= minimum, `found ${cases.length} cases in ${root}`);
    });
    for (const c of cases) {
      test(`${c.framework}/${c.name}`, async () => {
        const got = await inspectModel(path.join(c.dir, 'model'));
        assert.deepStrictEqual(JSON.parse(JSON.stringify(got.contract)), expectedOf(c));
        assert.equal(got.contract.framework, c.framework);
        assert.match(got.modelType, new RegExp(`^${c.framework}:.+`));
      });
    }
  });
}

suite('shared fixtures (real models)', requireSharedFixtures(), 11);
suite('generated edge fixtures', path.join(repoRoot, 'test', 'fixtures', 'contract'), 0);
