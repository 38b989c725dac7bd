import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { keys } from '../../src/domain/keys.js';
import type { VersionRecord } from '../../src/domain/version.js';
import { isMllError } from '../../src/errors.js';
import { createImageBuilder, createImageTarget } from '../../src/image/index.js';
import type { ImageBuilder } from '../../src/image/types.js';
import { createLogger } from '../../src/log.js';
import type { StageContext, StagePorts } from '../../src/pipeline/ports.js';
import { buildStage, extractStage, pushStage, type ChangeContext } from '../../src/pipeline/stages.js';
import { MemoryObjectStore } from '../../src/storage/memory-store.js';
import { exists } from '../../src/storage/object-store.js';
import { makeTar } from '../support/tar.js';

/**
 * The stages as plain functions on in-memory ports: no Redis, no S3, no registry. The worker's
 * bookkeeping is exercised through each stage definition's input/change functions.
 */
const servingYaml = `kind: Model
name: tok
model-type: python:3.11
payload: [src/, requirements.txt]
contract:
  predict:
    inputs: {x: {shape: [-1], type: string}}
    outputs: {y: {shape: [-1], type: string}}
`;
const files = [
  { name: 'serving.yaml', body: servingYaml },
  { name: 'requirements.txt', body: 'numpy==1.26.4\n' },
  { name: 'src/func_main.py', body: 'def predict(x):\n    return {"y": x}\n' },
  { name: 'notes.txt', body: 'not in the payload list' },
];

function record(model: string, version: number, payloadKey: string, digest: string, size: number): VersionRecord {
  const now = new Date().toISOString();
  return {
    model, version, status: 'queued', createdAt: now, updatedAt: now, description: null, labels: {}, modelType: null,
    payload: { key: payloadKey, digest, size, format: 'tar' },
    stages: {}, contract: null, contractDigest: null, tree: null, image: null, warnings: [], error: null, diff: null, batchId: null,
  };
}

