import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { run, type Running } from '../../src/bin/run.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { api, uploadTar, waitForVersion, type PresentedVersion } from '../support/client.js';
import { uniqueName } from '../support/unique.js';
import { launchBrowser, screenshot, type Browser } from './support/browser.js';
import { brokenTarGz, tokenizerDir, tokenizerTarGz, tokenizerV2TarGz } from './support/models.js';

/**
 * The web interface in Debian's Chromium against a real running ML Lambda (fs store, OCI layout
 * target, real Redis): uploads through the page, live status, contract and diff, failures,
 * batches, webhooks, keyboard use and the sign-in prompt. Screenshots of the main pages go to
 * test-output/screenshots/.
 */

const T = { timeout: 90_000 };

/** Console errors that are not the page's fault: resources answering 4xx on purpose. */
const realProblems = (problems: string[]) => problems.filter((p) => !/Failed to load resource/.test(p));

async function archive(buffer: Buffer, name: string) {
  return { name, mimeType: 'application/gzip', buffer };
}

async function titleStatus(page: Page, status: string, timeout = 30_000) {
  await page.locator('.title-badge .badge', { hasText: status }).waitFor({ timeout });
}

describe('live status without reloading', () => {
  let app: TestApp;
  let workers: Running | undefined;
  let browser: Browser;
  before(async () => {
    // The API alone first: the version waits, queued, until the test starts the workers.
    app = await startTestApp({ workers: false });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await workers?.stop();
    await app?.stop();
  });

  it('uploads a .tar.gz through the page, lands on the version and watches it go to released live', T, async () => {
    const model = uniqueName('live');
    const page = await browser.page();
    await page.goto(`${app.url}/upload`);
    await page.locator('#pick-archive').setInputFiles(await archive(await tokenizerTarGz(), 'python-tokenizer.tar.gz'));
    assert.equal(await page.locator('#model-name').inputValue(), 'python-tokenizer', 'the name is suggested from the file');
    await page.locator('#model-name').fill(model);
    // Remember that this document stays the same one, and whether the progress bar showed.
    await page.evaluate(() => {
      const w = window as unknown as { sameDocument: boolean; sawProgress: boolean };
      w.sameDocument = true;
      w.sawProgress = false;
      new MutationObserver(() => {
        if (document.querySelector('#upload-progress')) w.sawProgress = true;
      }).observe(document.body, { childList: true, subtree: true });
    });
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.waitForURL(`${app.url}/models/${model}/versions/1`);
    assert.ok(await page.evaluate(() => (window as unknown as { sawProgress: boolean }).sawProgress), 'a progress bar was shown');
    await titleStatus(page, 'Queued');
    assert.equal(await page.locator('h1').textContent(), `${model} v1`);
    await screenshot(page, 'version-queued');

    workers = await run({ api: false, workers: true }, app.config);
    await titleStatus(page, 'Released');
    assert.equal(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument), true, 'no reload happened');
    const log = await page.locator('.log').innerText();
    for (const line of ['Extracting', 'Building', 'Pushing', 'Released']) assert.match(log, new RegExp(`→ ${line}`), `the log streamed ${line}`);
    assert.equal(await page.locator('.timeline .step-done').count(), 5, 'uploaded, extract, build, push and released are done');
    await page.waitForFunction(() => /is now released/.test(document.getElementById('announcer')?.textContent ?? ''));
    assert.deepEqual(realProblems(browser.problems), []);
  });
});

