// Enrolment links on the wire, on both user stores: a pending user is refused by every channel (HTTP login,
// DICOM user identity type 2) even with the right password and code; a link works once, expires, can be
// revoked; unknown, malformed and cross-site requests are refused; `reset-totp --invite` re-enrols.

import { readFileSync, writeFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import { parse, stringify } from 'yaml';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { RawAssociation } from '../helpers/raw-association.js';
import { startRedis } from '../helpers/redis.js';
import { GATEWAY_BIN } from '../helpers/replica.js';
import { oathtool, run, type RunResult } from '../helpers/tools.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const PASSWORD = 'quiet meadow lantern 7';

function cli(gw: TestGateway, args: string[]): Promise<RunResult> {
  return run(process.execPath, [GATEWAY_BIN, 'users', ...args, '--config', gw.configFile], { cwd: gw.dir, timeoutMs: 60_000 });
}

async function invite(t: Test, gw: TestGateway, args: string[]): Promise<string> {
  const r = await cli(gw, [...args, '--json']);
  t.equal(r.code, 0, `users ${args.join(' ')}: ${r.stderr}`);
  await gw.gateway.reload();
  return new URL((JSON.parse(r.stdout) as { inviteUrl: string }).inviteUrl).pathname;
}

async function choosePassword(gw: TestGateway, path: string, password = PASSWORD): Promise<number> {
  const r = await gw.request('POST', `${path}/password`, { headers: FORM, body: new URLSearchParams({ password, password2: password }).toString() });
  return r.status;
}

async function manualKey(gw: TestGateway, path: string): Promise<string> {
  const page = await gw.request('GET', path);
  const m = /id="manual-key">([A-Z2-7 ]+)</.exec(page.text);
  if (m === null) throw new Error(`no manual key on ${path}: ${page.status}`);
  return (m[1] ?? '').replace(/ /g, '');
}

async function confirm(gw: TestGateway, path: string, secret: string): Promise<{ status: number; location: unknown; cookie: unknown }> {
  gw.clock.advance(30_000);
  const code = await oathtool(secret, { now: new Date(gw.clock()) });
  const r = await gw.request('POST', `${path}/confirm`, { headers: FORM, body: `totp=${code}` });
  return { status: r.status, location: r.headers.location, cookie: r.headers['set-cookie'] };
}

async function deployments(t: Test): Promise<Array<[string, TestGateway]>> {
  const file = await startGateway({ dicom: true });
  t.teardown(() => file.stop());
  const redis = await startRedis();
  t.teardown(() => redis.destroy());
  const onRedis = await startGateway({ dicom: true, redis });
  t.teardown(() => onRedis.stop());
  for (const gw of [file, onRedis]) {
    const raw = parse(readFileSync(gw.configFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(gw.configFile, stringify({ ...raw, enrolment: { baseUrl: gw.url } }));
  }
  return [['file', file], ['redis', onRedis]];
}

const deps = await deployments(t);

for (const [name, gw] of deps) {
  t.test(`${name}: a pending user cannot log in by any channel, even with the right password and code`, async (t) => {
    const path = await invite(t, gw, ['invite', 'pia', '--role', 'technologist']);
    t.equal(await choosePassword(gw, path), 303, 'the password is chosen; the code is not yet confirmed');
    const secret = await manualKey(gw, path);

    gw.clock.advance(30_000);
    const http = await gw.request('POST', '/auth/login', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'pia', password: PASSWORD, totp: await oathtool(secret, { now: new Date(gw.clock()) }) }) });
    t.equal(http.status, 401, 'HTTP login refused');
    t.match(http.json(), { error: 'ERR_LOGIN_FAILED' }, 'with the same answer as any failure');
    t.match(gw.auditEvents('auth.login').at(-1), { decision: 'deny', reason: 'user-pending', principal: 'pia' });

    gw.clock.advance(30_000);
    const code = await oathtool(secret, { now: new Date(gw.clock()) });
    await t.rejects(RawAssociation.open({
      port: gw.dicomPort, ca: gw.caPem, callingAe: 'WS2',
      contexts: [{ id: 1, abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: ['1.2.840.10008.1.2'] }],
      userIdentity: { type: 2, positiveResponseRequested: false, primary: Buffer.from('pia'), secondary: Buffer.from(`${PASSWORD}${code}`) },
    }), /association not accepted/, 'DICOM user identity type 2 refused');
    t.match(gw.auditEvents('auth.login').at(-1), { decision: 'deny', reason: 'user-pending', channel: 'dicom' });

    const done = await confirm(gw, path, secret);
    t.equal(done.status, 303);
    t.equal(done.location, '/account?m=enrolled');
    t.match(String(done.cookie), /^__Host-pacs-session=/, 'enrolled and signed in');
    t.equal((await gw.request('GET', path)).status, 410, 'the link is used up');
    gw.clock.advance(30_000);
    const cookie = String(done.cookie).split(';')[0] ?? '';
    const forged = await gw.request('POST', '/account/sessions/others', { headers: { ...FORM, cookie, 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' }, body: '' });
    t.equal(forged.status, 403, 'a cross-site post to the account page is refused');
    t.match(gw.auditEvents('auth.account').at(-1), { decision: 'deny', reason: 'cross-site-request' });
    const page = await gw.request('GET', '/account', { headers: { cookie } });
    t.equal(page.status, 200, 'the session cookie of the enrolment opens /account');
    t.equal(page.headers['cache-control'], 'no-store');
    const after = await gw.request('POST', '/auth/login', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'pia', password: PASSWORD, totp: await oathtool(secret, { now: new Date(gw.clock()) }) }) });
    t.equal(after.status, 200, 'now the account logs in');
  });

  t.test(`${name}: users reset-totp --invite sends an active user through enrolment again`, async (t) => {
    const tess = await gw.addUser('tess', 'viewer');
    const token = await gw.login(tess);
    const path = await invite(t, gw, ['reset-totp', 'tess', '--invite']);
    t.equal((await gw.request('GET', '/auth/session', { headers: { authorization: `Bearer ${token}` } })).status, 401, 'the old session ended');
    gw.clock.advance(30_000);
    const old = await gw.request('POST', '/auth/login', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'tess', password: tess.password, totp: await gw.code(tess) }) });
    t.equal(old.status, 401, 'the old password and code no longer work');
    t.equal(await choosePassword(gw, path), 303);
    const secret = await manualKey(gw, path);
    t.not(secret, tess.totpSecret, 'a new secret');
    t.equal((await confirm(gw, path, secret)).status, 303, 're-enrolled');
    const list = await cli(gw, ['list', '--json']);
    t.match(JSON.parse(list.stdout), [{ username: 'pia', pending: false }]);
  });

  t.test(`${name}: two confirms of one link in a race: one session, the other refused`, async (t) => {
    const path = await invite(t, gw, ['invite', 'raya', '--role', 'viewer']);
    t.equal(await choosePassword(gw, path), 303);
    const secret = await manualKey(gw, path);
    gw.clock.advance(30_000);
    const code = await oathtool(secret, { now: new Date(gw.clock()) });
    const both = await Promise.all([0, 1].map(() => gw.request('POST', `${path}/confirm`, { headers: FORM, body: `totp=${code}` })));
    const signedIn = both.filter((r) => r.status === 303 && /^__Host-pacs-session=/.test(String(r.headers['set-cookie'])));
    t.equal(signedIn.length, 1, `one sign-in (${both.map((r) => r.status).join(', ')})`);
    t.ok(both.some((r) => r.status === 410), 'the other finds the link used');
    t.equal((await gw.request('GET', path)).status, 410, 'the link is used up');
  });

  t.test(`${name}: a disabled user's link is dead: no enrolment, no sign-in`, async (t) => {
    const path = await invite(t, gw, ['invite', 'dora', '--role', 'viewer']);
    t.equal(await choosePassword(gw, path), 303);
    const secret = await manualKey(gw, path);
    const off = await cli(gw, ['disable', 'dora']);
    t.equal(off.code, 0, off.stderr);
    await gw.gateway.reload();
    t.equal((await gw.request('GET', path)).status, 410, 'the link no longer opens');
    const done = await confirm(gw, path, secret);
    t.equal(done.status, 410, 'nor confirms');
    t.equal(done.cookie, undefined, 'no session');
    t.notOk(gw.auditEvents('auth.login').some((e) => e.principal === 'dora' && e.decision === 'allow'), 'no sign-in audited');
  });

  t.test(`${name}: dead links — revoked, unknown, malformed, expired — and cross-site posts`, async (t) => {
    const revoked = await invite(t, gw, ['invite', 'rui', '--role', 'viewer']);
    const r = await cli(gw, ['revoke-invite', 'rui']);
    t.match(r.stdout, /no longer works/);
    await gw.gateway.reload();
    t.equal((await gw.request('GET', revoked)).status, 410, 'revoked');

    for (const bad of ['/enrol/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', '/enrol/short', '/enrol/%2e%2e']) {
      const a = await gw.request('GET', bad);
      t.equal(a.status, 410, `${bad}: the same dead-link page`);
    }

    const open = await invite(t, gw, ['invite', 'sol', '--role', 'viewer']);
    const csrf = await gw.request('POST', `${open}/password`, { headers: { ...FORM, 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' }, body: `password=${PASSWORD}&password2=${PASSWORD}` });
    t.equal(csrf.status, 403, 'a cross-site post is refused');
    t.match(gw.auditEvents('auth.enrol').at(-1), { decision: 'deny', reason: 'cross-site-request' });
    const page = await gw.request('GET', open);
    t.match(page.text, /Step 1 of 2/, 'the password was not set by it');

    // Last: the CLI dates links by the real clock, the gateway's test clock jumps past them here.
    const expiring = await invite(t, gw, ['invite', 'quin', '--role', 'viewer']);
    t.equal((await gw.request('GET', expiring)).status, 200);
    gw.clock.advance(73 * 3_600_000);
    const expired = await gw.request('GET', expiring);
    t.equal(expired.status, 410, 'past enrolment.inviteHours');
    t.match(expired.text, /Ask your administrator for a new link/);
    t.match(gw.auditEvents('auth.enrol').at(-1), { decision: 'deny', reason: 'invite-expired' });
    t.equal(await choosePassword(gw, expiring), 410, 'and no step of it works');

  });

}
