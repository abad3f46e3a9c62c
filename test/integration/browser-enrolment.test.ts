// A new clinician in a real browser (Debian chromium via playwright-core): the admin's `users invite` (the real
// CLI) → the link → password refused then accepted → the QR code (decoded from the page's pixels) → a code from
// oathtool → /account → a DICOM token that storescu uses → revoked → refused → sign out → the link is dead.
// Then lockout and an ended session as the browser sees them. axe-core checks each page; screenshots go to
// .tap/screenshots/ (and docs/screenshots/ for the README with PGW_UPDATE_SCREENSHOTS=1).

import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import jsQRModule from 'jsqr';
import { PNG } from 'pngjs';
import type { Browser, Page } from 'playwright-core';
import { parse, stringify } from 'yaml';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { makeInstance, writeInstance } from '../helpers/instances.js';
import { findInstanceId, startOrthanc, type OrthancServer } from '../helpers/orthanc.js';
import { GATEWAY_BIN } from '../helpers/replica.js';
import { oathtool, run, type RunResult } from '../helpers/tools.js';
import { launchChromium, screenshot } from '../helpers/browser.js';

/** jsqr is CommonJS with a default export: the function is `.default` under ESM interop. */
const jsQR = ((jsQRModule as unknown as { default?: unknown }).default ?? jsQRModule) as (d: Uint8ClampedArray, w: number, h: number) => { data: string } | null;
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

async function launch(t: Test): Promise<Browser> {
  const browser = await launchChromium(t);
  return browser;
}

/** axe-core in the page (evaluated, not a script tag: the page's CSP allows no inline script); no serious or critical violation. */
async function accessible(t: Test, page: Page, what: string): Promise<void> {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const r = await (globalThis as unknown as { axe: { run(): Promise<{ violations: { id: string; impact: string; nodes: { target: unknown }[] }[] }> } }).axe.run();
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target) }));
  });
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  t.same(bad, [], `${what}: no serious or critical accessibility violation`);
}

function users(gw: TestGateway, args: string[]): Promise<RunResult> {
  return run(process.execPath, [GATEWAY_BIN, 'users', ...args, '--config', gw.configFile], { cwd: gw.dir, timeoutMs: 60_000 });
}

async function storescu(gw: TestGateway, orthanc: OrthancServer, token: string): Promise<{ result: RunResult; stored: boolean }> {
  const jwtFile = join(gw.dir, `token-${Date.now()}.jwt`);
  writeFileSync(jwtFile, token, { mode: 0o600 });
  const instance = makeInstance();
  const file = await writeInstance(gw.dir, instance);
  const result = await run('storescu', ['+tla', '+cf', join(gw.dir, 'certs/ca.crt'), '--jwt', jwtFile, '-aet', 'WS1', '-aec', 'GATEWAY', '127.0.0.1', String(gw.dicomPort), file], { timeoutMs: 30_000 });
  return { result, stored: (await findInstanceId(orthanc, instance.sopInstanceUid)) !== undefined };
}

