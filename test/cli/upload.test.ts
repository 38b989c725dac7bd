import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writePythonModel } from '../../bench/batch/models.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { api } from '../support/client.js';
import { uniqueName } from '../support/unique.js';
import { closedPort, json, mll, show, tempDir } from './support.js';

interface VersionJson {
  model: string;
  version: number;
  status: string;
  url: string;
  labels: Record<string, string>;
  description: string | null;
  error: { code: string; message: string } | null;
  image: { reference: string; digest: string } | null;
  payload: { format: string };
}

describe('mll upload, status, list, versions, logs (child process, no TTY)', () => {
  let app: TestApp;
  let tmp: { dir: string; remove(): Promise<void> };
  let released: { name: string; dir: string };

  before(async () => {
    app = await startTestApp();
    tmp = await tempDir('upload');
    const name = uniqueName('up');
    released = { name, dir: await writePythonModel(tmp.dir, name) };
  });
  after(async () => {
    await app?.stop();
    await tmp?.remove();
  });

  it('upload --wait releases the version, prints its URL on stdout and the build on stderr', async () => {
    const r = await mll(['upload', released.dir, '--wait', '--label', 'team=search', '--description', 'first cut'], { server: app.url });
    assert.equal(r.code, 0, show(r));
    const url = `${app.url}/api/v1/models/${released.name}/versions/1`;
    assert.equal(r.stdout, `${url}\n`);
    assert.match(r.stderr, /extracting/);
    assert.match(r.stderr, /building/);
    assert.match(r.stderr, /released/);
    assert.match(r.stderr, /: sent 10 KiB in (\d+ ms|[\d.]+ s)/, 'plain progress lines without a TTY');
    assert.ok(!r.stderr.includes('\u001b['), 'no colours or bars without a TTY');
    const v = await api<VersionJson>(url);
    assert.equal(v.body.status, 'released');
    assert.deepEqual(v.body.labels, { team: 'search' });
    assert.equal(v.body.description, 'first cut');
  });

  it('a broken model exits 1 with the reason (code and message)', async () => {
    const name = uniqueName('broken');
    const dir = await writePythonModel(tmp.dir, name, { brokenYaml: true });
    const r = await mll(['upload', dir, '--wait'], { server: app.url });
    assert.equal(r.code, 1, show(r));
    assert.equal(r.stdout, `${app.url}/api/v1/models/${name}/versions/1\n`);
    assert.match(r.stderr, /error: INVALID_SERVING_YAML: .*:1 failed: serving\.yaml has 1 error/);
    assert.match(r.stderr, /found "float99"/);
  });

  it('--json upload --wait prints only the final version record; failures add a JSON error on stderr', async () => {
    const name = uniqueName('js');
    const dir = await writePythonModel(tmp.dir, name);
    const r = await mll(['--json', 'upload', dir, '--wait', '--gzip'], { server: app.url });
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stderr, '');
    const v = json<VersionJson>(r);
    assert.equal(v.model, name);
    assert.equal(v.status, 'released');
    assert.equal(v.payload.format, 'tar+gzip');
    assert.ok(v.image?.digest?.startsWith('sha256:'));

    const broken = await writePythonModel(tmp.dir, uniqueName('jsb'), { brokenYaml: true });
    const f = await mll(['--json', 'upload', broken, '--wait'], { server: app.url });
    assert.equal(f.code, 1, show(f));
    assert.equal(json<VersionJson>(f).status, 'failed');
    const err = JSON.parse(f.stderr) as { error: { code: string; message: string } };
    assert.equal(err.error.code, 'INVALID_SERVING_YAML');
  });

  it('without --wait prints the URL at once; --json prints the queued record', async () => {
    const name = uniqueName('nw');
    const dir = await writePythonModel(tmp.dir, name);
    const r = await mll(['--json', 'upload', dir], { server: app.url });
    assert.equal(r.code, 0, show(r));
    const v = json<VersionJson>(r);
    assert.equal(v.version, 1);
    assert.equal(v.url, `${app.url}/api/v1/models/${name}/versions/1`);
  });

  it('the name comes from serving.yaml, else --name, else the folder; bad or conflicting names are usage errors', async () => {
    const plain = path.join(tmp.dir, uniqueName('plain'));
    await fs.mkdir(path.join(plain, 'src'), { recursive: true });
    await fs.writeFile(path.join(plain, 'src', 'func_main.py'), 'def f(x):\n    return x\n');
    const byFolder = await mll(['--json', 'upload', plain], { server: app.url });
    assert.equal(byFolder.code, 0, show(byFolder));
    assert.equal(json<VersionJson>(byFolder).model, path.basename(plain));

    const byFlag = await mll(['--json', 'upload', plain, '--name', 'explicit-name'], { server: app.url });
    assert.equal(json<VersionJson>(byFlag).model, 'explicit-name');

    const conflict = await mll(['upload', released.dir, '--name', 'other-name'], { server: app.url });
    assert.equal(conflict.code, 2, show(conflict));
    assert.match(conflict.stderr, new RegExp(`names the model "${released.name}" but --name says "other-name"`));

    const badFolder = path.join(tmp.dir, 'Not A Name');
    await fs.mkdir(badFolder, { recursive: true });
    await fs.writeFile(path.join(badFolder, 'x.txt'), 'x');
    const bad = await mll(['upload', badFolder], { server: app.url });
    assert.equal(bad.code, 2, show(bad));
    assert.match(bad.stderr, /--name not-a-name/);

    const missing = await mll(['upload', path.join(tmp.dir, 'nope')], { server: app.url });
    assert.equal(missing.code, 2, show(missing));
    assert.match(missing.stderr, /no such folder or file/);
  });

  it('status, list, versions and logs show what the API knows, as tables or JSON', async () => {
    const status = await mll(['status', released.name], { server: app.url });
    assert.equal(status.code, 0, show(status));
    assert.match(status.stdout, /^model\s+/m);
    assert.match(status.stdout, /version\s+1 \(latest\)/);
    assert.match(status.stdout, /status\s+released/);
    assert.match(status.stdout, /contract\s+predict\(x: float\[-1,4\]\) -> \(y: float\[-1\]\)/);
    assert.match(status.stdout, /labels\s+team=search/);

    const statusJson = json<VersionJson>(await mll(['--json', 'status', released.name, '1'], { server: app.url }));
    assert.equal(statusJson.status, 'released');

    const list = await mll(['list', '--query', released.name], { server: app.url });
    assert.equal(list.code, 0, show(list));
    const lines = list.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^NAME\s+VERSIONS\s+LATEST\s+STATUS\s+UPDATED$/);
    assert.equal(lines.length, 2);
    assert.match(lines[1]!, new RegExp(`^${released.name}\\s+1\\s+1\\s+released\\s+`));
    // Columns are aligned: every header starts where its values start.
    assert.equal(lines[0]!.indexOf('STATUS'), lines[1]!.indexOf('released'));

    const listJson = json<{ name: string }[]>(await mll(['--json', 'list'], { server: app.url }));
    assert.ok(listJson.some((m) => m.name === released.name));

    const versions = await mll(['versions', released.name], { server: app.url });
    assert.equal(versions.code, 0, show(versions));
    assert.match(versions.stdout, /^VERSION\s+STATUS\s+MODEL-TYPE/);
    assert.match(versions.stdout, /^1\s+released\s+python:3\.11/m);
    assert.deepEqual(json<VersionJson[]>(await mll(['--json', 'versions', released.name], { server: app.url })).map((v) => v.version), [1]);

    const logs = await mll(['logs', released.name, '1'], { server: app.url });
    assert.equal(logs.code, 0, show(logs));
    assert.match(logs.stdout, /extract\s+extracting/);
    assert.match(logs.stdout, /push\s+released\s+Released /);
    const follow = await mll(['--json', 'logs', released.name, '1', '--follow'], { server: app.url });
    assert.equal(follow.code, 0, show(follow));
    const events = follow.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { type: string; status?: string });
    assert.equal(events[0]!.type, 'created');
    assert.equal(events.at(-1)!.type, 'end');
    assert.equal(events.at(-1)!.status, 'released');
  });

  it('logs --follow of a failed version exits 1', async () => {
    const name = uniqueName('lf');
    await mll(['upload', await writePythonModel(tmp.dir, name, { brokenYaml: true }), '--wait'], { server: app.url });
    const r = await mll(['logs', name, '1', '--follow'], { server: app.url });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stdout, /failed\s+INVALID_SERVING_YAML/);
  });

  it('API errors are code: message (exit 1), and JSON on stderr with --json', async () => {
    const r = await mll(['status', uniqueName('absent')], { server: app.url });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /^error: MODEL_NOT_FOUND: No model named "/);
    const j = await mll(['--json', 'status', released.name, '99'], { server: app.url });
    assert.equal(j.code, 1);
    assert.equal(j.stdout, '');
    const body = JSON.parse(j.stderr) as { error: { code: string; status: number } };
    assert.equal(body.error.code, 'VERSION_NOT_FOUND');
    assert.equal(body.error.status, 404);
  });

  it('--timeout gives up waiting with exit 4 and says how to keep following', async () => {
    const name = uniqueName('to');
    const r = await mll(['upload', await writePythonModel(tmp.dir, name), '--wait', '--timeout', '0.001'], { server: app.url });
    assert.equal(r.code, 4, show(r));
    assert.match(r.stderr, new RegExp(`error: TIMEOUT: gave up waiting after 0\\.001 s: ${name}:1 is still \\w+; the build goes on \\(mll logs ${name} 1 --follow\\)`));
  });

  it('usage errors exit 2; an unreachable server exits 3 and says what to do', async () => {
    const unknown = await mll(['upload', '--bogus'], { server: app.url });
    assert.equal(unknown.code, 2, show(unknown));
    assert.match(unknown.stderr, /unknown option '--bogus'/);
    const badVersion = await mll(['--json', 'status', 'x', 'latest'], { server: app.url });
    assert.equal(badVersion.code, 2, show(badVersion));
    assert.equal((JSON.parse(badVersion.stderr) as { error: { code: string } }).error.code, 'USAGE');
    const noCommand = await mll(['--json', 'upload'], { server: app.url });
    assert.equal(noCommand.code, 2, show(noCommand));
    assert.equal(noCommand.stdout, '');
    assert.deepEqual(JSON.parse(noCommand.stderr), { error: { code: 'USAGE', message: "missing required argument 'dir'" } }, 'only the JSON error, no help text');

    const port = await closedPort();
    const down = await mll(['upload', released.dir], { server: `http://127.0.0.1:${port}` });
    assert.equal(down.code, 3, show(down));
    assert.match(down.stderr, new RegExp(`error: UNREACHABLE: cannot reach the ML Lambda API at http://127\\.0\\.0\\.1:${port} \\(connection refused\\); is it running\\? set --server or MLL_SERVER`));
    const downJson = await mll(['--json', 'list'], { server: `http://127.0.0.1:${port}` });
    assert.equal(downJson.code, 3);
    assert.equal(downJson.stdout, '');
    assert.equal((JSON.parse(downJson.stderr) as { error: { code: string } }).error.code, 'UNREACHABLE');
  });

  it('help on every command has examples', async () => {
    for (const cmd of [['upload'], ['batch'], ['status'], ['list'], ['versions'], ['logs'], ['webhooks']]) {
      const r = await mll([...cmd, '--help']);
      assert.equal(r.code, 0, show(r));
      assert.match(r.stdout, /Examples?:\n\s+\$ mll /, `${cmd.join(' ')} --help`);
    }
    const top = await mll(['--help']);
    assert.match(top.stdout, /Exit codes:\n\s+0\s+success/);
  });
});
