import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writePythonModel, writePythonModels } from '../../bench/batch/models.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { api } from '../support/client.js';
import { startCuttingProxy } from '../support/tcp-proxy.js';
import { uniqueName } from '../support/unique.js';
import { json, mll, show, tempDir } from './support.js';

interface Outcome {
  batches: { id: string; url: string }[];
  total: number;
  counts: Record<string, number>;
  done: boolean;
  items: { path: string | null; model: string; version: number | null; status: string; error: { code: string; message: string } | null; versionUrl: string | null }[];
}

describe('mll batch (child process, no TTY)', () => {
  let app: TestApp;
  let tmp: { dir: string; remove(): Promise<void> };

  before(async () => {
    app = await startTestApp();
    tmp = await tempDir('batch');
  });
  after(async () => {
    await app?.stop();
    await tmp?.remove();
  });

  it('a batch with one broken and one badly named model ends with a table and exit 1; the others are released', async () => {
    const root = path.join(tmp.dir, 'one');
    const prefix = uniqueName('b');
    const good = await writePythonModels(root, prefix, 4);
    const broken = await writePythonModel(root, `${prefix}-broken`, { brokenYaml: true });
    const badName = path.join(root, 'Bad Name');
    await fs.mkdir(badName);
    await fs.writeFile(path.join(badName, 'model.txt'), 'x');

    const r = await mll(['batch', `${root}/*`, '--concurrency', '3', '--label', 'run=nightly'], { server: app.url });
    assert.equal(r.code, 1, show(r));
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^MODEL\s+VERSION\s+STATUS\s+ERROR$/);
    assert.equal(lines.length, 1 + 6);
    const row = (model: string) => lines.find((l) => l.startsWith(`${model} `)) ?? assert.fail(`no row for ${model}:\n${r.stdout}`);
    for (const dir of good) assert.match(row(path.basename(dir)), /^\S+\s+1\s+released\s*$/);
    assert.match(row(`${prefix}-broken`), /\s1\s+failed\s+INVALID_SERVING_YAML: serving\.yaml has 1 error/);
    assert.match(row('Bad Name'), /—\s+rejected\s+INVALID_MODEL_NAME: "Bad Name" is not a valid model name/);
    // Rows follow the order of the folders given.
    assert.deepEqual(lines.slice(1).map((l) => l.split(/\s{2,}/)[0]), ['Bad Name', ...good.map((d) => path.basename(d)), `${prefix}-broken`].sort());
    assert.match(r.stderr, /batch [0-9a-f-]{36}: 5 accepted, 0 refused; follow it with: mll batch --id /);
    assert.match(r.stderr, /batch: sent 5\/6, released 4, failed 2, running 0/);
    assert.match(r.stderr, /error: BATCH_FAILED: 2 of 6 models failed or were refused/);

    const v = await api<{ labels: Record<string, string>; batchId: string }>(`${app.url}/api/v1/models/${path.basename(good[0]!)}/versions/1`);
    assert.deepEqual(v.body.labels, { run: 'nightly' });
    assert.match(v.body.batchId, /^[0-9a-f-]{36}$/);
    void broken;
  });

  it('a batch cut off midway is sent again with its Idempotency-Key: the API keeps what it took, every model gets one version', async () => {
    const root = path.join(tmp.dir, 'cut');
    const dirs = await writePythonModels(root, uniqueName('cut'), 6);
    const { hostname, port } = new URL(app.url);
    // About half the request: the first models are taken (made into versions) before the cut.
    const proxy = await startCuttingProxy(hostname, Number(port), 'POST /api/v1/batches', 40_000);
    try {
      const r = await mll(['--json', 'batch', `${root}/*`, '--concurrency', '2'], { server: proxy.url });
      assert.equal(r.code, 0, show(r));
      assert.ok(proxy.cut, 'the first attempt was cut off');
      assert.equal(proxy.matched, 2, 'the batch was sent twice');
      const out = json<Outcome>(r);
      assert.equal(out.batches.length, 1);
      assert.deepEqual(out.items.map((i) => [i.model, i.version, i.status]), dirs.map((d) => [path.basename(d), 1, 'released']));
      let madeBeforeCut = 0;
      for (const d of dirs) {
        const list = await api<{ total: number; items: { createdAt: string }[] }>(`${app.url}/api/v1/models/${path.basename(d)}/versions`);
        assert.equal(list.body.total, 1, `${path.basename(d)} has one version`);
        // The attempt that succeeded got past the key only once the cut one had ended: what was made before it started is the cut attempt's.
        if (Date.parse(list.body.items[0]!.createdAt) < proxy.lastMatchedAt!) madeBeforeCut += 1;
      }
      assert.ok(madeBeforeCut >= 1, 'the cut attempt had made versions, which the retry took');
    } finally {
      await proxy.close();
    }
  });

  it('--json gives the whole outcome on stdout, every item terminal', async () => {
    const root = path.join(tmp.dir, 'two');
    const dirs = await writePythonModels(root, uniqueName('j'), 3);
    const r = await mll(['--json', 'batch', ...dirs, '--gzip'], { server: app.url });
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stderr, '');
    const out = json<Outcome>(r);
    assert.equal(out.batches.length, 1);
    assert.equal(out.total, 3);
    assert.equal(out.done, true);
    assert.deepEqual(out.counts, { released: 3 });
    assert.deepEqual(out.items.map((i) => i.path), dirs);
    for (const item of out.items) {
      assert.equal(item.version, 1);
      assert.equal(item.versionUrl, `${app.url}/api/v1/models/${item.model}/versions/1`);
    }
  });

  it('--no-wait returns at once with the batch id; --id follows it to the end', async () => {
    const root = path.join(tmp.dir, 'three');
    const prefix = uniqueName('n');
    const dirs = await writePythonModels(root, prefix, 2);
    await writePythonModel(root, `${prefix}-z-broken`, { brokenYaml: true });
    const r = await mll(['--json', 'batch', `${root}/${prefix}-*`, '--no-wait'], { server: app.url });
    assert.equal(r.code, 0, show(r));
    const out = json<Outcome>(r);
    assert.equal(out.total, 3);
    const id = out.batches[0]!.id;

    const follow = await mll(['batch', '--id', id], { server: app.url });
    assert.equal(follow.code, 1, show(follow));
    for (const d of dirs) assert.match(follow.stdout, new RegExp(`^${path.basename(d)}\\s+1\\s+released`, 'm'));
    assert.match(follow.stdout, new RegExp(`^${prefix}-z-broken\\s+1\\s+failed\\s+INVALID_SERVING_YAML`, 'm'));

    const unknown = await mll(['batch', '--id', '00000000-0000-0000-0000-000000000000'], { server: app.url });
    assert.equal(unknown.code, 1, show(unknown));
    assert.match(unknown.stderr, /error: NOT_FOUND: No batch/);
  });

  it('usage: no folders, a glob that matches nothing, folders and --id together', async () => {
    const none = await mll(['batch'], { server: app.url });
    assert.equal(none.code, 2, show(none));
    const nothing = await mll(['batch', `${tmp.dir}/absent-*`], { server: app.url });
    assert.equal(nothing.code, 2, show(nothing));
    assert.match(nothing.stderr, /nothing matches .*absent-\*/);
    const both = await mll(['batch', tmp.dir, '--id', 'x'], { server: app.url });
    assert.equal(both.code, 2, show(both));
  });
});
