import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { inspectModel, type Contract } from '../../src/contract/index.js';
import { placePayload } from '../../src/contract/payload.js';
import type { TreeEntry } from '../../src/domain/tree.js';
import { isMllError } from '../../src/errors.js';
import { repoRoot } from '../support/paths.js';

/**
 * The serving.yaml corpus (test/fixtures/serving-yaml/<case>/): each case is a model folder as a
 * Hydrosphere user has it (`model/`) and what ML Lambda makes of it (`expected.json`): the
 * dialect, names, model-type, contract, warnings, the files of the image and where they land,
 * the requirements, labels and runtime — or the error, with each issue's path.
 */

const corpus = path.join(repoRoot, 'test', 'fixtures', 'serving-yaml');

interface ExpectedIssue { path: string; expected?: string; found?: string }
interface Expected {
  about: string;
  options?: { servingYaml?: 'lenient' | 'strict'; modelName?: string; payloadAssembled?: boolean };
  dialect?: string;
  name?: string;
  nameMatches?: string;
  displayName?: string;
  modelType?: string;
  description?: string;
  contractFile?: string;
  contract?: Contract;
  warnings?: { code: string; path?: string }[];
  files?: string[];
  dependencies?: string;
  labels?: Record<string, string>;
  requestedRuntime?: string;
  error?: { code: string; message?: string; issues?: ExpectedIssue[] };
}

/** The folder's files as the extract stage lists them (sorted, `/`-separated). */
async function treeOf(root: string, rel = ''): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  for (const name of (await readdir(path.join(root, rel))).sort()) {
    const p = rel ? `${rel}/${name}` : name;
    const st = await stat(path.join(root, p));
    if (st.isDirectory()) out.push(...(await treeOf(root, p)));
    else out.push({ type: 'file', path: p, mode: 0o644, size: st.size, digest: `sha256:${'0'.repeat(64)}` });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

const cases = (await readdir(corpus)).sort();

describe('serving.yaml corpus', () => {
  test('covers every dialect and the hostile cases', () => {
    assert.ok(cases.length >= 18, `${cases.length} cases`);
  });

  for (const name of cases) {
    test(name, async () => {
      const expected = JSON.parse(await readFile(path.join(corpus, name, 'expected.json'), 'utf8')) as Expected;
      const dir = path.join(corpus, name, 'model');
      let inspection;
      try {
        inspection = await inspectModel(dir, { servingYaml: expected.options?.servingYaml, modelName: expected.options?.modelName, payloadAssembled: expected.options?.payloadAssembled });
      } catch (err) {
        if (!expected.error || !isMllError(err)) throw err;
        assert.equal(err.code, expected.error.code, err.message);
        if (expected.error.message) assert.match(err.message, new RegExp(expected.error.message));
        const issues = (err.details ?? []) as { path: string; expected: string; found: string }[];
        for (const want of expected.error.issues ?? []) {
          const got = issues.find((i) => i.path === want.path);
          assert.ok(got, `no issue at ${want.path}; issues: ${JSON.stringify(issues)}`);
          if (want.expected) assert.match(got.expected, new RegExp(want.expected));
          if (want.found) assert.match(got.found, new RegExp(want.found));
        }
        if (expected.error.issues) assert.equal(issues.length, expected.error.issues.length, JSON.stringify(issues));
        return;
      }
      assert.ok(!expected.error, `expected ${expected.error?.code}, but it was accepted`);
      const yaml = inspection.servingYaml!;
      assert.equal(yaml.dialect, expected.dialect);
      if (expected.name) assert.equal(yaml.name, expected.name);
      if (expected.nameMatches) assert.match(yaml.name, new RegExp(expected.nameMatches));
      assert.equal(yaml.displayName, expected.displayName ?? expected.name);
      assert.equal(inspection.modelType, expected.modelType);
      assert.equal(yaml.description, expected.description ?? null);
      assert.equal(yaml.contractFile, expected.contractFile ?? yaml.contractFile);
      assert.deepEqual(inspection.contract, expected.contract);
      const warnings = inspection.warnings.map((w) => {
        const where = (w.details as { path?: string } | undefined)?.path;
        return where === undefined ? { code: w.code } : { code: w.code, path: where };
      });
      assert.deepEqual(warnings, expected.warnings ?? []);
      const placed = placePayload(await treeOf(dir), yaml.placements);
      assert.deepEqual(placed.map((p) => p.entry.path), expected.files);
      assert.equal(yaml.dependencies?.text ?? null, expected.dependencies ?? null);
      assert.deepEqual(yaml.labels, expected.labels ?? {});
      assert.equal(yaml.requestedRuntime, expected.requestedRuntime ?? null);
    });
  }
});
