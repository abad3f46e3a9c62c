// A clinician in a real browser (Debian chromium via playwright-core) signs in through the hospital's
// OpenID Provider (a real oidc-provider): the whole redirect flow ending on /account, DICOMweb through
// the gateway, a DIMSE token made with the account page's button that storescu uses, MFA refusal,
// RP-initiated and back-channel logout.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { Browser, Page } from 'playwright-core';
import { makeInstance, writeInstance } from '../helpers/instances.js';
import { startOidcEnv } from '../helpers/oidc-env.js';
import { getInstanceFile, uploadInstance } from '../helpers/orthanc.js';
import { run } from '../helpers/tools.js';
import { launchChromium } from '../helpers/browser.js';

async function signInThroughIdp(page: Page, gwUrl: string, idpUser: string): Promise<void> {
  await page.goto(`${gwUrl}/login`);
  await page.click('#oidc-sign-in');
  await page.waitForSelector('#idp-user');
  await page.fill('#idp-user', idpUser);
  await page.click('#idp-submit');
}

/** The account page's "Create a DICOM token" button; the token it shows once, saved for storescu's --jwt. */
async function createTokenOnAccountPage(page: Page, file: string): Promise<string> {
  await page.click('#create-token');
  await page.waitForSelector('#new-token');
  const token = (await page.textContent('#new-token')) ?? '';
  writeFileSync(file, token);
  return token;
}

