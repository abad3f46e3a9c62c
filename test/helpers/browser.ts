// Debian's chromium for the browser tests (playwright-core drives it; no downloaded browser), and where their screenshots go.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import type { Test } from 'tap';
import { startGateway, type TestGateway, type TestGatewayOptions, type TestUser } from './gateway.js';
import { makeInstance, type TestInstance } from './instances.js';
import { startOrthanc, uploadInstance, type OrthancServer } from './orthanc.js';

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

/**
 * A clinician's browser scene: Orthanc holding one study, a gateway in front of it, the viewer user
 * `nina`, and a fresh Chromium page (the dev CA is not in the browser's trust store; everything else
 * about TLS is real). Everything is stopped in teardown.
 */
export async function browserScene(t: Test, gatewayOptions: Omit<TestGatewayOptions, 'orthanc'> = {}): Promise<{
  orthanc: OrthancServer; gw: TestGateway; inst: TestInstance; nina: TestUser; context: BrowserContext; page: Page;
}> {
  const orthanc = await startOrthanc();
  t.teardown(() => orthanc.stop());
  const gw = await startGateway({ ...gatewayOptions, orthanc });
  t.teardown(() => gw.stop());
  const inst = makeInstance();
  await uploadInstance(orthanc, inst.buffer);
  const nina = await gw.addUser('nina', 'viewer');
  const browser = await launchChromium(t);
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  return { orthanc, gw, inst, nina, context, page: await context.newPage() };
}
