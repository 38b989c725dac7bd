import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../support/app.js';
import { requestsCall, requestsUpload } from './wire.js';

const admin = `mll_${randomBytes(6).toString('hex')}_${randomBytes(32).toString('base64url')}`;

type ErrorBody = { error: { code: string; message: string } };

describe("Hydrosphere's training-data, monitoring and deployment calls: a clear 501, never a hang or a silent success", () => {
  let app: TestApp;
  let hs: string;
  before(async () => {
    app = await startTestApp({ env: { MLL_AUTH: 'tokens', MLL_BOOTSTRAP_TOKEN: admin } });
    hs = `http://hs:${admin}@${new URL(app.url).host}`;
  });
  after(() => app?.stop());

  const refused = (res: { status: number; json: unknown; text: string }, pattern: RegExp) => {
    assert.equal(res.status, 501, res.text);
    const body = res.json as ErrorBody;
    assert.equal(body.error.code, 'NOT_IMPLEMENTED');
    assert.match(body.error.message, pattern);
  };

  it('reads a chunked training-data upload to its end, then answers 501 naming what is not supported (hydrosdk upload_training_data)', async () => {
    // 6 MiB of CSV in 1 KiB chunks, as hydrosdk's read_in_chunks generator sends it.
    const row = Buffer.from(`${'1.5,'.repeat(255)}2\n`);
    const chunks = Array.from({ length: 6 * 1024 }, () => row);
    const res = await requestsCall(hs, 'POST', '/monitoring/profiles/batch/17', { body: chunks });
    refused(res, /does not profile training data/);
    refused(await requestsCall(hs, 'POST', '/monitoring/profiles/batch/17/s3', { body: Buffer.from('{"path":"s3://b/k.csv"}'), headers: { 'Content-Type': 'application/json' } }), /training data/);
    refused(await requestsCall(hs, 'GET', '/monitoring/profiles/batch/17/status'), /training data/);
  });

  it('refuses the 2018 profiler push (multipart csv) and its status the same way', async () => {
    const csv = Buffer.from('a,b\n1,2\n'.repeat(100_000));
    refused(await requestsUpload(hs, '/profiler/batch/17/csv', [{ name: 'csv', file: csv, filename: 'filename' }]), /training data/);
    refused(await requestsCall(hs, 'GET', '/profiler/batch/some-uid/status'), /training data/);
  });

  it('refuses monitoring, external models and deployment, and any other Hydrosphere path', async () => {
    refused(await requestsCall(hs, 'POST', '/api/v2/monitoring/metricspec', { body: Buffer.from('{}'), headers: { 'Content-Type': 'application/json' } }), /monitoring/);
    refused(await requestsCall(hs, 'GET', '/api/v2/monitoring/metricspec/modelversion/3'), /monitoring/);
    refused(await requestsCall(hs, 'POST', '/api/v2/externalmodel', { body: Buffer.from('{}'), headers: { 'Content-Type': 'application/json' } }), /external models/);
    refused(await requestsCall(hs, 'POST', '/api/v2/application', { body: Buffer.from('{}'), headers: { 'Content-Type': 'application/json' } }), /does not deploy/);
    refused(await requestsCall(hs, 'GET', '/api/v2/servable'), /does not deploy/);
    refused(await requestsCall(hs, 'GET', '/api/v2/model'), /not part of ML Lambda/);
    refused(await requestsCall(hs, 'DELETE', '/api/v2/model/3'), /not part of ML Lambda/);
    refused(await requestsCall(hs, 'GET', '/api/v1/model'), /not part of ML Lambda/);
    // Our own API's paths are not Hydrosphere's.
    assert.equal((await requestsCall(hs, 'GET', '/api/v1/models')).status, 200);
    assert.equal((await requestsCall(hs, 'GET', '/api/v1/nothing-here')).status, 404);
  });

  it('needs a token like every route: 401 before 501', async () => {
    const anonymous = `http://${new URL(app.url).host}`;
    const res = await requestsCall(anonymous, 'POST', '/monitoring/profiles/batch/17', { body: Buffer.from('a,b\n1,2\n') });
    assert.equal(res.status, 401);
    assert.equal((res.json as ErrorBody).error.code, 'UNAUTHORIZED');
  });
});
