import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { writePythonModel } from '../../bench/batch/models.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { uniqueName } from '../support/unique.js';
import { startReceiver, type Receiver } from '../webhooks/receiver.js';
import { json, mll, show, tempDir } from './support.js';

interface WebhookJson {
  id: string;
  url: string;
  events: string[];
  models: string[] | null;
  secret?: string;
}

interface DeliveryJson {
  id: string;
  eventType: string;
  status: string;
  attempts: { statusCode: number | null }[];
}

describe('mll webhooks (child process, real receiver on loopback)', () => {
  let app: TestApp;
  let receiver: Receiver;
  let tmp: { dir: string; remove(): Promise<void> };

  before(async () => {
    app = await startTestApp({ env: { MLL_WEBHOOK_ALLOW_PRIVATE: 'true', MLL_WEBHOOK_BACKOFF_MS: '50' } });
    receiver = await startReceiver();
    tmp = await tempDir('webhooks');
  });
  after(async () => {
    await app?.stop();
    await receiver?.close();
    await tmp?.remove();
  });

  it('add, list, show, deliveries, redeliver and rm', async () => {
    const name = uniqueName('wh');
    const add = await mll(['--json', 'webhooks', 'add', receiver.url, '--event', 'version.released', '--model', name, '--description', 'cli test'], { server: app.url });
    assert.equal(add.code, 0, show(add));
    const created = json<WebhookJson>(add);
    assert.match(created.id, /^wh_[0-9a-f]{20}$/);
    assert.match(created.secret ?? '', /^whsec_/);
    assert.deepEqual(created.events, ['version.released']);
    assert.deepEqual(created.models, [name]);

    const list = await mll(['webhooks', 'list'], { server: app.url });
    assert.equal(list.code, 0, show(list));
    assert.match(list.stdout, /^ID\s+URL\s+EVENTS\s+MODELS\s+ENABLED$/m);
    assert.match(list.stdout, new RegExp(`^${created.id}\\s+${receiver.url.replace(/[.]/g, '\\.')}\\s+version\\.released\\s+${name}\\s+yes$`, 'm'));
    assert.doesNotMatch(list.stdout, /whsec_/, 'secrets are shown only once');
    const shown = await mll(['webhooks', 'show', created.id], { server: app.url });
    assert.match(shown.stdout, /^description\s+cli test$/m);
    assert.doesNotMatch(shown.stdout, /whsec_/);

    const upload = await mll(['upload', await writePythonModel(tmp.dir, name), '--wait'], { server: app.url });
    assert.equal(upload.code, 0, show(upload));
    await receiver.waitFor(1);

    let deliveries: DeliveryJson[] = [];
    for (let i = 0; i < 50 && deliveries[0]?.status !== 'delivered'; i++) {
      deliveries = json<DeliveryJson[]>(await mll(['--json', 'webhooks', 'deliveries', created.id], { server: app.url }));
      if (deliveries[0]?.status !== 'delivered') await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(deliveries.length, 1);
    assert.equal(deliveries[0]!.eventType, 'version.released');
    assert.equal(deliveries[0]!.attempts[0]!.statusCode, 204);
    const table = await mll(['webhooks', 'deliveries', created.id], { server: app.url });
    assert.match(table.stdout, /^DELIVERY\s+EVENT\s+STATUS\s+ATTEMPTS\s+LAST\s+UPDATED\s+ERROR$/m);
    assert.match(table.stdout, new RegExp(`^${deliveries[0]!.id}\\s+version\\.released\\s+delivered\\s+1\\s+204 \\d+ ms`, 'm'));

    const again = await mll(['webhooks', 'redeliver', created.id, deliveries[0]!.id], { server: app.url });
    assert.equal(again.code, 0, show(again));
    assert.match(again.stderr, /queued again/);
    await receiver.waitFor(2);
    assert.equal(receiver.requests[1]!.headers['webhook-id'], receiver.requests[0]!.headers['webhook-id']);

    const rm = await mll(['webhooks', 'rm', created.id], { server: app.url });
    assert.equal(rm.code, 0, show(rm));
    const gone = await mll(['webhooks', 'show', created.id], { server: app.url });
    assert.equal(gone.code, 1, show(gone));
    assert.match(gone.stderr, /^error: WEBHOOK_NOT_FOUND: /);
  });

  it('a refused endpoint is the API\'s reason, exit 1', async () => {
    const r = await mll(['webhooks', 'add', 'ftp://example.com/x'], { server: app.url });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /^error: (INVALID_WEBHOOK_URL|BAD_REQUEST): /);
  });
});
