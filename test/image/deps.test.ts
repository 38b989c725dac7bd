import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs/promises';
import path from 'node:path';
import { keys } from '../../src/domain/keys.js';
import type { DependencySettings } from '../../src/image/deps/index.js';
import { NORMALISE_PY } from '../../src/image/deps/normalise.js';
import { normaliseTree } from '../../src/image/deps/normalise-tree.js';
import { OciImageBuilder } from '../../src/image/oci/builder.js';
import { Registries } from '../../src/image/registry/registries.js';
import type { BuildRequest, OciBuiltImage, StageContext } from '../../src/image/types.js';
import { getBuffer } from '../../src/storage/object-store.js';
import { services } from '../support/services.js';
import { startPackageIndex, type PackageIndex } from '../support/package-index.js';
import { uniqueName } from '../support/unique.js';
import { buildRequest, logger, putTree, tempStore, testContext } from './helpers.js';

const MiB = 1024 * 1024;
const execFileAsync = promisify(execFile);

/**
 * A real source distribution whose in-tree build backend (no setuptools, nothing to download) runs
 * code at build time: it tries to read `secret` and write `escape`, and ships what happened in the
 * wheel it builds, so a test sees what package build code could do on the worker.
 */
async function writeProbeSdist(indexDir: string, secret: string, escape: string): Promise<void> {
  const root = await fs.mkdtemp(path.join(indexDir, '..', 'sdist-'));
  const top = path.join(root, 'sandboxed_probe-1.0');
  await fs.mkdir(top);
  await fs.writeFile(path.join(top, 'PKG-INFO'), 'Metadata-Version: 2.1\nName: sandboxed-probe\nVersion: 1.0\n');
  await fs.writeFile(path.join(top, 'pyproject.toml'), '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n');
  await fs.writeFile(path.join(top, 'backend.py'), [
    'import base64, hashlib, os, zipfile',
    'def _try(fn):',
    '    try:',
    '        fn()',
    '        return "ok"',
    '    except Exception as e:',
    '        return type(e).__name__',
    'def _seen():',
    `    return {"secret": _try(lambda: open(${JSON.stringify(secret)}).read()), "escape": _try(lambda: open(${JSON.stringify(escape)}, "w").write("x")), "root": sorted(os.listdir("/"))}`,
    'def get_requires_for_build_wheel(config_settings=None):',
    '    return []',
    'def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):',
    '    name = "sandboxed_probe-1.0-py3-none-any.whl"',
    '    files = {"sandboxed_probe/__init__.py": "SEEN = %r\\n" % (_seen(),),',
    '             "sandboxed_probe-1.0.dist-info/METADATA": "Metadata-Version: 2.1\\nName: sandboxed-probe\\nVersion: 1.0\\n",',
    '             "sandboxed_probe-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}',
    '    record = []',
    '    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as z:',
    '        for p, text in files.items():',
    '            data = text.encode()',
    '            z.writestr(p, data)',
    '            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()',
    '            record.append("%s,sha256=%s,%d" % (p, digest, len(data)))',
    '        record.append("sandboxed_probe-1.0.dist-info/RECORD,,")',
    '        z.writestr("sandboxed_probe-1.0.dist-info/RECORD", "\\n".join(record) + "\\n")',
    '    return name',
    '',
  ].join('\n'));
  execFileSync('tar', ['-czf', path.join(indexDir, 'sandboxed_probe-1.0.tar.gz'), '-C', root, 'sandboxed_probe-1.0']);
  await fs.rm(root, { recursive: true, force: true });
}

