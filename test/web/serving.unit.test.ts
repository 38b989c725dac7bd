import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createApp } from '../../src/api/app.js';
import { createMetrics } from '../../src/metrics.js';
import type { ApiDeps } from '../../src/api/deps.js';
import { findWebDir, webContentSecurityPolicy } from '../../src/api/web.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { repoRoot } from '../support/paths.js';

/**
 * How the API process serves the web interface: files with a strict CSP, the page fallback only
 * for browser page requests, and the API's own 404s untouched. No services needed: these paths
 * never reach Redis or the store.
 */
describe('serving the web interface', () => {
  let server: Server;
  let base: string;
  before(async () => {
    const config = loadConfig({ MLL_DATA_DIR: '/tmp/mll-web-serving-test', MLL_AUTH: 'none' });
    const app = createApp({ config, logger: createLogger('silent'), metrics: createMetrics() } as unknown as ApiDeps);
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const html = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

  it('finds web/ from the source tree', () => {
    assert.equal(findWebDir(), path.join(repoRoot, 'web'));
  });

  it('serves the page at / with a strict Content-Security-Policy and no inline script', async () => {
    const res = await fetch(`${base}/`, { headers: html });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.equal(csp, webContentSecurityPolicy);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    const body = await res.text();
    assert.match(body, /<script type="module" src="\/js\/main.js"><\/script>/);
    assert.doesNotMatch(body, /<script(?![^>]*\ssrc=)[^>]*>/, 'no inline <script>');
    assert.doesNotMatch(body, /\sstyle=|<style/, 'no inline styles');
    assert.doesNotMatch(body, /\son[a-z]+=/i, 'no inline event handlers');
  });

  it('serves modules and styles with their types, the CSP and revalidation', async () => {
    for (const [file, type] of [['/js/main.js', /javascript/], ['/app.css', /text\/css/], ['/favicon.svg', /image\/svg\+xml/]] as const) {
      const res = await fetch(`${base}${file}`);
      assert.equal(res.status, 200, file);
      assert.match(res.headers.get('content-type') ?? '', type, file);
      assert.equal(res.headers.get('content-security-policy'), webContentSecurityPolicy, file);
      assert.equal(res.headers.get('cache-control'), 'no-cache', file);
      const etag = res.headers.get('etag');
      assert.ok(etag, `${file} has an ETag`);
      // As a browser revalidates (fetch() alone would add Cache-Control: no-cache).
      const again = await fetch(`${base}${file}`, { headers: { 'if-none-match': etag, 'cache-control': 'max-age=0' } });
      assert.equal(again.status, 304, `${file} revalidates`);
    }
  });

  it('answers page addresses with the page for browsers only', async () => {
    for (const page of ['/models/fraud', '/models/fraud/versions/3', '/batches/0b7c', '/upload', '/webhooks/wh_1']) {
      const res = await fetch(`${base}${page}`, { headers: html });
      assert.equal(res.status, 200, page);
      assert.match(await res.text(), /<title>ML Lambda<\/title>/, page);
      assert.equal(res.headers.get('content-security-policy'), webContentSecurityPolicy);
    }
    // Not a browser asking for a page: the usual JSON 404.
    for (const init of [{ headers: { accept: 'application/json' } }, { headers: { accept: '*/*' } }, { method: 'POST', headers: html }]) {
      const res = await fetch(`${base}/models/fraud`, init);
      assert.equal(res.status, 404, JSON.stringify(init));
      assert.equal((await res.json()).error.code, 'NOT_FOUND');
    }
  });

  it('never answers API or operational paths with the page', async () => {
    for (const p of ['/api/v1/nope', '/api/v1/models/x/nope', '/api', '/metricsx/../api/v1/zzz']) {
      const res = await fetch(`${base}${p}`, { headers: html });
      assert.equal(res.status, 404, p);
      assert.match(res.headers.get('content-type') ?? '', /json/, p);
      assert.equal(res.headers.get('content-security-policy'), null, p);
    }
    const health = await fetch(`${base}/healthz`, { headers: html });
    assert.deepEqual(await health.json(), { status: 'ok' });
  });

  it('does not serve dotfiles or paths outside web/', async () => {
    for (const p of ['/../package.json', '/%2e%2e/package.json', '/.eslintrc', '/js/../../src/config.ts']) {
      const res = await fetch(`${base}${p}`);
      assert.notEqual(res.status, 200, p);
    }
  });
});

describe('the web sources', () => {
  async function sources(dir: string): Promise<string[]> {
    const out: string[] = [];
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) out.push(...(await sources(p)));
      else if (entry.name.endsWith('.js')) out.push(p);
    }
    return out;
  }

  it('never turn strings into markup (no innerHTML, outerHTML, insertAdjacentHTML, document.write, eval)', async () => {
    const files = await sources(path.join(repoRoot, 'web'));
    assert.ok(files.length > 10, 'found the modules');
    for (const file of files) {
      const text = await readFile(file, 'utf8');
      assert.doesNotMatch(text, /\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function\(/, path.relative(repoRoot, file));
    }
  });
});
