// Debian's chromium for the browser tests (playwright-core drives it; no downloaded browser), and where their screenshots go.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import type { Test } from 'tap';

/**
 * Headless chromium, closed in the test's teardown. The flags keep it from reaching out to the
 * (closed) network at start: background networking, QUIC, component updates and sync.
 */
export async function launchChromium(t: Test): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
  t.teardown(() => browser.close());
  return browser;
}

/**
 * Saves a screenshot under .tap/screenshots/; with PGW_UPDATE_SCREENSHOTS=1 also under
 * docs/screenshots/ (the README's pictures), so a plain test run leaves the checkout unchanged.
 */
export async function screenshot(target: Page | Locator, name: string, options: { fullPage?: boolean } = {}): Promise<void> {
  const dirs = ['.tap/screenshots', ...(process.env['PGW_UPDATE_SCREENSHOTS'] === '1' ? ['docs/screenshots'] : [])];
  for (const dir of dirs) {
    mkdirSync(dir, { recursive: true });
    const path = join(dir, name);
    if ('goto' in target) await target.screenshot({ path, fullPage: options.fullPage === true });
    else await target.screenshot({ path });
  }
}
