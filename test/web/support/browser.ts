import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { repoRoot } from '../../support/paths.js';

export const screenshotDir = path.join(repoRoot, 'test-output', 'screenshots');

export interface Browser {
  context: BrowserContext;
  /** A new page that fails the test on console errors, page errors and CSP violations. */
  page(): Promise<Page>;
  /** Problems seen by any page: console errors, uncaught errors, CSP reports. */
  problems: string[];
  close(): Promise<void>;
}

/**
 * Debian's Chromium, headless, in a fresh empty profile (a persistent context on a new temp
 * user-data-dir), so no state leaks between runs or tests.
 */
export async function launchBrowser(options: BrowserContextOptions = {}): Promise<Browser> {
  const userDataDir = await mkdtemp(path.join(os.tmpdir(), 'mll-web-profile-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 860 },
    ...options,
  });
  // tsx compiles functions passed to page.evaluate with esbuild's __name() helper; give pages a no-op one.
  await context.addInitScript('globalThis.__name = (f) => f;');
  const problems: string[] = [];
  const watch = (page: Page) => {
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  };
  context.pages().forEach(watch);
  context.on('page', watch);
  return {
    context,
    problems,
    async page() {
      const existing = context.pages().find((p) => p.url() === 'about:blank');
      return existing ?? context.newPage();
    },
    async close() {
      await context.close();
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}

export async function screenshot(page: Page, name: string, options: { fullPage?: boolean } = {}): Promise<string> {
  await mkdir(screenshotDir, { recursive: true });
  const file = path.join(screenshotDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: options.fullPage ?? true, animations: 'disabled' });
  return file;
}
