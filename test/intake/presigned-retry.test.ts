import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { keys } from '../../src/domain/keys.js';
import { MllError } from '../../src/errors.js';
import { Intake } from '../../src/intake/intake.js';
import { exists } from '../../src/storage/object-store.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { api, tarOf, waitForVersion } from '../support/client.js';
import { repoRoot } from '../support/paths.js';
import { uniqueName } from '../support/unique.js';

const pythonModel = path.join(repoRoot, 'test', 'fixtures', 'models', 'python-tokenizer');
/** Fails between numbering the version and writing it, as when Redis or the store goes away then. */
const failingAfterNumbering = { onNumbered: () => Promise.reject(new MllError('STORE_UNAVAILABLE', 'the store went away (test)')) };

describe('a presigned upload whose version could not be made', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp();
  });
  after(() => app?.stop());

  /** A presigned upload with a model's bytes PUT to it: its id. */
  async function uploaded(): Promise<string> {
    const upload = await api<{ id: string; url: string }>(`${app.url}/api/v1/uploads`, { method: 'POST' });
    assert.equal(upload.status, 201, JSON.stringify(upload.body));
    assert.equal((await fetch(upload.body.url, { method: 'PUT', body: new Uint8Array(await tarOf(pythonModel)) })).status, 200);
    return upload.body.id;
  }

  /** An intake on the API's own services. */
  function apiIntake(): Intake {
    const s = app.running.services;
    return new Intake({ config: s.config, store: s.store, redis: s.redis, catalog: s.catalog, flows: s.flows, batches: s.batches, logger: s.logger });
  }

  it('keeps the uploaded bytes and frees the upload, so a retry with the same upload id makes the version', async () => {
    const model = uniqueName('keep');
    const upload = await uploaded();
    const intake = apiIntake();
    await assert.rejects(intake.createVersion(model, await intake.fromUpload(upload), { metadata: {} }, failingAfterNumbering), /went away/);
    assert.ok(await exists(app.running.services.store, keys.upload(upload)), 'the uploaded bytes are still there');

    const retry = await api<{ version: number }>(`${app.url}/api/v1/models/${model}/versions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ upload }),
    });
    assert.equal(retry.status, 202, JSON.stringify(retry.body));
    const done = await waitForVersion(app.url, model, retry.body.version, { timeoutMs: 60_000 });
    assert.equal(done.status, 'released', JSON.stringify(done.error));
    const again = await api<{ error: { code: string } }>(`${app.url}/api/v1/models/${uniqueName('keep')}/versions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ upload }),
    });
    assert.equal(again.status, 409, 'once it made a version, the upload is taken for good');
  });

  it('keeps an upload taken under a request\'s key for that key: its retry takes it again, another request cannot', async () => {
    const model = uniqueName('keep-key');
    const upload = await uploaded();
    const intake = apiIntake();
    const owner = uniqueName('key');
    await assert.rejects(intake.createVersion(model, await intake.fromUpload(upload, owner), { metadata: {} }, failingAfterNumbering), /went away/);
    assert.ok(await exists(app.running.services.store, keys.upload(upload)), 'the uploaded bytes are still there');
    await assert.rejects(intake.fromUpload(upload), (err: unknown) => err instanceof MllError && err.code === 'CONFLICT');
    const made = await intake.createVersion(model, await intake.fromUpload(upload, owner), { metadata: {} });
    assert.equal((await waitForVersion(app.url, model, made.version, { timeoutMs: 60_000 })).status, 'released');
  });
});