t.test('browser sign-in through the IdP', async (t) => {
  const o = await startOidcEnv();
  t.teardown(() => o.stop());
  const { gw, orthanc } = o.env;
  const inst = makeInstance();
  await uploadInstance(orthanc, inst.buffer);
  const peer = ['127.0.0.1', String(o.env.port)];

  const browser: Browser = await launchChromium(t);

  await t.test('redirect flow, DICOMweb, DIMSE token for storescu, then back-channel logout ends it all', async (t) => {
    // The dev CAs are not in the browser's trust store; everything else about TLS is real.
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await signInThroughIdp(page, gw.url, 'u-alice');
    // The callback page moves on to /account by itself, where the SameSite=Strict session cookie is sent.
    await page.waitForURL(`${gw.url}/account`);
    await page.waitForSelector('#who');
    t.match(await page.textContent('#who'), /Signed in as alice \(role radiologist\)/);
    t.match(await page.textContent('#method'), /your hospital's identity provider, Test Hospital IdP \(OpenID Connect/);
    t.match(await page.textContent('#session-end'), /at the latest, or after \d+ minutes without activity/);
    t.match(await page.textContent('#managed-by-idp'), /managed by your hospital's identity provider, Test Hospital IdP/);
    t.equal(await page.locator('#change-password, #reenrol').count(), 0, 'no password or authenticator form for an IdP user');
    t.equal(await page.locator('#sessions tbody tr').count(), 1, 'this session listed');
    const session = (await context.cookies(gw.url)).find((c) => c.name === '__Host-pacs-session');
    t.match(session, { httpOnly: true, secure: true, sameSite: 'Strict', path: '/' });

    const studies = await page.goto(`${gw.url}/dicom-web/studies`);
    t.equal(studies?.status(), 200);
    const body = JSON.parse(await page.innerText('body')) as Record<string, { Value?: unknown[] }>[];
    t.ok(body.some((s) => s['0020000D']?.Value?.[0] === inst.studyUid), 'the browser sees the study through the gateway');

    // The DIMSE token from the account page's button (a plain form post with the session cookie).
    await page.goto(`${gw.url}/account`);
    const jwtFile = join(o.env.dir, 'alice.jwt');
    const token = await createTokenOnAccountPage(page, jwtFile);
    t.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'a DIMSE token for the IdP user, shown once');
    t.equal(await page.locator('#tokens tbody tr').count(), 1, 'listed on the page');
    t.match(gw.auditEvents('auth.token').at(-1), { decision: 'allow', reason: 'dimse-token-issued', principal: 'alice' });
    const stored = makeInstance();
    const store = await run('storescu', ['-v', ...o.env.tls(), '--jwt', jwtFile, '-aet', 'WS-ALICE', '-aec', 'GATEWAY', ...peer, await writeInstance(o.env.dir, stored)]);
    // radiologist has no "store": the token admits alice, her role refuses the C-STORE (0x0124).
    t.match(store.stderr + store.stdout, /0x0?124|Not ?Authori[sz]ed/i, 'the role from the IdP group applies over DICOM');
    t.equal(await getInstanceFile(orthanc, stored.sopInstanceUid), undefined, 'not stored');
    t.match(gw.auditEvents('dicom.association').at(-1), { decision: 'allow', principal: 'alice', method: 'dicom-user-jwt', role: 'radiologist' });

    // The user signs out at the IdP (another tab, the IdP's own page): its back-channel logout ends the gateway session.
    const idpPage = await context.newPage();
    await idpPage.goto(`${o.idp.issuer}/session/end`);
    await idpPage.click('button[name=logout]');
    await idpPage.waitForLoadState();
    t.match(gw.auditEvents('auth.logout').at(-1), { decision: 'allow', reason: 'backchannel-logout', sessionsEnded: 1 });
    const after = await page.goto(`${gw.url}/dicom-web/studies`);
    t.equal(after?.status(), 401, 'the next request: 401');
    const refused = await run('storescu', [...o.env.tls(), '--jwt', jwtFile, '-aet', 'WS-ALICE', '-aec', 'GATEWAY', ...peer, await writeInstance(o.env.dir, makeInstance())]);
    t.not(refused.code, 0, 'the DIMSE token died with its session');
    t.match(refused.stderr + refused.stdout, /Association Rejected/);
    t.match(gw.auditEvents('dicom.association').at(-1), { decision: 'deny' });
    t.match(gw.auditEvents('auth.token').at(-1), { decision: 'deny', method: 'dicom-user-jwt', principal: 'alice' });
    await context.close();
  });

  await t.test('a technologist stores through storescu with the DIMSE token', async (t) => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await signInThroughIdp(page, gw.url, 'u-tess');
    await page.waitForURL(`${gw.url}/account`);
    t.match(await page.textContent('#who'), /Signed in as tess \(role technologist\)/);
    const jwtFile = join(o.env.dir, 'tess.jwt');
    await createTokenOnAccountPage(page, jwtFile);
    const inst2 = makeInstance();
    const store = await run('storescu', [...o.env.tls(), '--jwt', jwtFile, '-rsp', '-aet', 'WS-TESS', '-aec', 'GATEWAY', ...peer, await writeInstance(o.env.dir, inst2)]);
    t.equal(store.code, 0, `storescu --jwt: ${store.stderr}`);
    t.ok(await getInstanceFile(orthanc, inst2.sopInstanceUid), 'Orthanc has the instance');
    // Revoked with the page's button: the token opens nothing any more.
    await page.click('#tokens button[id^="revoke-"]');
    await page.waitForSelector('#account-notice');
    t.match(await page.textContent('#account-notice'), /The DICOM token was revoked/);
    t.equal(await page.locator('#no-tokens').count(), 1);
    const refused = await run('storescu', [...o.env.tls(), '--jwt', jwtFile, '-aet', 'WS-TESS', '-aec', 'GATEWAY', ...peer, await writeInstance(o.env.dir, makeInstance())]);
    t.match(refused.stderr + refused.stdout, /Association Rejected/, 'a revoked token is refused');
    await context.close();
  });

  await t.test('two gateway sessions from one IdP session: the back-channel logout ends both', async (t) => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await signInThroughIdp(page, gw.url, 'u-carol');
    await page.waitForURL(`${gw.url}/account`);
    const first = (await context.cookies(gw.url)).find((c) => c.name === '__Host-pacs-session')?.value;
    t.ok(first, 'a session cookie');
    // Signing in again in the same browser: the IdP session is still there, so no IdP form this time.
    const again = await context.newPage();
    await again.goto(`${gw.url}/login`);
    await again.click('#oidc-sign-in');
    await again.waitForURL(`${gw.url}/account`);
    t.equal(await again.locator('#sessions tbody tr').count(), 2, 'two sessions of carol');
    const idpPage = await context.newPage();
    await idpPage.goto(`${o.idp.issuer}/session/end`);
    await idpPage.click('button[name=logout]');
    await idpPage.waitForLoadState();
    t.match(gw.auditEvents('auth.logout').at(-1), { decision: 'allow', reason: 'backchannel-logout', sessionsEnded: 2 });
    t.equal((await gw.request('GET', '/dicom-web/studies', { headers: { cookie: `__Host-pacs-session=${first}` } })).status, 401, 'the first session is over too');
    t.equal((await again.goto(`${gw.url}/dicom-web/studies`))?.status(), 401, 'and the second');
    await context.close();
  });

  await t.test('a user without MFA sees why and gets no session', async (t) => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await signInThroughIdp(page, gw.url, 'u-bob');
    await page.waitForSelector('#oidc-error');
    t.match(await page.textContent('body'), /hospital's identity provider must require MFA for this app/);
    t.equal((await context.cookies(gw.url)).find((c) => c.name === '__Host-pacs-session'), undefined);
    await context.close();
  });

  await t.test('sign-out at the gateway goes on to the IdP (RP-initiated logout) and back to the login page', async (t) => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await signInThroughIdp(page, gw.url, 'u-carol');
    await page.waitForSelector('#who');
    await page.click('#logout');
    await page.waitForSelector('button[name=logout]'); // the IdP asks to confirm
    t.equal(new URL(page.url()).origin, o.idp.issuer, 'at the IdP');
    await page.click('button[name=logout]');
    await page.waitForURL(`${gw.url}/login`);
    const after = await page.goto(`${gw.url}/dicom-web/studies`);
    t.equal(after?.status(), 401);
    await context.close();
  });
});