describe('the web interface', () => {
  let app: TestApp;
  let browser: Browser;
  let receiver: http.Server;
  const received: Array<{ id: string; body: string }> = [];
  const suffix = uniqueName('w').slice(2);
  const tokenizer = `tok-${suffix}`;

  before(async () => {
    receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ id: String(req.headers['webhook-id']), body });
        res.statusCode = 204;
        res.end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    app = await startTestApp({ env: { MLL_WEBHOOK_ALLOW_PRIVATE: 'true', MLL_WEBHOOK_BACKOFF_MS: '200' } });
    browser = await launchBrowser();
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: app.url });
  });
  after(async () => {
    await browser?.close();
    await app?.stop();
    await new Promise((resolve) => receiver?.close(resolve));
  });
  afterEach(() => {
    assert.deepEqual(realProblems(browser.problems.splice(0)), [], 'no console errors, uncaught errors or CSP violations');
  });

  it('packs a folder in the browser into a tar and releases it; the contract reads as a table per signature', T, async () => {
    const page = await browser.page();
    await page.goto(`${app.url}/upload`);
    await page.locator('#pick-folder').setInputFiles(tokenizerDir);
    await page.locator('.picked-line', { hasText: 'python-tokenizer' }).waitFor();
    assert.match(await page.locator('.picked-line').innerText(), /3 files/);
    await page.locator('#model-name').fill(tokenizer);
    await page.locator('#description').fill('Splits text into tokens');
    await page.locator('#labels').fill('team=search, stage=dev');
    await screenshot(page, 'upload');
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.waitForURL(`${app.url}/models/${tokenizer}/versions/1`);
    await titleStatus(page, 'Released');

    const record = (await api<PresentedVersion>(`${app.url}/api/v1/models/${tokenizer}/versions/1`)).body;
    assert.equal(record.payload.format, 'tar+gzip', 'the browser gzipped the tar');
    assert.equal(record.payload.files, 3);
    assert.deepEqual(record.labels, { team: 'search', stage: 'dev' });

    const signatures = page.locator('#contract table.contract-table');
    assert.equal(await signatures.count(), 2);
    assert.deepEqual(await page.locator('#contract .signature-name').allTextContents(), ['count', 'tokenize']);
    const rows = (i: number) => signatures.nth(i).locator('tbody tr').evaluateAll((trs) => trs.map((tr) => Array.from(tr.children).map((c) => c.textContent?.trim())));
    assert.deepEqual(await rows(0), [['Inputs'], ['text', 'string', 'scalar', '—'], ['Outputs'], ['n', 'int64', 'scalar', 'numerical']]);
    assert.deepEqual(await rows(1), [['Inputs'], ['text', 'string', '[?]', 'text'], ['Outputs'], ['tokens', 'string', '[?, ?]', 'text']]);
    assert.match(await page.locator('#changes').innerText(), /first version/);
    assert.match(await page.locator('.facts').first().innerText(), /Splits text into tokens/);
    await screenshot(page, 'version-released');
  });

  it('shows the contract diff against the previous version with breaking changes highlighted', T, async () => {
    const res = await uploadTar(app.url, tokenizer, await tokenizerV2TarGz(), { gzip: true });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const v2 = await waitForVersion(app.url, tokenizer, res.body.version);
    assert.equal(v2.status, 'released', JSON.stringify(v2.error));
    const page = await browser.page();
    await page.goto(`${app.url}/models/${tokenizer}/versions/${v2.version}`);
    const changes = page.locator('#changes');
    await changes.locator('.diff-summary').waitFor();
    assert.match(await changes.locator('.diff-summary').innerText(), /changes since v1, 2 breaking/);
    const breaking = changes.locator('tr.breaking-row');
    assert.equal(await breaking.count(), 2);
    const texts = await breaking.allInnerTexts();
    assert.ok(texts.some((t) => /Field added/.test(t) && /language/.test(t) && /Breaking/.test(t)), texts.join(' | '));
    assert.ok(texts.some((t) => /dtype changed/.test(t) && /int64/.test(t) && /int32/.test(t)), texts.join(' | '));
    assert.match(await changes.innerText(), /Signature added[\s\S]*detokenize[\s\S]*Compatible/);
    // Breaking rows stand out by more than colour: a marker bar and the word.
    const shadow = await breaking.first().evaluate((el) => getComputedStyle(el).boxShadow);
    assert.notEqual(shadow, 'none');
    await page.locator('#changes').scrollIntoViewIfNeeded();
    await screenshot(page, 'version-diff');
  });

  it('shows why a version failed and what to fix', T, async () => {
    const model = `broken-${suffix}`;
    const page = await browser.page();
    await page.goto(`${app.url}/upload?model=${model}`);
    await page.locator('#pick-archive').setInputFiles(await archive(await brokenTarGz(), 'broken.tar.gz'));
    assert.equal(await page.locator('#model-name').inputValue(), model, 'the name comes from ?model=');
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.waitForURL(`${app.url}/models/${model}/versions/1`);
    await titleStatus(page, 'Failed');
    const problem = page.locator('.problem');
    await problem.waitFor();
    const text = await problem.innerText();
    assert.match(text, /Why v1 failed/);
    assert.match(text, /weights\.bin/);
    assert.match(text, /What to do:.*serving\.yaml/);
    assert.match(text, /PAYLOAD_ENTRY_MISSING/);
    assert.equal(await page.locator('.timeline .step-failed').count(), 2, 'the extract stage and the end are marked failed');
    assert.match(await page.locator('.timeline .step-failed').first().innerText(), /Extract/);
    assert.match(await page.locator('.log-error').innerText(), /weights\.bin/);
    await screenshot(page, 'version-failed');
  });

  it('refuses a bad model name before uploading, with the reason next to the field', T, async () => {
    const page = await browser.page();
    await page.goto(`${app.url}/upload`);
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    assert.match(await page.locator('.problem').innerText(), /Nothing to upload yet/);
    await page.locator('#pick-archive').setInputFiles(await archive(await tokenizerTarGz(), 'model.tar.gz'));
    await page.locator('#model-name').fill('Not Valid!');
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    assert.equal(await page.locator('#model-name').getAttribute('aria-invalid'), 'true');
    assert.match(await page.locator('#model-name-error').innerText(), /lowercase letters/);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'model-name', 'focus goes to the field to fix');
    await page.locator('#pick-archive').setInputFiles({ name: 'model.zip', mimeType: 'application/zip', buffer: Buffer.from('PK') });
    assert.match(await page.locator('.problem').innerText(), /not a \.tar or \.tar\.gz/);
    assert.equal(page.url(), `${app.url}/upload`);

    // Dropping an archive on the zone works like choosing it.
    const model = `dropped-${suffix}`;
    const bytes = [...(await tokenizerTarGz())];
    const transfer = await page.evaluateHandle(({ data, name }) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(data)], name, { type: 'application/gzip' }));
      return dt;
    }, { data: bytes, name: `${model}.tar.gz` });
    await page.locator('#dropzone').dispatchEvent('dragenter', { dataTransfer: transfer });
    assert.match(await page.locator('#dropzone').getAttribute('class') ?? '', /dragging/);
    await page.locator('#dropzone').dispatchEvent('drop', { dataTransfer: transfer });
    await page.locator('.picked-line', { hasText: `${model}.tar.gz` }).waitFor();
    assert.doesNotMatch(await page.locator('#dropzone').getAttribute('class') ?? '', /dragging/);
    assert.equal(await page.locator('#model-name').inputValue(), model);
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.waitForURL(`${app.url}/models/${model}/versions/1`);
    await titleStatus(page, 'Released');
  });

  it('lists models with search, latest status and live refresh (304s while nothing changes)', T, async () => {
    const page = await browser.page();
    const conditional: number[] = [];
    page.on('response', (r) => {
      if (new URL(r.url()).pathname === '/api/v1/models' && r.request().headers()['if-none-match']) conditional.push(r.status());
    });
    await page.goto(`${app.url}/?q=${suffix}`);
    const rows = page.locator('.models-table tbody tr');
    await rows.first().waitFor();
    const names = await page.locator('.models-table tbody .col-name').allInnerTexts();
    assert.ok(names.includes(tokenizer) && names.includes(`broken-${suffix}`), names.join(','));
    const row = page.locator('.models-table tbody tr', { hasText: tokenizer });
    assert.match(await row.innerText(), /v2[\s\S]*Released/);

    // Search narrows as you type and keeps the query in the address.
    await page.locator('#model-search').fill(`broken-${suffix}`);
    await page.waitForURL(/\?q=broken-/);
    await page.waitForFunction(() => document.querySelectorAll('.models-table tbody tr').length === 1);
    assert.match(await page.locator('#model-count').innerText(), /1 model matching/);
    await page.locator('#model-search').fill(suffix);
    await page.waitForFunction(() => document.querySelectorAll('.models-table tbody tr').length >= 2);

    await new Promise((r) => setTimeout(r, 4500));
    assert.ok(conditional.includes(304), `an unchanged list answered 304 (saw ${conditional.join(',')})`);

    // A new version elsewhere shows up without a reload.
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
    const res = await uploadTar(app.url, tokenizer, await tokenizerTarGz(), { gzip: true });
    await row.locator('.col-version', { hasText: `v${res.body.version}` }).waitFor({ timeout: 15_000 });
    assert.equal(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument), true);
    await waitForVersion(app.url, tokenizer, res.body.version);
    await row.locator('.badge', { hasText: 'Released' }).waitFor({ timeout: 15_000 });
    await screenshot(page, 'models');
  });

  it("pages through a model's versions newest first and copies an image digest", T, async () => {
    const page = await browser.page();
    await page.goto(`${app.url}/models/${tokenizer}?per=2`);
    const versions = () => page.locator('.versions-table tbody .col-version').allInnerTexts();
    await page.locator('.versions-table').waitFor();
    assert.deepEqual(await versions(), ['v3', 'v2']);
    assert.match(await page.locator('.table-note').innerText(), /Versions 2–3 of 3/);
    await page.getByRole('link', { name: 'Older →' }).click();
    await page.waitForURL(/before=2/);
    await page.locator('.versions-table tbody tr[data-version="1"]').waitFor();
    assert.deepEqual(await versions(), ['v1']);
    await page.getByRole('link', { name: '← Newer' }).click();
    await page.waitForURL(`${app.url}/models/${tokenizer}?per=2`);
    await page.locator('.versions-table tbody tr[data-version="3"]').waitFor();
    assert.deepEqual(await versions(), ['v3', 'v2']);

    const row = page.locator('.versions-table tbody tr[data-version="2"]');
    assert.match(await row.innerText(), /Released[\s\S]*python:3\.11/);
    const v2 = (await api<PresentedVersion>(`${app.url}/api/v1/models/${tokenizer}/versions/2`)).body;
    await row.getByRole('button', { name: 'Copy image digest of version 2' }).click();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), v2.image?.digest);
    assert.match(await row.getByRole('button', { name: 'Copy image digest of version 2' }).innerText(), /Copied/);
    await page.goto(`${app.url}/models/${tokenizer}`);
    await page.locator('.versions-table').waitFor();
    await screenshot(page, 'model');
  });

  it('uploads several archives as a batch and shows its progress and failed items live', T, async () => {
    const page = await browser.page();
    await page.goto(`${app.url}/upload`);
    await page.locator('#pick-archive').setInputFiles([
      await archive(await tokenizerTarGz(), `batch-a-${suffix}.tar.gz`),
      await archive(await brokenTarGz(), `batch-b-${suffix}.tar.gz`),
      await archive(await tokenizerTarGz(), `batch-c-${suffix}.tar.gz`),
    ]);
    assert.match(await page.locator('.picked-line').innerText(), /3 archives/);
    assert.deepEqual(await page.locator('.batch-fields input').evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value)),
      [`batch-a-${suffix}`, `batch-b-${suffix}`, `batch-c-${suffix}`]);
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.waitForURL(/\/batches\/[0-9a-f-]{36}$/);
    await page.locator('.batch-progress', { hasText: /Finished:/ }).waitFor({ timeout: 30_000 });
    assert.match(await page.locator('.batch-progress').innerText(), /1 item did not make it/);
    const failed = page.locator('.batch-table tbody tr[data-status="failed"]');
    assert.equal(await failed.count(), 1);
    assert.match(await failed.innerText(), new RegExp(`batch-b-${suffix}[\\s\\S]*weights\\.bin[\\s\\S]*PAYLOAD_ENTRY_MISSING`));
    assert.equal(await page.locator('.batch-table tbody tr[data-status="released"]').count(), 2);
    await screenshot(page, 'batch');
    await page.getByLabel('Only failed and rejected').check();
    assert.equal(await page.locator('.batch-table tbody tr').count(), 1);

    const id = page.url().split('/').pop()!;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Batches' }).click();
    await page.locator(`a[href="/batches/${id}"]`).waitFor();
    assert.match(await page.locator('.data-table tbody tr').first().innerText(), /1 of 3 did not make it/);
    await screenshot(page, 'batches');
  });

  it('adds a webhook (secret shown once), lists its deliveries and redelivers one', T, async () => {
    const page = await browser.page();
    await page.goto(`${app.url}/webhooks`);
    const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook/${suffix}`;
    await page.getByLabel('Payload URL').fill('ftp://nope');
    await page.getByRole('button', { name: 'Add webhook' }).click();
    assert.match(await page.locator('#webhook-url-error').innerText(), /http/);
    await page.getByLabel('Payload URL').fill(hookUrl);
    await page.getByLabel(/A batch completes/).uncheck();
    await page.getByLabel('Only these models (optional)').fill(`hooked-${suffix}`);
    await page.getByLabel('Description (optional)').fill('CI trigger');
    await page.getByRole('button', { name: 'Add webhook' }).click();
    const secret = page.locator('.secret-panel code.secret');
    await secret.waitFor();
    assert.match(await secret.innerText(), /^whsec_/);
    const row = page.locator('.webhooks-table tbody tr', { hasText: hookUrl });
    await row.waitFor();
    assert.match(await row.innerText(), /version\.released[\s\S]*version\.failed[\s\S]*Active/);
    assert.doesNotMatch(await row.innerText(), /batch\.completed/);
    await screenshot(page, 'webhooks');

    // A release of the hooked model is delivered; the page shows it, and redelivers it on request.
    const model = `hooked-${suffix}`;
    await uploadTar(app.url, model, await tokenizerTarGz(), { gzip: true });
    await waitForVersion(app.url, model, 1);
    await row.getByRole('link').click();
    await page.waitForURL(/\/webhooks\/wh_/);
    const delivery = page.locator('.deliveries-table tbody tr[data-status="delivered"]');
    await delivery.waitFor({ timeout: 20_000 });
    assert.match(await delivery.innerText(), /version\.released[\s\S]*Delivered[\s\S]*1 attempt · last 204/);
    assert.equal(received.length, 1);
    await delivery.getByRole('button', { name: /Redeliver version\.released/ }).click();
    await page.locator('.notice', { hasText: 'Redelivery of version.released queued' }).waitFor();
    await page.locator('.deliveries-table tbody tr', { hasText: '2 attempts · last 204' }).waitFor({ timeout: 20_000 });
    assert.equal(received.length, 2);
    assert.equal(received[0]!.id, received[1]!.id, 'a redelivery keeps the event id');
    await page.locator('.attempts summary').first().click();
    assert.match(await page.locator('.attempts ol').first().innerText(), /#2[\s\S]*redeliver[\s\S]*HTTP 204/);
    await screenshot(page, 'webhook-deliveries');

    // Deleting asks for a second press, then the endpoint is gone.
    const id = page.url().split('/').pop()!;
    await page.getByRole('button', { name: 'Delete webhook' }).click();
    await page.getByRole('button', { name: 'Click again to delete' }).click();
    await page.waitForURL(`${app.url}/webhooks`);
    await page.locator('h1', { hasText: 'Webhooks' }).waitFor();
    assert.equal(await page.locator(`a[href="/webhooks/${id}"]`).count(), 0);
    assert.equal((await api(`${app.url}/api/v1/webhooks/${id}`)).status, 404);
  });

  it('works from the keyboard: skip link, focus on each new page heading, the token dialog', T, async () => {
    const page = await browser.page();
    await page.goto(`${app.url}/?q=${suffix}`);
    await page.locator('.models-table').waitFor();
    await page.locator('body').focus();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'main');

    // Focus is visible: a solid outline on a focused link.
    await page.locator('.mainnav a', { hasText: 'Upload' }).focus();
    assert.equal(await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle), 'solid');

    // From the search field to a model, by keyboard; focus lands on the new page's heading.
    await page.locator('#model-search').focus();
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => document.activeElement?.textContent);
    assert.ok(focused?.includes(suffix), `Tab reaches the first model link (got ${focused})`);
    await page.keyboard.press('Enter');
    await page.waitForURL(new RegExp(`/models/[a-z-]*${suffix}$`));
    await page.waitForFunction(() => document.activeElement?.tagName === 'H1');
    assert.match(await page.title(), / · ML Lambda$/);
    assert.equal(await page.locator('.mainnav a[aria-current="page"]').innerText(), 'Models');

    // The token dialog opens from the keyboard, holds focus, and gives it back when closed.
    await page.locator('#token-button').focus();
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'token-input');
    await page.keyboard.press('Escape');
    assert.equal(await page.locator('#token-dialog').evaluate((d) => (d as HTMLDialogElement).open), false);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'token-button');
  });

  it('asks for a token on 401 and sends it as a Bearer token', T, async () => {
    const page = await browser.page();
    const seen: string[] = [];
    // The service has no tokens yet (issue 8): the browser answers 401 for it until one is sent.
    await page.route('**/api/v1/models?*', async (route) => {
      const auth = route.request().headers().authorization;
      seen.push(auth ?? '');
      if (auth !== 'Bearer t0ken-for-test') {
        await route.fulfill({ status: 401, contentType: 'application/json', body: JSON.stringify({ error: { code: 'UNAUTHORIZED', message: 'A valid API token is required.' } }) });
        return;
      }
      await route.continue();
    });
    try {
      await page.goto(`${app.url}/`);
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      await page.locator('#signin-token').fill('t0ken-for-test');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Models' }).waitFor();
      assert.equal(seen.at(-1), 'Bearer t0ken-for-test');
      assert.equal(await page.evaluate(() => localStorage.getItem('mll.token')), 't0ken-for-test');
      assert.match(await page.locator('#token-button').getAttribute('aria-label') ?? '', /set/);
    } finally {
      await page.unroute('**/api/v1/models?*');
      await page.evaluate(() => localStorage.removeItem('mll.token'));
    }
  });

  it('says plainly when a model, version or page does not exist', T, async () => {
    const page = await browser.page();
    await page.goto(`${app.url}/models/no-such-model-${suffix}`);
    await page.locator('h1', { hasText: 'Not found' }).waitFor();
    assert.match(await page.locator('.problem').innerText(), new RegExp(`No model named "no-such-model-${suffix}"`));
    await page.goto(`${app.url}/models/${tokenizer}/versions/999`);
    await page.locator('h1', { hasText: 'Not found' }).waitFor();
    await page.goto(`${app.url}/no/such/page`);
    await page.locator('h1', { hasText: 'Page not found' }).waitFor();
    await page.getByRole('link', { name: 'Go to the models' }).click();
    await page.locator('h1', { hasText: 'Models' }).waitFor();
  });

  it('shows API data as text, never as markup', T, async () => {
    const model = `xss-${suffix}`;
    const payload = '<img src=x onerror="window.pwned=1"><b>bold</b>';
    const res = await uploadTar(app.url, model, await tokenizerTarGz(), { gzip: true, query: `description=${encodeURIComponent(payload)}` });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const page = await browser.page();
    await page.goto(`${app.url}/models/${model}/versions/1`);
    await page.locator('.facts', { hasText: 'Description' }).waitFor();
    assert.match(await page.locator('.facts').first().innerText(), /<img src=x onerror="window\.pwned=1"><b>bold<\/b>/);
    assert.equal(await page.locator('main img, main b').count(), 0);
    assert.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined);
  });

  it('is readable and usable: labels, contrast in light and dark, narrow screens', T, async () => {
    const page = await browser.page();
    const pages = ['/', `/models/${tokenizer}`, `/models/${tokenizer}/versions/2`, `/models/broken-${suffix}/versions/1`, '/upload', '/webhooks', '/batches'];
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const p of pages) {
        await page.goto(`${app.url}${p}`);
        await page.locator('main h1').waitFor();
        await page.waitForTimeout(150);
        const report = await page.evaluate(auditPage);
        assert.deepEqual(report.unlabelled, [], `${p}: every field has a label`);
        assert.deepEqual(report.duplicateIds, [], `${p}: ids are unique`);
        assert.deepEqual(report.nameless, [], `${p}: every button and link has a name`);
        assert.deepEqual(report.lowContrast, [], `${p} (${scheme}): text contrast is at least 4.5:1`);
        assert.ok(report.checked >= 8, `${p}: the contrast audit saw the page's text (${report.checked} elements)`);
      }
    }
    await page.goto(`${app.url}/webhooks`);
    await page.locator('main h1').waitFor();
    await screenshot(page, 'webhooks-dark');
    await page.emulateMedia({ colorScheme: 'light' });
    await page.goto(`${app.url}/models/${tokenizer}/versions/2`);
    await page.locator('#contract').waitFor();
    await page.emulateMedia({ colorScheme: 'dark' });
    await screenshot(page, 'version-dark');
    await page.emulateMedia({ colorScheme: 'light' });

    const narrow = await browser.context.newPage();
    await narrow.setViewportSize({ width: 375, height: 812 });
    for (const [p, name] of [['/', 'models'], [`/models/${tokenizer}`, 'model'], [`/models/${tokenizer}/versions/2`, 'version'], ['/upload', 'upload']] as const) {
      await narrow.goto(`${app.url}${p}`);
      await narrow.locator('main h1').waitFor();
      await narrow.waitForTimeout(150);
      const overflow = await narrow.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `${p} fits a 375 px screen (overflows by ${overflow}px)`);
      await screenshot(narrow, `narrow-${name}`);
    }
    await narrow.goto(`${app.url}/models/${tokenizer}`);
    await narrow.locator('.versions-table').waitFor();
    assert.equal(await narrow.locator('.versions-table tbody tr').first().evaluate((tr) => getComputedStyle(tr).display), 'block', 'rows become cards');
    assert.equal(await narrow.locator('.versions-table tbody td').nth(1).evaluate((td) => getComputedStyle(td, '::before').content), '"Status"', 'cells carry their column label');
    await narrow.close();
  });
});