t.test('from an invite link to a DICOM store, in the browser', async (t) => {
  const orthanc = await startOrthanc();
  t.teardown(() => orthanc.stop());
  const gw = await startGateway({ orthanc, dicom: true });
  t.teardown(() => gw.stop());
  // The admin sets the public origin links start with (here the test's port, known once started).
  const raw = parse(readFileSync(gw.configFile, 'utf8')) as Record<string, unknown>;
  writeFileSync(gw.configFile, stringify({ ...raw, enrolment: { baseUrl: gw.url, inviteHours: 72 } }));

  const invited = await users(gw, ['invite', 'nora', '--role', 'technologist', '--email', 'nora@example.org', '--json']);
  t.equal(invited.code, 0, `users invite: ${invited.stderr}`);
  const inv = JSON.parse(invited.stdout) as { username: string; role: string; inviteUrl: string; expiresAt: string };
  t.same(Object.keys(inv), ['username', 'role', 'inviteUrl', 'expiresAt'], 'the JSON names stay stable');
  t.match(inv, { username: 'nora', role: 'technologist' });
  const token = new URL(inv.inviteUrl).pathname.replace('/enrol/', '');
  t.ok(inv.inviteUrl.startsWith(`${gw.url}/enrol/`), 'the link starts with enrolment.baseUrl');
  t.ok(token.length >= 22 && /^[A-Za-z0-9_-]+$/.test(token), 'at least 128 bits of base64url');
  t.ok(Math.abs(Date.parse(inv.expiresAt) - Date.now() - 72 * 3_600_000) < 120_000, 'expires after enrolment.inviteHours');
  const usersFile = readFileSync(join(gw.dir, 'config/users.yaml'), 'utf8');
  t.notOk(usersFile.includes(token), 'the token itself is not stored');
  t.match(usersFile, /pending: true/);
  await gw.gateway.reload();

  const browser = await launch(t);
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 900, height: 1000 } });
  const page = await context.newPage();
  const cspErrors: string[] = [];
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text()); });

  const opened = await page.goto(inv.inviteUrl);
  t.equal(opened?.status(), 200);
  const headers = opened?.headers() ?? {};
  t.match(headers['content-security-policy'], /script-src 'self'/, 'CSP on the page');
  t.notMatch(headers['content-security-policy'], /unsafe-inline/, 'no unsafe-inline');
  t.match(headers['content-security-policy'], /frame-ancestors 'none'/);
  t.equal(headers['strict-transport-security'], 'max-age=31536000');
  t.equal(headers['referrer-policy'], 'no-referrer');
  t.equal(headers['cache-control'], 'no-store');
  await accessible(t, page, 'password step');

  await page.fill('#password', 'password');
  await page.fill('#password2', 'password');
  await page.click('#enrol-password');
  t.match(await page.textContent('#enrol-error'), /too common/, 'a common password is refused with the reason');
  await page.fill('#password', 'short');
  await page.fill('#password2', 'short');
  await page.locator('#password').evaluate((e) => e.removeAttribute('minlength')); // the server's check, not the browser's
  await page.click('#enrol-password');
  t.match(await page.textContent('#enrol-error'), /at least 8 characters/, 'a short one too');
  await screenshot(page, 'enrol-password.png', { fullPage: true });
  const password = 'violet kettle harbour 42';
  await page.fill('#password', password);
  await page.fill('#password2', password);
  await page.click('#enrol-password');
  await page.waitForSelector('#qr svg');
  await accessible(t, page, 'authenticator step');
  await screenshot(page, 'enrol-authenticator.png', { fullPage: true });

  // The QR code as the phone sees it: the element's pixels, decoded.
  const png = PNG.sync.read(await page.locator('#qr').screenshot());
  const qr = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
  t.ok(qr, 'the QR code decodes');
  const uri = new URL(qr?.data ?? 'otpauth://none');
  t.equal(uri.protocol, 'otpauth:');
  t.equal(uri.host, 'totp');
  const secret = uri.searchParams.get('secret') ?? '';
  t.equal((await page.textContent('#manual-key'))?.replace(/\s+/g, ''), secret, 'the manual key is the QR code\'s secret');
  t.match(readFileSync(join(gw.dir, 'config/users.yaml'), 'utf8'), new RegExp(`totpSecret: ${secret}`), 'and the one the gateway checks');

  await page.fill('#totp', '000000');
  await page.click('#enrol-confirm');
  t.match(await page.textContent('#enrol-error'), /did not match/, 'a wrong code is refused');
  gw.clock.advance(30_000);
  await page.fill('#totp', await oathtool(secret, { now: new Date(gw.clock()) }));
  await page.click('#enrol-confirm');
  await page.waitForURL(`${gw.url}/account?m=enrolled`);
  t.match(await page.textContent('#who'), /Signed in as nora \(role technologist\)/, 'enrolled and signed in');
  t.match(await page.textContent('#account-notice'), /account is ready/);
  t.match(await page.textContent('#method'), /password and authenticator code/);
  await accessible(t, page, 'account page');
  await screenshot(page, 'account.png', { fullPage: true });

  await page.click('#create-token');
  const dimse = (await page.textContent('#new-token'))?.trim() ?? '';
  t.match(dimse, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'the new token is shown once');
  t.match(await page.textContent('#storescu-line'), new RegExp(`storescu .*--jwt token\\.jwt -aec GATEWAY 127\\.0\\.0\\.1 ${gw.dicomPort} FILE\\.dcm`), 'the command line to use it, with the gateway\'s DICOM port');
  await screenshot(page, 'account-dicom-token.png', { fullPage: true });
  const ok = await storescu(gw, orthanc, dimse);
  t.equal(ok.result.code, 0, `storescu with the token: ${ok.result.stdout}${ok.result.stderr}`);
  t.ok(ok.stored, 'the instance reached the PACS');

  await page.goto(`${gw.url}/account`);
  t.notOk(await page.locator('#new-token').count(), 'the token is not shown again');
  await page.locator('#tokens button').first().click();
  await page.waitForURL(`${gw.url}/account?m=token-revoked`);
  t.equal(await page.locator('#no-tokens').count(), 1, 'no tokens left');
  const refused = await storescu(gw, orthanc, dimse);
  t.not(refused.result.code, 0);
  t.match(refused.result.stdout + refused.result.stderr, /Association Rejected/i, 'the revoked token is refused');
  t.notOk(refused.stored);

  await page.click('#logout');
  await page.waitForURL(`${gw.url}/login`);
  const dead = await page.goto(inv.inviteUrl);
  t.equal(dead?.status(), 410);
  t.match(await page.textContent('#enrol-dead'), /Ask your administrator/, 'the used link is dead');
  await accessible(t, page, 'dead link page');
  t.same(cspErrors, [], 'no CSP violation on any page');

  const steps = gw.auditEvents('auth.enrol').map((e) => `${e.decision}:${e.reason}`);
  t.match(steps, ['allow:invite-opened', 'deny:password-refused', 'deny:password-refused', 'allow:password-chosen', 'allow:invite-opened:authenticator', 'deny:code-refused', 'allow:enrolled', 'deny:invite-unknown'], 'every step is audited');
});

