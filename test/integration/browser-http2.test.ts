// Chromium over HTTP/2: the login page, the sign-in and DICOMweb fetches all travel as h2 on one
// origin; with http.http2: false the same browser speaks HTTP/1.1.

import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { browserScene, launchChromium } from '../helpers/browser.js';

t.test('Chromium signs in and searches over HTTP/2', async (t) => {
  const { gw, inst, nina, page } = await browserScene(t);

  await page.goto(`${gw.url}/login`);
  t.equal(await page.title(), 'Sign in · PACS gateway');
  t.equal(await page.evaluate(() => (performance.getEntries()[0] as PerformanceNavigationTiming).nextHopProtocol), 'h2', 'the login page came over h2');
  gw.clock.advance(30_000);
  await page.fill('#username', 'nina');
  await page.fill('#password', nina.password);
  await page.fill('#totp', await gw.code(nina));
  await page.click('button[type=submit]');
  await page.waitForSelector('#who');
  t.match(await page.textContent('#who'), /Signed in as nina/);

  const result = await page.evaluate(async (uid) => {
    const r = await fetch(`/dicom-web/studies?StudyInstanceUID=${uid}`, { headers: { accept: 'application/dicom+json' } });
    const body = await r.json() as unknown[];
    const entry = performance.getEntriesByType('resource').find((e) => e.name.includes('/dicom-web/studies')) as PerformanceResourceTiming | undefined;
    return { status: r.status, count: body.length, protocol: entry?.nextHopProtocol };
  }, inst.studyUid);
  t.same(result, { status: 200, count: 1, protocol: 'h2' }, 'QIDO-RS from the page with the session cookie, over h2');
  const refused = await page.evaluate(async () => (await fetch('/dicom-web/studies', { method: 'DELETE' })).status);
  t.ok(refused >= 400 && refused < 500, `a DELETE from the page is refused (${String(refused)})`);
});

t.test('http.http2: false: the same browser speaks HTTP/1.1', async (t) => {
  const gw = await startGateway({ config: { http: { http2: false } } });
  t.teardown(() => gw.stop());
  const browser = await launchChromium(t);
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  await page.goto(`${gw.url}/login`);
  t.equal(await page.evaluate(() => (performance.getEntries()[0] as PerformanceNavigationTiming).nextHopProtocol), 'http/1.1');
});
