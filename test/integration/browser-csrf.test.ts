// Cross-site request forgery from a real browser (Debian chromium via playwright-core): a signed-in
// clinician opens an attacker's page that auto-submits a form to the gateway. Two attackers: a page of
// another site (http://localhost:P, cross-site: the SameSite=Strict cookie stays home, but logout and
// login CSRF need no cookie), and a page of the same site on another port (https://127.0.0.1:P2,
// same-site: the cookie goes along). Every forged request is refused (403 ERR_CROSS_SITE), the
// victim's session survives, and nothing reaches the PACS.

import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { launchChromium } from '../helpers/browser.js';

/** An attacker's page: a form to `action` with `fields`, submitted as soon as the page loads. */
function formPage(action: string, fields: Record<string, string>, enctype = 'application/x-www-form-urlencoded'): string {
  const inputs = Object.entries(fields).map(([k, v]) => `<input type="hidden" name="${k}" value="${v}">`).join('');
  return `<!doctype html><title>win a prize</title><body onload="document.forms[0].submit()"><form method="post" action="${action}" enctype="${enctype}">${inputs}</form></body>`;
}

t.test('a page of another origin cannot log the user out, log them in as someone else, or store through their session', async (t) => {
  const pacsRequests: string[] = [];
  const pacs = createHttpServer((req, res) => { pacsRequests.push(`${String(req.method)} ${String(req.url)}`); req.resume(); req.on('end', () => res.end('{}')); });
  await new Promise<void>((r) => pacs.listen(0, '127.0.0.1', r));
  t.teardown(() => { pacs.closeAllConnections(); pacs.close(); });
  const base = `http://127.0.0.1:${(pacs.address() as AddressInfo).port}`;
  const gw = await startGateway({ orthanc: { dicomwebUrl: `${base}/dicom-web`, wadoUrl: `${base}/wado`, dicomPort: 9, aeTitle: 'PACS' } });
  t.teardown(() => gw.stop());
  const victim = await gw.addUser('victim', 'admin');
  const mallory = await gw.addUser('mallory', 'viewer');

  // The attacker's pages, by path; `/next` is set by the test before each visit.
  let next = '';
  const serve = (_req: IncomingMessage, res: ServerResponse): void => { res.writeHead(200, { 'content-type': 'text/html' }); res.end(next); };
  const crossSite = createHttpServer(serve);
  await new Promise<void>((r) => crossSite.listen(0, '127.0.0.1', r));
  t.teardown(() => { crossSite.closeAllConnections(); crossSite.close(); });
  const sameSite = createHttpsServer({ cert: readFileSync(join(gw.dir, 'certs/server.crt')), key: readFileSync(join(gw.dir, 'certs/server.key')) }, serve);
  await new Promise<void>((r) => sameSite.listen(0, '127.0.0.1', r));
  t.teardown(() => { sameSite.closeAllConnections(); sameSite.close(); });
  const attackers = {
    'cross-site page (http://localhost)': `http://localhost:${(crossSite.address() as AddressInfo).port}/`,
    'same-site page on another port (https://127.0.0.1)': `https://127.0.0.1:${(sameSite.address() as AddressInfo).port}/`,
  };

  const browser = await launchChromium(t);
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();

  const sessionCookie = async (): Promise<string | undefined> => (await context.cookies(gw.url)).find((c) => c.name === '__Host-pacs-session')?.value;
  const signedInAs = async (p: Page): Promise<string | undefined> => {
    const r = await p.request.get(`${gw.url}/auth/session`);
    return r.status() === 200 ? (await r.json() as { principal: string }).principal : undefined;
  };

  // The victim signs in with the gateway's own form (same-origin: not refused).
  await page.goto(`${gw.url}/login`);
  gw.clock.advance(30_000);
  await page.fill('#username', 'victim');
  await page.fill('#password', victim.password);
  await page.fill('#totp', await gw.code(victim));
  await page.click('button[type=submit]');
  await page.waitForSelector('#who');
  const cookie = await sessionCookie();
  t.ok(cookie, 'the victim has a session');

  /** Visits the attacker's page (which submits its form at once) and returns the gateway's answer to the forged request. */
  const visit = async (attacker: string, html: string, path: string): Promise<{ status: number; body: string }> => {
    next = html;
    const forged = page.waitForResponse((r) => r.url() === `${gw.url}${path}` && r.request().method() === 'POST');
    await page.goto(attacker);
    const r = await forged;
    return { status: r.status(), body: await r.text().catch(() => '') };
  };

  // Each attack from both pages, the one that needs the victim's session first (so that, without the
  // defence, each one is seen to succeed on its own).
  for (const [name, attacker] of Object.entries(attackers)) {
    const stow = await visit(attacker, formPage(`${gw.url}/dicom-web/studies`, { file: 'not a DICOM file' }, 'multipart/form-data'), '/dicom-web/studies');
    t.equal(stow.status, 403, `${name}: forged STOW-RS refused`);
    t.match(stow.body, /ERR_CROSS_SITE/);
  }
  for (const [name, attacker] of Object.entries(attackers)) {
    const out = await visit(attacker, formPage(`${gw.url}/auth/logout`, {}), '/auth/logout');
    t.equal(out.status, 403, `${name}: forged logout refused`);
    t.match(out.body, /ERR_CROSS_SITE/);
    t.equal(await sessionCookie(), cookie, `${name}: the session cookie is untouched`);
    t.equal(await signedInAs(page), 'victim', `${name}: the victim is still signed in`);
  }
  for (const [name, attacker] of Object.entries(attackers)) {
    gw.clock.advance(30_000);
    const login = await visit(attacker, formPage(`${gw.url}/auth/login`, { username: 'mallory', password: mallory.password, totp: await gw.code(mallory) }), '/auth/login');
    t.equal(login.status, 403, `${name}: login CSRF refused`);
    t.notOk((await context.cookies(gw.url)).some((c) => c.name === '__Host-pacs-session' && c.value !== cookie), `${name}: the browser holds no other session`);
  }
  t.same(pacsRequests, [], 'no forged request reached the PACS');
  const denied = gw.auditEvents().filter((e) => e.reason === 'cross-site-request');
  t.same(denied.map((e) => `${String(e.event)} ${String(e.fetchSite)}`).sort(), [
    'auth.login cross-site', 'auth.login same-site', 'auth.logout cross-site', 'auth.logout same-site', 'authz.http cross-site', 'authz.http same-site',
  ], 'each refusal is an audit event naming what the browser said');

  // The victim's own pages still work: sign out with the gateway's button.
  await page.goto(`${gw.url}/`);
  await page.click('#logout');
  await page.waitForURL(`${gw.url}/login`);
  t.equal(await signedInAs(page), undefined, 'the gateway\'s own logout button works');
});