t.test('lockout and an ended session, as the browser shows them', async (t) => {
  const gw = await startGateway({ config: { lockout: { userMaxFailures: 3, lockMinutes: 15 }, session: { idleMinutes: 30 } } });
  t.teardown(() => gw.stop());
  const lea = await gw.addUser('lea', 'viewer');
  const browser = await launch(t);
  const page = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();

  await page.goto(`${gw.url}/`);
  t.equal(page.url(), `${gw.url}/login`, '/ without a session: the login page');
  const signIn = async (code: string): Promise<void> => {
    await page.fill('#username', 'lea');
    await page.fill('#password', lea.password);
    await page.fill('#totp', code);
    await page.click('button[type=submit]');
  };
  for (let i = 0; i < 3; i++) await signIn('000000');
  await signIn('000000');
  t.match(await page.textContent('#login-error'), /Too many failed attempts\. Wait 15 minutes and try again\./, 'the lockout says how long to wait');
  await accessible(t, page, 'login page with a lockout');
  await screenshot(page, 'login-lockout.png', { fullPage: true });

  gw.clock.advance(16 * 60_000);
  await signIn(await gw.code(lea));
  await page.waitForURL(`${gw.url}/account`);
  t.match(await page.textContent('#who'), /Signed in as lea/, 'after the wait, a good login works (/ → /account)');

  gw.clock.advance(31 * 60_000);
  await page.goto(`${gw.url}/account`);
  t.equal(page.url(), `${gw.url}/login?ended=1`, 'an idle session sends the browser to the login page');
  t.match(await page.textContent('#login-notice'), /session has ended/);
  gw.clock.advance(30_000);
  await signIn(await gw.code(lea));
  await page.waitForURL(`${gw.url}/account`);
  t.match(await page.textContent('#who'), /Signed in as lea/, 'and signing in again works');
});

