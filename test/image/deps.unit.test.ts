import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config.js';
import { pipErrorLines, pipFailure, type FailureContext } from '../../src/image/deps/failure.js';
import { packagesFromPipOutput } from '../../src/image/deps/docker.js';
import { pipEnv, pipInstallArgs, publicIndexConfig } from '../../src/image/deps/pip.js';
import { simpleIndexFiles } from '../../src/image/deps/probe.js';
import { platformTags, pythonTarget } from '../../src/image/deps/python-target.js';
import { logicalLines, vetRequirements, type PayloadView } from '../../src/image/deps/requirements.js';
import { reportedPackages } from '../../src/image/deps/layer.js';
import { sandboxArgs } from '../../src/image/deps/sandbox.js';
import { chooseRuntime, matchRuntime, runtimeAllowed } from '../../src/image/runtime.js';
import type { ImageWarning } from '../../src/image/types.js';
import { redactUrlCredentials, secretRedactor } from '../../src/shared/redact.js';
import { testContext } from './helpers.js';

function payload(files: Record<string, string>): PayloadView {
  const paths = Object.keys(files);
  return {
    isFile: (p) => p in files,
    isDir: (p) => paths.some((f) => f.startsWith(`${p}/`)),
    filesUnder: (d) => paths.filter((f) => f.startsWith(`${d}/`)),
    read: async (p) => files[p]!,
  };
}

const vet = (text: string, files: Record<string, string> = {}, allowSdist = false) =>
  vetRequirements({ source: 'requirements.txt', text }, payload({ 'requirements.txt': text, ...files }), { allowSdist });