/** The paths in a tar (uncompressed), and the whole bytes, read with the system tar. */
function tarListing(file: string): string[] {
  return execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

/**
 * The oci builder's dependency layer on real pip and a real package index over loopback: wheels
 * built by the test, requirements in the payload, the layer written into the object store.
 */
describe('dependency layer (oci builder, pip on the worker)', () => {
  let env: Awaited<ReturnType<typeof tempStore>>;
  let index: PackageIndex;
  let scratch: string;
  const password = `pw-${uniqueName('secret')}`;

  before(async () => {
    env = await tempStore('deps');
    scratch = path.join(env.dir, 'scratch');
    index = await startPackageIndex({ auth: { username: 'reader', password } });
    await index.addWheel({ name: 'alpha', version: '1.0', files: { 'alpha/__init__.py': 'from beta import B\nA = B + 1\n' }, requires: ['beta>=1'] });
    await index.addWheel({ name: 'beta', version: '1.2', files: { 'beta/__init__.py': 'B = 41\n' } });
    await index.addWheel({ name: 'gamma', version: '0.1', files: { 'gamma/__init__.py': 'G = 1\n', 'gamma/data.bin': 3000 } });
    await index.addWheel({ name: 'cli-tool', version: '2.0', files: {
      'cli_tool/__init__.py': 'def main():\n    return 0\n', 'cli_tool-2.0.data/scripts/cli-hello': '#!python\nprint("hello")\n',
      'cli_tool-2.0.dist-info/entry_points.txt': '[console_scripts]\ncli-main = cli_tool:main\n',
    } });
    await index.addWheel({ name: 'odd-names', version: '1.0', files: { 'odd_names/__init__.py': '', 'odd_names/a,b.py': 'X = 1\n', 'odd_names/quote"d.py': 'Y = 2\n' } });
    await index.addWheel({ name: 'native', version: '1.0', tag: 'cp39-cp39-manylinux_2_17_x86_64', files: { 'native/__init__.py': '' } });
    await index.addWheel({ name: 'oldpy', version: '1.0', tag: 'cp36-cp36m-manylinux2014_x86_64', files: { 'oldpy/__init__.py': 'OLD = True\n' } });
    await index.addWheel({ name: 'heavy', version: '1.0', files: { 'heavy/blob.bin': 3 * MiB } });
    await index.addSdist('srconly', '1.0');
  });
  after(async () => {
    await index.close();
    await env.cleanup();
  });

  function settings(overrides: Partial<DependencySettings> = {}): DependencySettings {
    return {
      install: true,
      index: { indexUrl: index.url, extraIndexUrls: [], trustedHosts: [] },
      allowSdist: false,
      sandbox: 'bwrap',
      timeoutMs: 120_000,
      maxBytes: 64 * MiB,
      interpreter: 'python3',
      defaultPythonVersion: '3.11',
      searchPath: process.env.PATH ?? '/usr/bin:/bin',
      ...overrides,
    };
  }

  function builder(deps: Partial<DependencySettings> = {}, runtimes: Record<string, string> = { python: services.baseImages().python }) {
    return new OciImageBuilder({
      store: env.store, logger, registries: new Registries({ logger }), runtimes, compression: 'none',
      scratchDir: scratch, hashAtBuild: true, dependencies: settings(deps),
    });
  }

  async function request(requirements: string, extra: { path: string; content: string | Buffer }[] = [], overrides: Partial<BuildRequest> = {}): Promise<BuildRequest> {
    const tree = await putTree(env.store, [
      { path: 'src/func_main.py', content: 'import alpha\n' },
      { path: 'requirements.txt', content: requirements },
      ...extra,
    ]);
    return buildRequest(uniqueName('deps'), tree, { dependencies: { source: 'requirements.txt', text: requirements }, ...overrides });
  }

  async function scratchLeft(): Promise<string[]> {
    return (await fs.readdir(scratch).catch(() => [] as string[])).filter((f) => f.startsWith('deps-') || f.startsWith('layer-'));
  }

  async function layerFile(digest: string): Promise<string> {
    const file = path.join(env.dir, `${digest.slice(7, 19)}.tar`);
    await fs.writeFile(file, await getBuffer(env.store, keys.blob(digest), 256 * MiB));
    return file;
  }

  const buildFails = async (req: BuildRequest, code: string, message: RegExp, deps: Partial<DependencySettings> = {}, ctx: StageContext = testContext()) => {
    await assert.rejects(builder(deps).build(req, ctx), (err: { code: string; message: string }) => {
      assert.equal(err.code, code, err.message);
      assert.match(err.message, message);
      return true;
    });
    assert.deepEqual(await scratchLeft(), [], 'no scratch directory is left behind');
  };

  it('installs the requirements with their dependencies into one /model/lib layer, the same bytes twice, and reuses it without pip', async () => {
    const req = await request('alpha==1.0\ncli-tool\n');
    const ctx = testContext();
    const image = await builder().build(req, ctx) as OciBuiltImage;
    const deps = image.dependencies!;
    assert.equal(deps.reused, false);
    assert.deepEqual(deps.packages.map((p) => `${p.name} ${p.version}`), ['alpha 1.0', 'beta 1.2', 'cli-tool 2.0']);
    assert.ok(deps.packages.every((p) => /^sha256:[a-f0-9]{64}$/.test(p.wheelDigest ?? '')), 'the resolved wheels are recorded by hash');
    assert.deepEqual(deps.python, { version: '3.11', platform: 'linux/amd64', from: 'runtime-label' }, 'the runtime image says which Python it has (label ai.mll.runtime.python)');
    assert.ok(ctx.lines.some((l) => /^pip: .*alpha/.test(l)), 'pip progress reaches the version log');

    const baseCount = image.layers.filter((l) => l.source.kind === 'base').length;
    const depLayer = image.layers[baseCount]!;
    assert.equal(depLayer.digest, deps.digest, 'the dependency layer comes right after the runtime\'s');
    assert.equal(depLayer.source.kind, 'blob');
    const config = JSON.parse((await getBuffer(env.store, keys.blob(image.configDigest!))).toString()) as { history: { created_by: string }[] };
    assert.ok(config.history.some((h) => /^RUN pip install -r requirements\.txt --target \/model\/lib \(3 package/.test(h.created_by)));

    const listing = tarListing(await layerFile(deps.digest));
    for (const p of ['model/', 'model/lib/', 'model/lib/alpha/__init__.py', 'model/lib/beta/__init__.py', 'model/lib/alpha-1.0.dist-info/RECORD', 'model/lib/bin/cli-hello']) {
      assert.ok(listing.includes(p), `${p} is in the layer`);
    }
    assert.ok(!listing.some((p) => /__pycache__|\.pyc$|direct_url\.json|REQUESTED$/.test(p)), 'no bytecode or varying pip files');
    const bare = listing.map((p) => p.replace(/\/$/, ''));
    assert.deepEqual(bare, [...bare].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))), 'sorted by path');

    const requestsBefore = index.requests.length;
    const again = testContext();
    const second = await builder().build({ ...req, version: 2 }, again) as OciBuiltImage;
    assert.equal(second.dependencies!.reused, true);
    assert.equal(second.dependencies!.digest, deps.digest);
    assert.equal(index.requests.length, requestsBefore, 'pip did not run (the index saw no request)');
    assert.ok(again.lines.some((l) => /reused: same requirements.*pip did not run/.test(l)));
    assert.ok(!again.lines.some((l) => l.startsWith('pip: ')));

    // Another worker with an empty store resolves the same wheels to the same layer, byte for byte.
    const other = await tempStore('deps-other');
    try {
      const otherBuilder = new OciImageBuilder({
        store: other.store, logger, registries: new Registries({ logger }), runtimes: { python: services.baseImages().python },
        compression: 'none', scratchDir: path.join(other.dir, 'scratch'), hashAtBuild: true, dependencies: settings(),
      });
      const tree = await putTree(other.store, [{ path: 'src/func_main.py', content: 'import alpha\n' }, { path: 'requirements.txt', content: '# same packages\nalpha==1.0   \ncli-tool\n' }]);
      const third = await otherBuilder.build(buildRequest(uniqueName('deps'), tree, { dependencies: { source: 'requirements.txt', text: '# same packages\nalpha==1.0   \ncli-tool\n' } }), testContext()) as OciBuiltImage;
      assert.equal(third.dependencies!.reused, false);
      assert.equal(third.dependencies!.digest, deps.digest, 'same requirements + same wheels + same base → same layer digest');
    } finally {
      await other.cleanup();
    }
    assert.deepEqual(await scratchLeft(), []);
  });

  it('rebuilds only the dependency layer when the requirements change', async () => {
    const model = uniqueName('deps');
    const weights = { path: 'weights.bin', content: Buffer.alloc(5 * MiB, 7) };
    const first = await request('alpha==1.0\n', [weights]);
    const a = await builder().build({ ...first, model }, testContext()) as OciBuiltImage;
    const b = await builder().build({ ...await request('alpha==1.0\ngamma==0.1\n', [weights]), model, version: 2, contract: first.contract }, testContext()) as OciBuiltImage;
    assert.notEqual(a.dependencies!.digest, b.dependencies!.digest);
    assert.deepEqual(b.dependencies!.packages.map((p) => p.name), ['alpha', 'beta', 'gamma']);
    // Layers: runtime..., dependencies, small files (requirements.txt is one of them), weights.bin, contract.
    const base = a.layers.filter((l) => l.source.kind === 'base').length;
    const digests = (img: OciBuiltImage) => img.layers.map((l) => l.digest);
    assert.deepEqual(digests(b).slice(0, base), digests(a).slice(0, base), 'the runtime layers are the same');
    assert.deepEqual(digests(b).slice(base + 2), digests(a).slice(base + 2), 'the weights and contract layers are the same');
    assert.notEqual(b.layers[base + 1]!.digest, a.layers[base + 1]!.digest, 'the small-files layer holds the new requirements.txt');
  });

  it('installs for the model-type\'s Python: a cp36 wheel fits python:3.6, not python:3.11', async () => {
    const old = await builder({}, {}).build(await request('oldpy\n', [], { modelType: 'python:3.6' }), testContext()) as OciBuiltImage;
    assert.deepEqual(old.dependencies!.python, { version: '3.6', platform: old.platform, from: 'model-type' });
    assert.deepEqual(old.dependencies!.packages.map((p) => p.name), ['oldpy']);
    await buildFails(await request('oldpy\n'), 'DEPENDENCY_UNRESOLVABLE', /No wheel of "oldpy" fits Python 3\.11 \(cp311\) on linux\/amd64; the index has oldpy-1\.0-cp36-cp36m/);
  });

  it('installs a wheel shipped in the payload, and honours --require-hashes', async () => {
    const wheelBytes = await fs.readFile(path.join(index.dir, 'gamma-0.1-py3-none-any.whl'));
    const local = await builder().build(await request('./wheels/gamma-0.1-py3-none-any.whl\n', [{ path: 'wheels/gamma-0.1-py3-none-any.whl', content: wheelBytes }]), testContext()) as OciBuiltImage;
    assert.deepEqual(local.dependencies!.packages.map((p) => p.name), ['gamma']);

    const { createHash } = await import('node:crypto');
    const sha = createHash('sha256').update(wheelBytes).digest('hex');
    const pinned = await builder().build(await request(`--require-hashes\ngamma==0.1 --hash=sha256:${sha}\n`), testContext()) as OciBuiltImage;
    assert.equal(pinned.dependencies!.packages[0]!.wheelDigest, `sha256:${sha}`);
    await buildFails(await request(`gamma==0.1 --hash=sha256:${'0'.repeat(64)}\n`), 'DEPENDENCY_HASH_MISMATCH', /gamma==0\.1 .*Expected sha256 0+ Got/);
  });

  it('fails an unresolvable requirement, naming it and the target Python and platform', async () => {
    await buildFails(await request('alpha==1.0\nnosuchpackage>=1\n'), 'DEPENDENCY_UNRESOLVABLE', /"nosuchpackage>=1" is not on the package index \(http:\/\/127\.0\.0\.1:\d+\/simple\/\)/);
    await buildFails(await request('alpha==9.9\n'), 'DEPENDENCY_UNRESOLVABLE', /No version of "alpha==9\.9" fits: the index has 1\.0 with wheels for Python 3\.11/);
    await buildFails(await request('native\n'), 'DEPENDENCY_UNRESOLVABLE', /No wheel of "native" fits Python 3\.11 \(cp311\) on linux\/amd64; the index has native-1\.0-cp39-cp39-manylinux_2_17_x86_64\.whl/);
  });

  it('refuses a package that has only a source distribution, naming it', async () => {
    await buildFails(await request('srconly==1.0\n'), 'DEPENDENCY_SDIST_REFUSED', /"srconly==1\.0" is available only as a source distribution for Python 3\.11 .*srconly-1\.0\.tar\.gz.*MLL_PIP_ALLOW_SDIST/);
  });

  it('fails dependencies over the size limit', async () => {
    await buildFails(await request('heavy\n'), 'DEPENDENCY_TOO_LARGE', /take 3\.0 MiB, more than 1\.0 MiB \(MLL_DEPENDENCY_MAX_BYTES\)/, { maxBytes: MiB });
  });

  it('stops pip at the time limit, and on abort, killing it and leaving nothing behind', async () => {
    index.stallFiles = true;
    try {
      const started = Date.now();
      await buildFails(await request('gamma\n'), 'DEPENDENCY_TIMEOUT', /took longer than 3 s \(MLL_PIP_TIMEOUT_MS\)/, { timeoutMs: 3000 });
      assert.ok(Date.now() - started < 20_000);

      const ctx = testContext();
      const aborted = builder().build(await request('gamma==0.1\n'), ctx);
      setTimeout(() => ctx.controller.abort(new Error('stage aborted')), 1500);
      await assert.rejects(aborted, /stage aborted/);
      assert.deepEqual(await scratchLeft(), []);
      const pips = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(scratch));
      assert.deepEqual(pips, [], 'no pip process of this test is left running');
    } finally {
      index.stallFiles = false;
    }
  });

  it('builds a source distribution only when allowed, inside the sandbox: its build code sees neither the worker\'s files nor a writable path outside its scratch', async () => {
    const secret = path.join(env.dir, 'worker-secret.txt');
    // Outside /tmp: the sandbox's /tmp is a throwaway tmpfs where a write would succeed unseen.
    const escape = path.join('/var/tmp', `${uniqueName('written-by-a-build')}.txt`);
    await fs.writeFile(secret, 'the worker\'s secret');
    await writeProbeSdist(index.dir, secret, escape);
    await buildFails(await request('sandboxed-probe==1.0\n'), 'DEPENDENCY_SDIST_REFUSED', /"sandboxed-probe==1\.0" is available only as a source distribution/);

    const image = await builder({ allowSdist: true }).build(await request('sandboxed-probe==1.0\n'), testContext()) as OciBuiltImage;
    assert.deepEqual(image.dependencies!.packages.map((p) => p.name), ['sandboxed-probe']);
    const seen = execFileSync('tar', ['-xOf', await layerFile(image.dependencies!.digest), 'model/lib/sandboxed_probe/__init__.py'], { encoding: 'utf8' });
    assert.match(seen, /'secret': 'FileNotFoundError'/, `the build code could not read a worker file: ${seen}`);
    assert.match(seen, /'escape': '(FileNotFoundError|PermissionError|OSError)'/, `the build code could not write outside its scratch: ${seen}`);
    assert.match(seen, /'root': \[[^\]]*'usr'/, 'it saw the system read-only');
    assert.doesNotMatch(seen, /'root': \[[^\]]*'(home|var|srv|work)'/, 'and no home or data directory');
    const escaped = await fs.stat(escape).then(() => true, () => false);
    await fs.rm(escape, { force: true });
    assert.equal(escaped, false, `${escape} was not written on the worker`);
    assert.deepEqual(await scratchLeft(), []);
  });

  it('refuses forbidden lines before pip runs', async () => {
    const before = index.requests.length;
    await buildFails(await request('alpha\n-e ./src\n'), 'DEPENDENCY_FORBIDDEN_OPTION', /requirements\.txt line 2: "-e \.\/src" is an editable install/);
    await buildFails(await request('--index-url http://evil.example/simple\nalpha\n'), 'DEPENDENCY_FORBIDDEN_OPTION', /line 1: .*MLL_PIP_INDEX_URL/);
    await buildFails(await request('../outside/alpha-1.0-py3-none-any.whl\n'), 'DEPENDENCY_FORBIDDEN_OPTION', /line 1: .*outside the payload/);
    assert.equal(index.requests.length, before, 'pip never ran');
  });

  it('keeps the index credentials out of logs, errors, records, the image and its layer', async () => {
    const ctx = testContext();
    const image = await builder().build(await request('gamma==0.1\n'), ctx) as OciBuiltImage;
    const failing = testContext();
    await assert.rejects(builder().build(await request('nosuchpackage\n'), failing), (err: Error) => {
      assert.doesNotMatch(`${err.message} ${JSON.stringify(err)}`, new RegExp(password));
      return true;
    });
    const seen = [
      ...ctx.lines, ...failing.lines, JSON.stringify(image),
      (await getBuffer(env.store, keys.dependencyLayer(image.dependencies!.key))).toString(),
      (await getBuffer(env.store, keys.blob(image.configDigest!))).toString(),
      (await getBuffer(env.store, keys.blob(image.manifestDigest!))).toString(),
      (await getBuffer(env.store, keys.blob(image.dependencies!.digest), 256 * MiB)).toString('latin1'),
    ].join('\n');
    assert.doesNotMatch(seen, new RegExp(password));
    assert.ok(ctx.lines.some((l) => l.includes(`http://127.0.0.1:`)), 'the index is named, without its credentials');
  });

  it('normalises a pip tree the same in the oci builder (TypeScript) as in the docker builder\'s RUN step (Python)', async () => {
    const a = path.join(env.dir, 'norm-py');
    const b = path.join(env.dir, 'norm-ts');
    // Asynchronous: the index answers from this process.
    await execFileAsync('python3', ['-I', '-m', 'pip', 'install', '-q', '--target', a, '--disable-pip-version-check', '--no-cache-dir', '--index-url', index.url, 'cli-tool', 'alpha', 'odd-names'],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: env.dir, PIP_CONFIG_FILE: '/dev/null' } });
    await fs.cp(a, b, { recursive: true });
    assert.ok((await fs.readdir(path.join(a, 'alpha'))).includes('__pycache__'), 'pip compiled bytecode here (no --no-compile), so there is some to remove');
    execFileSync('python3', ['-I', '-c', NORMALISE_PY, a]);
    await normaliseTree(b);
    const files = async (root: string) => (await fs.readdir(root, { recursive: true })).sort();
    assert.deepEqual(await files(b), await files(a));
    for (const f of await files(a)) {
      const st = await fs.stat(path.join(a, f));
      if (st.isFile()) assert.ok((await fs.readFile(path.join(a, f))).equals(await fs.readFile(path.join(b, f))), `${f} is the same`);
    }
    const record = await fs.readFile(path.join(b, 'odd_names-1.0.dist-info', 'RECORD'), 'utf8');
    assert.match(record, /^"odd_names\/a,b\.py",sha256=/m, 'quoted RECORD paths survive');
    assert.match(await fs.readFile(path.join(b, 'bin', 'cli-main'), 'utf8'), /^#!\/usr\/bin\/env python3\n/);
    assert.doesNotMatch(record, /REQUESTED|__pycache__/);
  });

  it('with installing turned off, builds without the layer and warns', async () => {
    const before = index.requests.length;
    const image = await builder({ install: false }).build(await request('alpha\n'), testContext()) as OciBuiltImage;
    assert.equal(image.dependencies, null);
    assert.equal(image.warnings[0]?.code, 'DEPENDENCIES_NOT_INSTALLED');
    assert.match(image.warnings[0]!.message, /requirements\.txt was not installed \(MLL_INSTALL_DEPENDENCIES=false\)/);
    assert.equal(index.requests.length, before);
    const none = await builder().build(await request('# nothing to install\n'), testContext()) as OciBuiltImage;
    assert.equal(none.dependencies, null);
    assert.deepEqual(none.warnings, []);
  });
});
