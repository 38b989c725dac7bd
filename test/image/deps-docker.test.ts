import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { DockerImageBuilder } from '../../src/image/docker/builder.js';
import { createDocker } from '../../src/image/docker/engine.js';
import type { DependencySettings } from '../../src/image/deps/index.js';
import { OciImageBuilder } from '../../src/image/oci/builder.js';
import { Registries } from '../../src/image/registry/registries.js';
import { RegistryTarget } from '../../src/image/registry/target.js';
import type { DockerBuiltImage, OciBuiltImage } from '../../src/image/types.js';
import { startPackageIndex, type PackageIndex } from '../support/package-index.js';
import { services } from '../support/services.js';
import { uniqueName } from '../support/unique.js';
import { buildRequest, deleteManifest, docker, logger, putTree, tempStore, testContext } from './helpers.js';

// Every path, type, mode and size under /model/lib, and the content hash of each file.
const libTree = [
  'cd /model/lib',
  'find . | sort | while read -r f; do if [ -f "$f" ]; then stat -c "%n %F %a %s" "$f"; else stat -c "%n %F %a" "$f"; fi; done',
  'find . -type f | sort | xargs sha256sum',
].join(' && ');

/**
 * The docker builder installs the same requirements with a RUN step in a build stage FROM the
 * runtime (which has python3 and pip), and the image gets the same /model/lib tree as the oci
 * builder's layer; the index credentials reach neither the image's layers nor its history.
 */
