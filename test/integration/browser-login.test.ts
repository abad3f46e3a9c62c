// A clinician in a real browser (Debian chromium via playwright-core): login form, TOTP, DICOMweb, logout.

import t from 'tap';
import { browserScene } from '../helpers/browser.js';

t.test('browser login with password + TOTP, then DICOMweb with the session cookie', async (t) => {
  const { gw, inst, nina, context, page } = await browserScene(t);

  const unauth = await page.goto(`${gw.url}/dicom-web/studies`);
  t.equal(unauth?.status(), 401, 'no session: 401');

  await page.goto(`${gw.url}/login`);
  t.equal(await page.title(), 'Sign in · PACS gateway');
  await page.fill('#username', 'nina');
  await page.fill('#password', nina.password);
  await page.fill('#totp', '000000');
  await page.click('button[type=submit]');
  t.match(await page.textContent('#login-error'), /Login failed: wrong username, password or code/, 'a wrong code is explained');
  t.equal(await page.inputValue('#username'), 'nina', 'the username is kept');

  gw.clock.advance(30_000);
  await page.fill('#password', nina.password);
  await page.fill('#totp', await gw.code(nina));
  await page.click('button[type=submit]');
  await page.waitForSelector('#who');
  t.match(await page.textContent('#who'), /Signed in as nina \(role viewer\)/);

  const cookies = await context.cookies(gw.url);
  const session = cookies.find((c) => c.name === '__Host-pacs-session');
  t.ok(session, 'session cookie set');
  t.match(session, { httpOnly: true, secure: true, sameSite: 'Strict', path: '/' });
  t.equal(await page.evaluate(() => document.cookie), '', 'scripts cannot read the session cookie');

  const studies = await page.goto(`${gw.url}/dicom-web/studies`);
  t.equal(studies?.status(), 200);
  const body = JSON.parse(await page.innerText('body')) as Record<string, { Value?: unknown[] }>[];
  t.ok(body.some((s) => s['0020000D']?.Value?.[0] === inst.studyUid), 'the browser sees the study through the gateway');

  await page.goto(`${gw.url}/`);
  await page.click('#logout');
  await page.waitForURL(`${gw.url}/login`);
  const after = await page.goto(`${gw.url}/dicom-web/studies`);
  t.equal(after?.status(), 401, 'logged out: 401 again');
});