describe('stages on in-memory ports', () => {
  let dir: string;
  let store: MemoryObjectStore;
  let ports: StagePorts;
  const lines: string[] = [];
  const ctx: StageContext = { signal: new AbortController().signal, log: (l) => lines.push(l), logger: createLogger('silent') };
  const noVersions: ChangeContext = { versions: { get: async () => Promise.reject(new Error('none')) }, target: 'oci-layout' };

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mll-stages-'));
    store = new MemoryObjectStore();
    // No package index in the unit tier: requirements are noted, not installed (test/image/deps.test.ts installs them).
    const config = loadConfig({ MLL_DATA_DIR: dir, MLL_INSTALL_DEPENDENCIES: 'false' });
    const logger = createLogger('silent');
    ports = {
      store, logger,
      builder: createImageBuilder(config, { store, logger }),
      target: createImageTarget(config, { store, logger }),
      settings: { scratchDir: path.join(dir, 'work'), maxUnpackedBytes: 1 << 30, maxFiles: 1000, maxPathDepth: 32 },
    };
  });
  after(() => rm(dir, { recursive: true, force: true }));

  async function uploaded(model: string, version: number, entries = files): Promise<VersionRecord> {
    const tar = await makeTar(entries);
    const key = keys.upload(`${model}-${version}`);
    await store.put(key, tar);
    const { sha256Digest } = await import('../../src/shared/digest.js');
    return record(model, version, key, sha256Digest(tar), tar.length);
  }

  it('extract → build → push: a released version with its dependencies noted, a model-only image in an OCI layout', async () => {
    const r = await uploaded('tok', 1);
    const extracted = await extractStage.run(extractStage.input(r), ports, ctx);
    assert.equal(extracted.modelType, 'python:3.11');
    assert.deepEqual(extracted.contract.signatures.map((s) => s.name), ['predict']);
    assert.equal(extracted.tree.files, 2, 'serving.yaml payload list decides the files (notes.txt and serving.yaml left out)');
    assert.equal(extracted.dependencies?.source, 'requirements.txt');
    assert.ok(await exists(store, keys.blob(extracted.dependencies!.digest)), 'requirements.txt is a blob');
    assert.ok(await exists(store, keys.blob(extracted.contractDigest)));
    (await extractStage.change(r, extracted, noVersions)).apply(r);
    assert.equal(r.tree?.digest, extracted.tree.digest);
    assert.equal(r.dependencies?.digest, extracted.dependencies!.digest);

    const built = await buildStage.run(buildStage.input(r), ports, ctx);
    assert.equal(built.image.modelOnly, true);
    (await buildStage.change(r, built, noVersions)).apply(r);
    assert.equal(r.image?.builder, 'oci');
    assert.ok(r.warnings.some((w) => w.code === 'DEPENDENCIES_NOT_INSTALLED'), 'the version says its requirements were not installed');

    const published = await pushStage.run(pushStage.input(r), ports, ctx);
    assert.match(published.digest, /^sha256:[0-9a-f]{64}$/);
    const change = await pushStage.change(r, published, noVersions);
    change.apply(r);
    assert.equal(r.status, 'released');
    assert.equal(r.image?.digest, published.digest);
    assert.equal(change.event?.status, 'released');
    const index = JSON.parse(await readFile(path.join(dir, 'images', 'tok', 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    assert.ok(index.manifests.some((m) => m.digest === published.digest), 'the layout holds the published manifest');
  });

  it("serving.yaml's description becomes the version's unless the upload gave one", async () => {
    const described = files.map((f) => (f.name === 'serving.yaml' ? { ...f, body: `${servingYaml}description: "splits text"\n` } : f));
    const r = await uploaded('described', 1, described);
    const extracted = await extractStage.run(extractStage.input(r), ports, ctx);
    (await extractStage.change(r, extracted, noVersions)).apply(r);
    assert.equal(r.description, 'splits text');
    const own = await uploaded('described', 2, described);
    own.description = 'from the upload';
    (await extractStage.change(own, await extractStage.run(extractStage.input(own), ports, ctx), noVersions)).apply(own);
    assert.equal(own.description, 'from the upload');
  });

  it('extract reuses the output of a byte-identical payload without reading it again', async () => {
    const first = await uploaded('same', 1);
    const a = await extractStage.run(extractStage.input(first), ports, ctx);
    const second = await uploaded('same', 2);
    // Same bytes, so the same digest: the payload itself is never read (it is gone).
    await store.delete(second.payload.key);
    lines.length = 0;
    const b = await extractStage.run(extractStage.input(second), ports, ctx);
    assert.deepEqual(b, a);
    assert.ok(lines.some((l) => /extracted before/.test(l)), lines.join('\n'));
    assert.deepEqual(await readdir(path.join(dir, 'work')), [], 'no scratch directory left');
  });

  it('build skips a version whose inputs it built before, and rebuilds when an input changed', async () => {
    let calls = 0;
    const counting: ImageBuilder = { name: 'oci', check: async () => undefined, build: async (req, c) => (calls++, ports.builder.build(req, c)) };
    const p = { ...ports, builder: counting };
    const r = await uploaded('again', 1);
    (await extractStage.change(r, await extractStage.run(extractStage.input(r), p, ctx), noVersions)).apply(r);
    const one = await buildStage.run(buildStage.input(r), p, ctx);
    const two = await buildStage.run(buildStage.input(r), p, ctx);
    assert.equal(calls, 1);
    assert.deepEqual(two, one);
    r.labels = { team: 'search' };
    await buildStage.run(buildStage.input(r), p, ctx);
    assert.equal(calls, 2, 'new labels are a new input');
  });

  it('extract records the diff against the previous version with a contract, flagging breaking changes', async () => {
    const v1 = await uploaded('diffed', 1);
    const out1 = await extractStage.run(extractStage.input(v1), ports, ctx);
    (await extractStage.change(v1, out1, noVersions)).apply(v1);
    const changedYaml = servingYaml.replace('x: {shape: [-1], type: string}', 'x: {shape: [-1], type: int64}');
    const v2 = await uploaded('diffed', 2, files.map((f) => (f.name === 'serving.yaml' ? { ...f, body: changedYaml } : f)));
    const out2 = await extractStage.run(extractStage.input(v2), ports, ctx);
    const change = await extractStage.change(v2, out2, { ...noVersions, versions: { get: async (_m, v) => (v === 1 ? v1 : Promise.reject(new Error('none'))) } });
    change.apply(v2);
    assert.equal(v2.diff?.against, 1);
    assert.equal(v2.diff?.breaking, true);
    assert.equal(change.event?.type, 'warning');
  });

  it('bad input fails with an explained, permanent error and leaves no output', async () => {
    const r = await uploaded('broken', 1, [{ name: 'serving.yaml', body: 'kind: Model\nname: [oops\n' }]);
    await assert.rejects(extractStage.run(extractStage.input(r), ports, ctx), (err: unknown) => {
      assert.ok(isMllError(err) && !err.transient, String(err));
      assert.match(err.message, /serving\.yaml/);
      return true;
    });
    const outputs = [];
    for await (const o of store.list('stage-outputs/extract/')) outputs.push(o);
    assert.equal(outputs.filter((o) => o.key.includes('broken')).length, 0);
  });

  it('a contract sent with the upload wins, and a python model must define a function per signature', async () => {
    const sent = { framework: 'python', signatures: [{ name: 'predict', inputs: [{ name: 'x', dtype: 'double' as const, shape: [-1] }], outputs: [{ name: 'y', dtype: 'double' as const, shape: [-1] }] }] };
    const assembled = [{ name: 'src/func_main.py', body: 'def predict(x):\n    return {"y": x}\n' }];
    const ok = await uploaded('sent-ok', 1, assembled);
    ok.client = { contract: sent, origin: { protocol: 'hydrosphere-v2' } };
    ok.modelType = 'python:3.6';
    const out = await extractStage.run(extractStage.input(ok), ports, ctx);
    assert.deepEqual(out.contract.signatures, sent.signatures);
    assert.equal(out.modelType, 'python:3.6');

    const missing = await uploaded('sent-missing', 1, assembled);
    missing.client = { contract: { ...sent, signatures: [{ ...sent.signatures[0]!, name: 'infer' }] }, origin: { protocol: 'hydrosphere-v2' } };
    missing.modelType = 'python:3.6';
    await assert.rejects(extractStage.run(extractStage.input(missing), ports, ctx), (err: unknown) => {
      assert.ok(isMllError(err) && err.code === 'INVALID_MODEL' && !err.transient, String(err));
      assert.match(err.message, /def infer\(\.\.\.\)/);
      return true;
    });
  });

  it('a stage whose predecessor left nothing says so instead of guessing', () => {
    const r = record('early', 1, 'uploads/x', 'sha256:00', 1);
    assert.throws(() => buildStage.input(r), /without an extracted tree and contract/);
  });
});