describe('dependency layer (docker builder, pip in the runtime)', () => {
  let env: Awaited<ReturnType<typeof tempStore>>;
  let index: PackageIndex;
  const password = `pw-${uniqueName('dsecret')}`;
  const cleanups: (() => Promise<void> | void)[] = [];
  const runtime = () => services.baseImages().python;

  before(async () => {
    env = await tempStore('depsdock');
    index = await startPackageIndex({ auth: { username: 'reader', password } });
    await index.addWheel({ name: 'alpha', version: '1.0', files: { 'alpha/__init__.py': 'from beta import B\nA = B + 1\n' }, requires: ['beta>=1'] });
    await index.addWheel({ name: 'beta', version: '1.2', files: { 'beta/__init__.py': 'B = 41\n', 'beta/data.bin': 5000 } });
    await index.addWheel({ name: 'cli-tool', version: '2.0', files: { 'cli_tool/__init__.py': 'def main():\n    return 0\n', 'cli_tool-2.0.data/scripts/cli-hello': '#!python\nprint("hello")\n' } });
    await index.addWheel({ name: 'heavy', version: '1.0', files: { 'heavy/blob.bin': 2 * 1024 * 1024 } });
  });
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
    await index.close();
    await env.cleanup();
  });

  function settings(overrides: Partial<DependencySettings> = {}): DependencySettings {
    return {
      install: true, index: { indexUrl: index.url, extraIndexUrls: [], trustedHosts: [] }, allowSdist: false, sandbox: 'bwrap',
      timeoutMs: 120_000, maxBytes: 64 * 1024 * 1024, interpreter: 'python3', defaultPythonVersion: '3.11',
      searchPath: process.env.PATH ?? '/usr/bin:/bin', ...overrides,
    };
  }
  const dockerBuilder = (deps: Partial<DependencySettings> = {}) => new DockerImageBuilder({
    store: env.store, logger, registries: new Registries({ logger }), runtimes: { python: runtime() }, dependencies: settings(deps),
    docker: () => createDocker(services.dockerHost()),
  });
  const rmi = (ref: string) => cleanups.push(() => { try { docker(['rmi', '-f', ref]); } catch { /* gone */ } });

  async function request(requirements: string) {
    const tree = await putTree(env.store, [{ path: 'src/func_main.py', content: 'import alpha\n' }, { path: 'requirements.txt', content: requirements }]);
    return buildRequest(uniqueName('ddeps'), tree, { dependencies: { source: 'requirements.txt', text: requirements } });
  }

  it('installs with a RUN step into the same /model/lib tree as the oci builder, credentials in neither image', async () => {
    const req = await request('alpha==1.0\ncli-tool\n');
    const registry = services.registry();
    const registries = new Registries({ logger });
    const target = new RegistryTarget({ store: env.store, logger, registries, registry });

    const ctx = testContext();
    const built = await dockerBuilder().build(req, ctx) as DockerBuiltImage;
    rmi(built.localTag);
    assert.deepEqual(built.dependencies?.packages.map((p) => `${p.name} ${p.version}`), ['alpha 1.0', 'beta 1.2', 'cli-tool 2.0']);
    assert.deepEqual(built.dependencies?.python, { version: '3.11', platform: 'linux/amd64', from: 'runtime-label' });
    const pushed = await target.publish(built, { repository: req.model, tag: '1' }, testContext());
    rmi(pushed.reference);
    cleanups.push(() => deleteManifest(registry, req.model, pushed.digest));

    const oci = await new OciImageBuilder({
      store: env.store, logger, registries, runtimes: { python: runtime() }, compression: 'none', scratchDir: `${env.dir}/scratch`, dependencies: settings(),
    }).build(req, testContext()) as OciBuiltImage;
    assert.equal(oci.dependencies?.python.from, 'runtime-label');
    const ociPushed = await target.publish(oci, { repository: req.model, tag: '1-oci' }, testContext());
    cleanups.push(() => deleteManifest(registry, req.model, ociPushed.digest));
    docker(['pull', '-q', ociPushed.reference]);
    rmi(ociPushed.reference);

    const fromDocker = docker(['run', '--rm', '--entrypoint', '/bin/sh', pushed.reference, '-c', libTree]);
    const fromOci = docker(['run', '--rm', '--entrypoint', '/bin/sh', ociPushed.reference, '-c', libTree]);
    assert.match(fromDocker, /\.\/alpha\/__init__\.py regular file 644 \d+/);
    assert.match(fromDocker, /\.\/bin\/cli-hello regular file 6\d\d 38\n/, 'a wheel script, its shebang rewritten to #!/usr/bin/env python3');
    assert.doesNotMatch(fromDocker, /__pycache__|direct_url\.json|REQUESTED/);
    assert.equal(fromOci, fromDocker, 'both builders give the same file tree under /model/lib');
    const imports = docker(['run', '--rm', '--entrypoint', '/usr/bin/python3', pushed.reference, '-c', 'import sys; sys.path.insert(0, "/model/lib"); import alpha; print(alpha.A)']);
    assert.equal(imports.trim(), '42');

    // One layer for /model/lib in the image, and no trace of the index credentials in it.
    const history = docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', pushed.reference]);
    assert.match(history, /COPY --from=mll-deps \/model\/lib \/model\/lib|COPY dir:[0-9a-f]+ in \/model\/lib/);
    assert.doesNotMatch(history, /pip install/, 'the install stage is not part of the image');
    const saved = `${env.dir}/saved.tar`;
    docker(['save', '-o', saved, pushed.reference]);
    assert.equal(spawnSync('grep', ['-a', '-q', password, saved]).status, 1, 'no layer of the image holds the password');
    assert.doesNotMatch(docker(['inspect', pushed.reference]), new RegExp(password));
    assert.doesNotMatch(ctx.lines.join('\n'), new RegExp(password));
  });

  it('refuses the same lines as the oci builder before anything is built', async () => {
    await assert.rejects(dockerBuilder().build(await request('-e ./src\n'), testContext()), { code: 'DEPENDENCY_FORBIDDEN_OPTION', message: /line 1: "-e \.\/src" is an editable install/ });
  });

  it('reports pip\'s failures and the size limit with the same codes', async () => {
    const ctx = testContext();
    await assert.rejects(dockerBuilder().build(await request('nosuchpackage\n'), ctx), (err: { code: string; message: string }) => {
      assert.equal(err.code, 'DEPENDENCY_UNRESOLVABLE', err.message);
      assert.match(err.message, /"nosuchpackage" is not on the package index \(http:\/\/127\.0\.0\.1:\d+\/simple\/\)/);
      assert.doesNotMatch(err.message, new RegExp(password));
      return true;
    });
    assert.doesNotMatch(ctx.lines.join('\n'), new RegExp(password));
    await assert.rejects(dockerBuilder({ maxBytes: 1024 * 1024 }).build(await request('heavy\n'), testContext()), {
      code: 'DEPENDENCY_TOO_LARGE', message: /take 2\.0 MiB, more than 1\.0 MiB/,
    });
  });
});
