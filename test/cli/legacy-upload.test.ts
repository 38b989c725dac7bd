import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { keys } from '../../src/domain/keys.js';
import type { TreeManifest } from '../../src/domain/tree.js';
import type { VersionEvent, VersionRecord } from '../../src/domain/version.js';
import { getBuffer } from '../../src/storage/object-store.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { api } from '../support/client.js';
import { uniqueName } from '../support/unique.js';
import { mll, show, tempDir } from './support.js';

/**
 * `mll upload ./legacy-folder` against the real service (Redis, fs store, OCI layout): a
 * Hydrosphere 2019+ folder is released as an ordinary version — its upper-case, dotted name
 * mapped and kept as the display name, only its payload sent, each entry placed by its base name,
 * its metadata as labels, the dialect reported.
 */

describe('mll upload of a Hydrosphere folder', () => {
  let app: TestApp;
  let tmp: { dir: string; remove(): Promise<void> };

  before(async () => {
    app = await startTestApp();
    tmp = await tempDir('legacy');
  });
  after(async () => {
    await app?.stop();
    await tmp?.remove();
  });

  it('a 2019+ folder: released, name mapped, payload placed by base name, metadata as labels, the rest of the folder not sent', async () => {
    const hsName = `Legacy.${uniqueName('Model')}`;
    const dir = path.join(tmp.dir, 'legacy-folder');
    const files: Record<string, string> = {
      'serving.yaml': [
        'kind: Model',
        `name: "${hsName}"`,
        'runtime: "hydrosphere/serving-runtime-python-3.6:2.1.0"',
        'description: "Scores a pair of numbers"',
        'training-data: "dataset/train.csv"',
        'payload:',
        '  - "model/src/"',
        '  - "assets/*.txt"',
        'metadata:',
        '  experiment: "demo"',
        '  epochs: 3',
        'contract:',
        '  name: predict',
        '  inputs:',
        '    x: {shape: [-1, 2], type: float64, profile: Numerical}',
        '  outputs:',
        '    y: {shape: [-1], type: float32}',
        '',
      ].join('\n'),
      'model/src/func_main.py': 'def predict(x):\n    return x\n',
      'assets/a.txt': 'a\n',
      'assets/b.txt': 'b\n',
      'dataset/train.csv': 'x,y\n'.repeat(1000),
      'venv/lib/site.py': '# not sent\n',
    };
    for (const [rel, body] of Object.entries(files)) {
      await fs.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
      await fs.writeFile(path.join(dir, rel), body);
    }

    const r = await mll(['upload', dir, '--wait', '--label', 'team=fraud'], { server: app.url });
    assert.equal(r.code, 0, show(r));
    const v = (await api<VersionRecord & { url: string }>(r.stdout.trim())).body;
    assert.equal(v.status, 'released', show(r));
    assert.match(v.model, /^legacy-model-[a-z0-9-]+-[0-9a-f]{8}$/);
    assert.equal(v.displayName, hsName);
    assert.equal(v.modelType, 'python:3.6');
    assert.equal(v.description, 'Scores a pair of numbers', "serving.yaml's description is the version's");
    assert.deepEqual(v.labels, { experiment: 'demo', epochs: '3', team: 'fraud' });
    assert.deepEqual(v.contract?.signatures[0]?.inputs[0], { name: 'x', dtype: 'double', shape: [-1, 2], profile: 'numerical' });
    assert.ok(v.warnings.some((w) => w.code === 'SERVING_YAML_NOT_USED'), JSON.stringify(v.warnings));
    assert.match(r.stderr, /serving\.yaml is written in Hydrosphere 2019\+ \(one-signature contract\); sending it with what its payload lists/);
    assert.match(r.stderr, /\(4 files, /, 'serving.yaml, func_main.py and the two assets; not the dataset or the venv');

    const tree = JSON.parse((await getBuffer(app.running.services.store, keys.blob(v.tree!.digest))).toString()) as TreeManifest;
    assert.deepEqual(tree.entries.map((e) => e.path), ['a.txt', 'b.txt', 'src/func_main.py']);

    const events = await api<{ items: VersionEvent[] }>(`${v.url}/events`);
    assert.ok(events.body.items.some((e) => /extract: serving\.yaml is written in Hydrosphere 2019\+/.test(e.message ?? '')), JSON.stringify(events.body));
  });
});