describe('requirements: read as pip reads them', () => {
  it('joins continuations, drops comments and blank lines, keeps line numbers', () => {
    assert.deepEqual(logicalLines('# top\nnumpy==1.26 # pinned\n\nrequests \\\n  >=2.0\nurl#frag\n'), [
      { line: 2, text: 'numpy==1.26' },
      { line: 4, text: 'requests >=2.0' },
      { line: 6, text: 'url#frag' },
    ]);
  });

  it('accepts names, specifiers, markers, extras, hashes and harmless options, and counts requirements', async () => {
    const v = await vet([
      '--require-hashes', '--prefer-binary', '--pre',
      'alpha==1.0 --hash=sha256:' + 'a'.repeat(64),
      'beta[fast]>=2; python_version >= "3.8" --hash sha256:' + 'b'.repeat(64),
      '-r more/extra.txt', '-c constraints.txt',
    ].join('\n'), { 'more/extra.txt': 'gamma\n-r ../requirements.txt\n', 'constraints.txt': 'gamma<2\n' });
    assert.equal(v.requirements, 4);
    assert.deepEqual(v.files.map((f) => f.path), ['requirements.txt', 'more/extra.txt', 'constraints.txt']);
    assert.ok(v.canonical.includes('gamma<2'));
  });

  it('ignores comments in the cache key form', async () => {
    const a = await vet('alpha==1.0\n');
    const b = await vet('# a comment\nalpha==1.0   # why\n\n');
    assert.deepEqual(a.canonical, b.canonical);
  });

  const refusals: [string, string, RegExp][] = [
    ['-e git+https://example.com/x.git#egg=x', 'DEPENDENCY_FORBIDDEN_OPTION', /line 1: .*editable/],
    ['--editable ./src', 'DEPENDENCY_FORBIDDEN_OPTION', /editable/],
    ['--index-url https://user:hunter22@evil.example/simple', 'DEPENDENCY_FORBIDDEN_OPTION', /package index is the operator's choice/],
    ['-i https://evil.example/simple', 'DEPENDENCY_FORBIDDEN_OPTION', /MLL_PIP_INDEX_URL/],
    ['--extra-index-url=https://evil.example/simple', 'DEPENDENCY_FORBIDDEN_OPTION', /MLL_PIP_INDEX_URL/],
    ['-f ./wheels', 'DEPENDENCY_FORBIDDEN_OPTION', /where packages come from/],
    ['--trusted-host evil.example', 'DEPENDENCY_FORBIDDEN_OPTION', /where packages come from/],
    ['alpha\n-r ../../etc/requirements.txt', 'DEPENDENCY_FORBIDDEN_OPTION', /line 2: .*outside the payload/],
    ['-r /etc/passwd', 'DEPENDENCY_FORBIDDEN_OPTION', /outside the payload/],
    ['-r missing.txt', 'DEPENDENCY_FORBIDDEN_OPTION', /not a file in the payload/],
    ['-c https://example.com/c.txt', 'DEPENDENCY_FORBIDDEN_OPTION', /not in the payload/],
    ['../outside/pkg-1.0-py3-none-any.whl', 'DEPENDENCY_FORBIDDEN_OPTION', /outside the payload/],
    ['/opt/wheels/pkg-1.0-py3-none-any.whl', 'DEPENDENCY_FORBIDDEN_OPTION', /outside the payload/],
    ['./wheels/missing-1.0-py3-none-any.whl', 'DEPENDENCY_FORBIDDEN_OPTION', /not in the payload/],
    ['https://example.com/pkg-1.0-py3-none-any.whl', 'DEPENDENCY_FORBIDDEN_OPTION', /from a URL/],
    ['pkg @ https://example.com/pkg.whl', 'DEPENDENCY_FORBIDDEN_OPTION', /from a URL/],
    ['git+https://example.com/pkg.git', 'DEPENDENCY_FORBIDDEN_OPTION', /from a URL/],
    ['alpha==${VERSION}', 'DEPENDENCY_FORBIDDEN_OPTION', /environment variable/],
    ['alpha --global-option=--fast', 'DEPENDENCY_FORBIDDEN_OPTION', /build options/],
    ['--use-feature=truststore', 'DEPENDENCY_FORBIDDEN_OPTION', /not an option ML Lambda accepts/],
    ['alpha --hash=md5', 'DEPENDENCY_FORBIDDEN_OPTION', /algorithm:hex/],
    ['--no-binary :all:', 'DEPENDENCY_SDIST_REFUSED', /MLL_PIP_ALLOW_SDIST/],
  ];
  for (const [text, code, message] of refusals) {
    it(`refuses ${JSON.stringify(text)} with ${code}`, async () => {
      await assert.rejects(vet(text), (err: { code: string; message: string; details: { line: number } }) => {
        assert.equal(err.code, code);
        assert.match(err.message, message);
        assert.match(err.message, /^requirements\.txt line \d+: "/);
        assert.doesNotMatch(err.message, /hunter22/, 'credentials in a refused line are redacted');
        return true;
      });
    });
  }

  it('takes local wheels in the payload, refuses local sources unless allowed', async () => {
    const files = { 'wheels/pkg-1.0-py3-none-any.whl': 'zip', 'src/pkg/setup.py': 'x', 'dist/pkg-1.0.tar.gz': 'tgz' };
    const v = await vet('./wheels/pkg-1.0-py3-none-any.whl\n', files);
    assert.deepEqual(v.localFiles, ['wheels/pkg-1.0-py3-none-any.whl']);
    await assert.rejects(vet('./src/pkg\n', files), { code: 'DEPENDENCY_SDIST_REFUSED', message: /source tree/ });
    await assert.rejects(vet('dist/pkg-1.0.tar.gz\n', files), { code: 'DEPENDENCY_SDIST_REFUSED', message: /source distribution/ });
    const allowed = await vet('./src/pkg\n', files, true);
    assert.deepEqual(allowed.localFiles, ['src/pkg/setup.py']);
  });

  it('names an install-command as such', async () => {
    await assert.rejects(vetRequirements({ source: 'install-command', text: '-e .' }, payload({}), { allowSdist: false }), {
      message: /^serving\.yaml install-command line 1:/,
    });
  });
});

describe('python target', () => {
  it('takes the runtime label first, then a python model-type, then the default', () => {
    const labels = { 'ai.mll.runtime.python': '3.11', 'ai.mll.runtime.platform': 'linux/arm64' };
    const fromLabel = pythonTarget({ runtimeLabels: labels, imagePlatform: 'linux/amd64', modelType: 'python:3.6', framework: 'python', defaultVersion: '3.10' });
    assert.equal(fromLabel.version, '3.11');
    assert.equal(fromLabel.from, 'runtime-label');
    assert.equal(fromLabel.platform, 'linux/arm64');
    assert.ok(fromLabel.platformTags.includes('manylinux_2_17_aarch64'));
    const fromType = pythonTarget({ imagePlatform: 'linux/amd64', modelType: 'python:3.6.8', framework: 'python', defaultVersion: '3.10' });
    assert.deepEqual([fromType.version, fromType.from, fromType.abis[0]], ['3.6', 'model-type', 'cp36m']);
    const fallback = pythonTarget({ imagePlatform: 'linux/amd64', modelType: 'keras:2.2', framework: 'keras', defaultVersion: '3.10' });
    assert.deepEqual([fallback.version, fallback.from, fallback.abis], ['3.10', 'default', ['cp310', 'abi3', 'none']]);
  });

  it('lists manylinux tags down from the runtime glibc, the legacy aliases and linux_<arch>', () => {
    const tags = platformTags('linux/amd64', '2.28');
    assert.equal(tags[0], 'manylinux_2_28_x86_64');
    assert.ok(tags.includes('manylinux_2_5_x86_64') && tags.includes('manylinux2014_x86_64') && tags.includes('manylinux1_x86_64'));
    assert.equal(tags.at(-1), 'linux_x86_64');
    assert.ok(!tags.includes('manylinux_2_31_x86_64'));
  });

  it('gives pip wheel-only flags for the target, and none of the worker\'s environment', () => {
    const python = pythonTarget({ imagePlatform: 'linux/amd64', modelType: 'python:3.11', framework: 'python', defaultVersion: '3.11' });
    const args = pipInstallArgs({ target: '/t', requirementFile: 'requirements.txt', python, allowSdist: false });
    for (const flag of ['--only-binary=:all:', '--no-compile', '--no-cache-dir', '--disable-pip-version-check', '--no-input']) assert.ok(args.includes(flag), flag);
    assert.equal(args[args.indexOf('--python-version') + 1], '3.11');
    assert.equal(args[args.indexOf('--implementation') + 1], 'cp');
    assert.ok(!args.includes('--no-deps'), 'dependencies are resolved');
    const sdist = pipInstallArgs({ target: '/t', requirementFile: 'r.txt', python, allowSdist: true });
    assert.ok(!sdist.includes('--only-binary=:all:') && !sdist.includes('--platform'));
    const env = pipEnv({ indexUrl: 'http://u:p@h/simple', extraIndexUrls: ['http://a/s', 'http://b/s'], trustedHosts: ['h'] }, { home: '/h', tmp: '/t' }, '/usr/bin');
    assert.deepEqual(Object.keys(env).sort(), ['HOME', 'LANG', 'PATH', 'PIP_CONFIG_FILE', 'PIP_EXTRA_INDEX_URL', 'PIP_INDEX_URL', 'PIP_TRUSTED_HOST', 'PYTHONDONTWRITEBYTECODE', 'SOURCE_DATE_EPOCH', 'TMPDIR']);
    assert.equal(env.PIP_CONFIG_FILE, '/dev/null');
    assert.deepEqual(publicIndexConfig({ indexUrl: 'http://u:p@h/simple', extraIndexUrls: [], trustedHosts: [] }).indexUrls, ['http://h/simple']);
  });
});

describe('runtimes by version', () => {
  const runtimes = { python: 'r/py:any', 'python:3.6': 'r/py:36', 'python:3.6.8': 'r/py:368', 'python:3': 'r/py:3', tensorflow: 'r/tf:1' };
  const cases: [string, string, string | undefined][] = [
    ['python', 'python:3.6.8', 'python:3.6.8'],
    ['python', 'python:3.6.9', 'python:3.6'],
    ['python', 'python:3.6', 'python:3.6'],
    ['python', 'python:3.60', 'python:3'],
    ['python', 'python:3.11', 'python:3'],
    ['python', 'python:2.7', 'python'],
    ['python', 'python', 'python'],
    ['tensorflow', 'tensorflow:2.15', 'tensorflow'],
    ['onnx', 'onnx:1.14', undefined],
  ];
  for (const [framework, modelType, key] of cases) {
    it(`${modelType} → ${key ?? 'none'}`, () => {
      const m = matchRuntime(runtimes, framework, modelType);
      assert.equal(m?.matched, key);
      if (key) assert.equal(m?.reference, runtimes[key as keyof typeof runtimes]);
    });
  }

  it('matches the allow-list by segment (*) or across segments (**), as written or canonical', () => {
    assert.equal(runtimeAllowed('registry.local/runtimes/python:3.11', ['registry.local/runtimes/*']), true);
    assert.equal(runtimeAllowed('registry.local/runtimes/team/python:3.11', ['registry.local/runtimes/*']), false);
    assert.equal(runtimeAllowed('registry.local/runtimes/team/python:3.11', ['registry.local/runtimes/**']), true);
    assert.equal(runtimeAllowed('python:3.11', ['registry-1.docker.io/library/python:*']), true);
    assert.equal(runtimeAllowed('evil.example/runtimes/python:3.11', ['registry.local/runtimes/*']), false);
    assert.equal(runtimeAllowed('registry.local/runtimes/python:3.11', []), false);
    assert.equal(runtimeAllowed('not a reference', ['**']), false);
  });

  it('uses an allowed requested runtime, and otherwise warns and falls back to MLL_RUNTIMES', () => {
    const policy = { runtimes, runtimeAllow: ['registry.local/runtimes/*'] };
    const warnings: ImageWarning[] = [];
    const allowed = chooseRuntime(policy, { framework: 'python', modelType: 'python:3.6', requestedRuntime: 'registry.local/runtimes/py:3.6' }, warnings, testContext());
    assert.deepEqual(allowed, { reference: 'registry.local/runtimes/py:3.6', matched: 'serving.yaml' });
    assert.equal(warnings.length, 0);
    const refused = chooseRuntime(policy, { framework: 'python', modelType: 'python:3.6', requestedRuntime: 'evil.example/py:1' }, warnings, testContext());
    assert.deepEqual(refused, { reference: 'r/py:36', matched: 'python:3.6' });
    assert.equal(warnings[0]?.code, 'RUNTIME_NOT_ALLOWED');
    assert.match(warnings[0]!.message, /evil\.example\/py:1.*MLL_RUNTIME_ALLOW.*r\/py:36/);
  });

  it('reads framework:version keys from MLL_RUNTIMES and the allow-list from MLL_RUNTIME_ALLOW', () => {
    const config = loadConfig({ MLL_RUNTIMES: 'python=a/py:1,python:3.6=a/py:36', MLL_RUNTIME_ALLOW: 'a/*, b/**' });
    assert.deepEqual(config.runtimes, { python: 'a/py:1', 'python:3.6': 'a/py:36' });
    assert.deepEqual(config.runtimeAllow, ['a/*', 'b/**']);
  });
});

describe('credentials never shown', () => {
  it('redacts URL userinfo and the secrets themselves', () => {
    assert.equal(redactUrlCredentials('Looking in http://user:s3cr3t@h/simple and https://tok@x/'), 'Looking in http://***@h/simple and https://***@x/');
    const redact = secretRedactor(['http://alice:p%40ss%2Fword@h/simple']);
    assert.equal(redact('401 for alice with p@ss/word or p%40ss%2Fword'), '401 for *** with *** or ***');
  });

  it('keeps them out of configuration errors', () => {
    assert.throws(() => loadConfig({ MLL_PIP_INDEX_URL: 'ftp://user:hunter22@h/simple' }), (err: Error) => {
      assert.match(err.message, /MLL_PIP_INDEX_URL/);
      assert.doesNotMatch(err.message, /hunter22/);
      return true;
    });
  });
});

describe('pip output', () => {
  it('keeps ERROR lines and what is indented under them', () => {
    assert.deepEqual(pipErrorLines(['Collecting x', 'ERROR: first', '    detail', 'noise', 'ERROR: second']), ['first', 'detail', 'second']);
  });

  it('reads the installation report without URLs', () => {
    const packages = reportedPackages({
      install: [
        { metadata: { name: 'b', version: '2' }, download_info: { url: 'http://u:p@h/files/b-2-py3-none-any.whl', archive_info: { hashes: { sha256: 'ab' } } } },
        { metadata: { name: 'a', version: '1' }, download_info: { url: 'http://h/files/a%2B-1-py3-none-any.whl', archive_info: { hash: 'sha256=cd' } } },
      ],
    });
    assert.deepEqual(packages, [
      { name: 'a', version: '1', file: 'a+-1-py3-none-any.whl', wheelDigest: 'sha256:cd' },
      { name: 'b', version: '2', file: 'b-2-py3-none-any.whl', wheelDigest: 'sha256:ab' },
    ]);
    assert.deepEqual(packagesFromPipOutput('Successfully installed alpha-1.0 beta_x-2.0.1'), [
      { name: 'alpha', version: '1.0', file: '', wheelDigest: null }, { name: 'beta_x', version: '2.0.1', file: '', wheelDigest: null },
    ]);
  });

  it('lists a simple index page\'s files', () => {
    assert.deepEqual(simpleIndexFiles('<a href="/f/a-1.tar.gz#sha256=1">a-1.tar.gz</a><br/><a href="../../f/a-1-py3-none-any.whl">a-1-py3-none-any.whl</a>'),
      ['a-1.tar.gz', 'a-1-py3-none-any.whl']);
  });

  const fc = (extra: Partial<FailureContext> = {}): FailureContext => ({
    python: pythonTarget({ imagePlatform: 'linux/amd64', modelType: 'python:3.11', framework: 'python', defaultVersion: '3.11' }),
    indexUrls: ['http://127.0.0.1:1/simple/'], publicIndexUrls: ['http://127.0.0.1:1/simple/'], allowSdist: false,
    timeoutMs: 5000, maxBytes: 1024, interpreter: 'python3', redact: (t) => t, signal: new AbortController().signal, ...extra,
  });

  it('names the requirement, the versions there are, and the target', async () => {
    const err = await pipFailure({ exitCode: 1, tail: [
      'ERROR: Could not find a version that satisfies the requirement alpha==2.0 (from versions: 1.0, 1.1)',
      'ERROR: No matching distribution found for alpha==2.0',
    ] }, fc());
    assert.equal(err.code, 'DEPENDENCY_UNRESOLVABLE');
    assert.match(err.message, /"alpha==2\.0".*1\.0, 1\.1.*Python 3\.11 \(cp311\) on linux\/amd64/);
  });

  it('tells an unreachable index from a missing package', async () => {
    const err = await pipFailure({ exitCode: 1, tail: [
      "WARNING: Retrying (Retry(total=0)) after connection broken by 'NewConnectionError(Connection refused)': /simple/alpha/",
      'ERROR: No matching distribution found for alpha',
    ] }, fc());
    assert.equal(err.code, 'DEPENDENCY_INDEX_UNAVAILABLE');
    assert.equal(err.transient, true);
  });

  it('reports timeouts, size, hash mismatches and a missing pip with their own codes', async () => {
    assert.equal((await pipFailure({ exitCode: null, stopped: 'timeout', tail: ['Collecting alpha'] }, fc())).code, 'DEPENDENCY_TIMEOUT');
    assert.equal((await pipFailure({ exitCode: null, stopped: 'too-large', tail: [] }, fc())).code, 'DEPENDENCY_TOO_LARGE');
    const hash = await pipFailure({ exitCode: 1, tail: [
      'ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE. If you have updated the package versions, please update the hashes.',
      '    alpha==1.0 from http://h/files/alpha-1.0-py3-none-any.whl (from -r requirements.txt (line 1)):',
      '        Expected sha256 00',
      '             Got        ab',
    ] }, fc());
    assert.equal(hash.code, 'DEPENDENCY_HASH_MISMATCH');
    assert.match(hash.message, /alpha==1\.0 .*Expected sha256 00 Got ab/);
    const nopip = await pipFailure({ exitCode: 1, tail: ['/usr/bin/python3: No module named pip'] }, fc());
    assert.equal(nopip.code, 'BUILDER_UNAVAILABLE');
    assert.match(nopip.message, /python3-pip/);
  });

  it('says what to do when the source-build sandbox cannot run', async () => {
    const missing = Object.assign(new Error('spawn bwrap ENOENT'), { code: 'ENOENT' });
    const absent = await pipFailure({ exitCode: null, spawnError: missing, sandboxed: true, tail: [] }, fc({ allowSdist: true }));
    assert.equal(absent.code, 'BUILDER_UNAVAILABLE');
    assert.match(absent.message, /bwrap is not installed.*Install bubblewrap.*MLL_PIP_SANDBOX=none/);
    const refused = await pipFailure({ exitCode: 1, sandboxed: true, tail: ['bwrap: No permissions to creating new namespace'] }, fc({ allowSdist: true }));
    assert.match(refused.message, /refused to start \(bwrap: No permissions to creating new namespace\)/);
    const unsandboxed = await pipFailure({ exitCode: null, spawnError: missing, tail: [] }, fc());
    assert.match(unsandboxed.message, /python3 cannot be run/, 'without the sandbox a missing program is the interpreter');
  });

  it('sandboxes a source build: /usr read-only, its scratch writable, no other namespace shared but the network', () => {
    const args = sandboxArgs({ writable: ['/scratch/deps-1'], readable: ['/opt/py/3.11', '/usr'], cwd: '/scratch/deps-1/payload', command: ['python3', '-m', 'pip'] });
    const pairs = (flag: string) => args.flatMap((a, i) => (a === flag ? [`${args[i + 1]} ${args[i + 2]}`] : []));
    assert.ok(pairs('--ro-bind').includes('/usr /usr'));
    assert.deepEqual(pairs('--bind'), ['/scratch/deps-1 /scratch/deps-1'], 'only the scratch directory is writable');
    assert.ok(pairs('--ro-bind').includes('/opt/py/3.11 /opt/py/3.11'), 'the interpreter\'s installation is readable');
    assert.equal(pairs('--ro-bind').filter((p) => p.startsWith('/usr ')).length, 1);
    assert.ok(!pairs('--ro-bind').some((p) => /^\/(home|root|var|run|srv|work|etc) /.test(p)), `no home, data or whole /etc: ${pairs('--ro-bind').join(', ')}`);
    for (const flag of ['--unshare-all', '--share-net', '--die-with-parent', '--new-session']) assert.ok(args.includes(flag), flag);
    assert.deepEqual(args.slice(args.indexOf('--cap-drop'), args.indexOf('--cap-drop') + 2), ['--cap-drop', 'ALL']);
    assert.deepEqual(args.slice(args.indexOf('--chdir')), ['--chdir', '/scratch/deps-1/payload', '--', 'python3', '-m', 'pip']);
  });
});