/**
 * Runs in the page: fields without labels, duplicate ids, nameless controls, and text whose
 * contrast with its (first opaque) background is below WCAG AA for normal text.
 */
function auditPage() {
  const parse = (c: string) => {
    const m = c.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const [r, g, b, a = 1] = m[1]!.split(/[\s,/]+/).filter(Boolean).map(Number);
    return { r: r!, g: g!, b: b!, a };
  };
  const lum = ({ r, g, b }: { r: number; g: number; b: number }) => {
    const f = (v: number) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const blend = (top: { r: number; g: number; b: number; a: number }, under: { r: number; g: number; b: number }) => ({
    r: top.r * top.a + under.r * (1 - top.a), g: top.g * top.a + under.g * (1 - top.a), b: top.b * top.a + under.b * (1 - top.a),
  });
  const background = (el: Element | null): { r: number; g: number; b: number } => {
    const layers: Array<{ r: number; g: number; b: number; a: number }> = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) {
        layers.push(c);
        if (c.a >= 1) break;
      }
    }
    let base = { r: 255, g: 255, b: 255 };
    if (layers.length && layers[layers.length - 1]!.a >= 1) base = layers.pop()!;
    for (const l of layers.reverse()) base = blend(l, base);
    return base;
  };
  const lowContrast: string[] = [];
  const walker = document.createTreeWalker(document.querySelector('main')!, NodeFilter.SHOW_TEXT);
  const checked = new Set<Element>();
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || checked.has(el) || !n.textContent?.trim()) continue;
    checked.add(el);
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none' || el.closest('.visually-hidden, [hidden], button:disabled, .step-skipped')) continue;
    const rect = el.getBoundingClientRect();
    if (rect.width === 0 || rect.height === 0) continue;
    const fg = parse(style.color);
    if (!fg) continue;
    const bg = background(el);
    const text = blend(fg, bg);
    const [l1, l2] = [lum(text), lum(bg)].sort((a, b) => b - a);
    const ratio = (l1! + 0.05) / (l2! + 0.05);
    if (ratio < 4.5) lowContrast.push(`${el.tagName.toLowerCase()}.${el.className} "${n.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
  }
  const unlabelled = Array.from(document.querySelectorAll('main input, main select, main textarea'))
    .filter((el) => (el as HTMLInputElement).type !== 'hidden' && !(el as HTMLInputElement).labels?.length && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
    .map((el) => el.outerHTML.slice(0, 80));
  const ids = Array.from(document.querySelectorAll('[id]')).map((el) => el.id);
  const duplicateIds = [...new Set(ids.filter((id, i) => ids.indexOf(id) !== i))];
  const nameless = Array.from(document.querySelectorAll('button, a[href]'))
    .filter((el) => !(el.textContent?.trim() || el.getAttribute('aria-label') || el.querySelector('img[alt]:not([alt=""])')))
    .map((el) => el.outerHTML.slice(0, 80));
  return { lowContrast, unlabelled, duplicateIds, nameless, checked: checked.size };
}