t.test('the account page: sign out everywhere else, change the password, set up the authenticator again', async (t) => {
  const gw = await startGateway();
  t.teardown(() => gw.stop());
  const max = await gw.addUser('max', 'radiologist');
  const browser = await launch(t);
  const [a, b] = [await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage(), await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage()];
  let password = max.password;
  let secret = max.totpSecret;
  const signIn = async (page: Page): Promise<void> => {
    gw.clock.advance(30_000);
    await page.goto(`${gw.url}/login`);
    await page.fill('#username', 'max');
    await page.fill('#password', password);
    await page.fill('#totp', await oathtool(secret, { now: new Date(gw.clock()) }));
    await page.click('button[type=submit]');
    await page.waitForURL(`${gw.url}/account`);
  };
  const login = await a.goto(`${gw.url}/login`);
  await signIn(a);
  await signIn(b);
  const account = await a.goto(`${gw.url}/account`);
  for (const [what, r] of [['login', login], ['account', account]] as const) {
    const h = r?.headers() ?? {};
    t.equal(h['cache-control'], 'no-store', `${what}: not cached`);
    t.match(h['content-security-policy'], /default-src 'none';.*script-src 'self';.*frame-ancestors 'none'/, `${what}: CSP`);
    t.notMatch(h['content-security-policy'], /unsafe-inline|unsafe-eval/, `${what}: no unsafe-inline`);
    t.equal(h['strict-transport-security'], 'max-age=31536000', `${what}: HSTS`);
    t.equal(h['x-frame-options'], 'DENY', `${what}: no framing`);
    t.equal(h['referrer-policy'], 'no-referrer', `${what}: no referrer`);
  }
  t.equal(await a.locator('#sessions tbody tr').count(), 2, 'two sessions listed');
  await a.click('#sign-out-others');
  await a.waitForURL(`${gw.url}/account?m=others-signed-out`);
  t.equal(await a.locator('#sessions tbody tr').count(), 1, 'one left');
  await b.goto(`${gw.url}/account`);
  t.equal(b.url(), `${gw.url}/login?ended=1`, 'the other browser is signed out');

  // Change the password: a wrong current password is refused, then it works and this browser stays signed in.
  gw.clock.advance(30_000);
  await a.fill('#current-password', 'not my password');
  await a.fill('#new-password', 'amber falcon river 93');
  await a.fill('#new-password2', 'amber falcon river 93');
  await a.fill('#password-totp', await oathtool(secret, { now: new Date(gw.clock()) }));
  await a.click('#change-password');
  t.match(await a.textContent('#password-error'), /current password or the code is wrong/);
  gw.clock.advance(30_000);
  await a.fill('#current-password', password);
  await a.fill('#new-password', 'amber falcon river 93');
  await a.fill('#new-password2', 'amber falcon river 93');
  await a.fill('#password-totp', await oathtool(secret, { now: new Date(gw.clock()) }));
  await a.click('#change-password');
  await a.waitForURL(`${gw.url}/account?m=password-changed`);
  password = 'amber falcon river 93';
  await signIn(b);
  t.match(await b.textContent('#who'), /Signed in as max/, 'the new password signs in');

  // Set up the authenticator again: password + current code, then the new QR code and a code from it.
  gw.clock.advance(30_000);
  await a.goto(`${gw.url}/account`);
  await a.fill('#reenrol-password', password);
  await a.fill('#reenrol-totp', await oathtool(secret, { now: new Date(gw.clock()) }));
  await a.click('#reenrol');
  await a.waitForSelector('#qr svg');
  const fresh = (await a.textContent('#manual-key'))?.replace(/\s+/g, '') ?? '';
  t.not(fresh, secret, 'a new secret');
  gw.clock.advance(30_000);
  await a.fill('#totp', await oathtool(fresh, { now: new Date(gw.clock()) }));
  await a.click('#enrol-confirm');
  await a.waitForURL(`${gw.url}/account?m=authenticator-changed`);
  await b.goto(`${gw.url}/account`);
  t.equal(b.url(), `${gw.url}/login?ended=1`, 'the other session ended with the change');
  gw.clock.advance(30_000);
  await b.fill('#username', 'max');
  await b.fill('#password', password);
  await b.fill('#totp', await oathtool(secret, { now: new Date(gw.clock()) }));
  await b.click('button[type=submit]');
  t.match(await b.textContent('#login-error'), /Login failed/, 'the old authenticator no longer works');
  secret = fresh;
  await signIn(b);
  t.match(await b.textContent('#who'), /Signed in as max/, 'the new one does');
  t.match(gw.auditEvents('auth.account').map((e) => e.reason), ['others-signed-out', 'password-change-refused', 'password-changed', 'reenrol-started', 'authenticator-changed']);
});
