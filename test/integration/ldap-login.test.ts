// Directory users (users.backend: ldap) against a real OpenLDAP slapd and a real Orthanc: enrolment with
// the CLI, login with the directory password + an oathtool code over HTTPS and over DICOM User Identity
// type 2, refusals (wrong password, disabled, no mapped group, injection), the gateway's lockout
// sparing the directory, and a directory that is down (503 / A-ASSOCIATE-RJ transient, /readyz names it).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { startDicomEnv } from '../dicom/helpers/dicom-env.js';
import { dimse, runScu } from '../dicom/helpers/dimse-client.js';
import type { TestUser } from '../helpers/gateway.js';
import { SERVICE_DN, startSlapd, SUFFIX } from '../helpers/slapd.js';
import { run } from '../helpers/tools.js';

const { CEchoRequest } = dimse.requests;
const { UserIdentityType } = dimse.constants;
const BIN = join(process.cwd(), 'bin/pacs-gateway.js');

const slapd = await startSlapd([
  { name: 'alice', password: 'alice-Dir-pw-1', groups: ['pacs-radiologists'], userAccountControl: 512 },
  { name: 'dana', password: 'dana-Dir-pw-1', groups: ['pacs-viewers'] },
  { name: 'bob', password: 'bob-Dir-pw-1', groups: ['pacs-radiologists'], userAccountControl: 514 },
  { name: 'carol', password: 'carol-Dir-pw-1', groups: ['staff'] },
]);
t.teardown(() => slapd.destroy());

process.env['PGW_TEST_LDAP_BIND_PASSWORD'] = slapd.servicePassword;
const env = await startDicomEnv({
  config: {
    users: {
      backend: 'ldap',
      ldap: {
        url: slapd.ldapsUrl, ca: slapd.caFile, bindDn: SERVICE_DN, bindPassword: '${PGW_TEST_LDAP_BIND_PASSWORD}',
        userSearchBase: `ou=people,${SUFFIX}`, userFilter: '(&(objectClass=user)(sAMAccountName={username}))', groupAttribute: 'memberOf',
        roleMap: { [slapd.groupDn('pacs-radiologists')]: 'radiologist', [slapd.groupDn('pacs-viewers')]: 'viewer' },
      },
    },
    lockout: { userMaxFailures: 3, addressMaxFailures: 1000 },
  },
});
t.teardown(() => env.stop());
const { gw } = env;

/** `pacs-gateway users add NAME --json` in the gateway's directory: with users.backend ldap a directory user. */
async function enrol(name: string, password: string): Promise<TestUser> {
  const r = await run(process.execPath, [BIN, 'users', 'add', name, '--json', '--config', 'gateway.yaml'], { cwd: gw.dir, env: { PGW_TEST_LDAP_BIND_PASSWORD: slapd.servicePassword } });
  if (r.code !== 0) throw new Error(`users add ${name}: ${r.stderr}${r.stdout}`);
  await gw.gateway.reload();
  return { username: name, password, role: '', totpSecret: JSON.parse(r.stdout).totpSecret };
}

async function login(user: { username: string; password: string; totpSecret: string }, password = user.password) {
  gw.clock.advance(30_000);
  return gw.request('POST', '/auth/login', {
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: user.username, password, totp: await gw.code(user as TestUser) }),
  });
}

const alice = await enrol('alice', 'alice-Dir-pw-1');
const dana = await enrol('dana', 'dana-Dir-pw-1');
const bob = await enrol('bob', 'bob-Dir-pw-1');
const carol = await enrol('carol', 'carol-Dir-pw-1');

t.test('the users file keeps the TOTP secret and no password', async (t) => {
  const file = parse(readFileSync(join(gw.dir, 'config/users.yaml'), 'utf8')).users;
  t.match(file.alice, { source: 'ldap', totpSecret: alice.totpSecret });
  t.notOk(file.alice.passwordHash, 'no password hash');
  t.notMatch(readFileSync(join(gw.dir, 'config/users.yaml'), 'utf8'), /alice-Dir-pw-1/);
});

t.test('HTTPS: directory password + TOTP gives a session with the role of the mapped group', async (t) => {
  const r = await login(alice);
  t.equal(r.status, 200, r.text);
  t.match(r.json(), { username: 'alice', role: 'radiologist' });
  const session = await gw.request('GET', '/auth/session', { headers: { authorization: `Bearer ${r.json().token}` } });
  t.match(session.json(), { principal: 'alice', role: 'radiologist' });
  t.match(gw.auditEvents('auth.login').at(-1), { decision: 'allow', principal: 'alice', channel: 'http' });
  t.ok(slapd.binds(slapd.userDn('alice')) >= 1, 'the password was checked by a bind as alice');
  t.notMatch(gw.rawLogs.join('\n'), new RegExp(`alice-Dir-pw-1|${slapd.servicePassword}`), 'no password in the logs');
});

t.test('DICOM User Identity type 2: directory password + code opens an association with the mapped role', async (t) => {
  gw.clock.advance(30_000);
  const r = await runScu([new CEchoRequest()], {
    port: env.port, callingAe: 'WS-ALICE', ca: env.caPem,
    userIdentity: { type: UserIdentityType.UsernameAndPasscode, primaryField: 'alice', secondaryField: `${alice.password}${await gw.code(alice)}` },
  });
  t.ok(r.accepted, JSON.stringify(r));
  t.equal(r.responses[0]?.status, 0, "C-ECHO success");
  t.match(gw.auditEvents('dicom.association').at(-1), { decision: 'allow', principal: 'alice', userIdentityType: 2 });
  const wrong = await runScu([new CEchoRequest()], {
    port: env.port, callingAe: 'WS-ALICE', ca: env.caPem,
    userIdentity: { type: UserIdentityType.UsernameAndPasscode, primaryField: 'alice', secondaryField: `not-her-password${await gw.code(alice)}` },
  });
  t.match(wrong.rejected, { result: 1 }, 'a wrong directory password: A-ASSOCIATE-RJ permanent');
  t.match(gw.auditEvents('dicom.association').at(-1), { decision: 'deny', principal: 'alice', reason: 'wrong-password' });
});

t.test('refused: wrong password, disabled directory account, no mapped group — one answer, the real reason audited', async (t) => {
  for (const [user, password, reason] of [
    [dana, 'not-the-password', 'wrong-password'],
    [bob, bob.password, 'directory-account-disabled'],
    [carol, carol.password, 'no-mapped-group'],
  ] as const) {
    const r = await login(user, password);
    t.equal(r.status, 401, `${user.username}: ${r.text}`);
    t.equal(r.json().error, 'ERR_LOGIN_FAILED');
    t.match(gw.auditEvents('auth.login').at(-1), { decision: 'deny', principal: user.username, reason });
  }
});

t.test('LDAP injection in the username never reaches the directory', async (t) => {
  const searches = slapd.searches();
  const binds = slapd.binds();
  for (const username of ['*', 'alice)(sAMAccountName=*', '*)(|(objectClass=*', 'alice\u0000']) {
    const r = await gw.request('POST', '/auth/login', {
      headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: alice.password, totp: await gw.code(alice) }),
    });
    t.equal(r.status, 401, `${JSON.stringify(username)}: ${r.text}`);
  }
  t.equal(slapd.searches(), searches, 'no search was sent');
  t.equal(slapd.binds(), binds, 'no bind was sent');
});

t.test('lockout: after userMaxFailures the gateway refuses without binding to the directory', async (t) => {
  const before = slapd.binds(slapd.userDn('dana'));
  for (let i = 0; i < 2; i++) t.equal((await login(dana, `guess-${i}-wrong`)).status, 401); // dana already failed once above
  const afterFailures = slapd.binds(slapd.userDn('dana'));
  t.equal(afterFailures, before + 2, 'each counted failure was one bind');
  for (const password of ['guess-x-wrong', dana.password]) {
    const r = await login(dana, password);
    t.equal(r.status, 429, r.text);
    t.equal(r.json().error, 'ERR_LOCKED_OUT');
  }
  t.equal(slapd.binds(slapd.userDn('dana')), afterFailures, 'no bind after the lock, not even with the right password');
});

/** `pacs-gateway check-config` in the gateway's directory. */
const checkConfig = () => run(process.execPath, [BIN, 'check-config', '--config', 'gateway.yaml'], { cwd: gw.dir, env: { PGW_TEST_LDAP_BIND_PASSWORD: slapd.servicePassword } });

t.test('check-config connects to the directory and binds the service account', async (t) => {
  const r = await checkConfig();
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /users\.ldap: ldaps:\/\/127\.0\.0\.1:\d+ answers over TLS with the pinned CA and accepts the service account/);
  const wrong = await run(process.execPath, [BIN, 'check-config', '--config', 'gateway.yaml'], { cwd: gw.dir, env: { PGW_TEST_LDAP_BIND_PASSWORD: 'not-the-service-password' } });
  t.equal(wrong.code, 1);
  t.match(wrong.stderr, /users\.ldap: The directory .* refused the service account cn=gateway/);
  t.notMatch(wrong.stderr + wrong.stdout, /not-the-service-password/);
});

t.test('directory down: 503 ERR_DIRECTORY_UNAVAILABLE, A-ASSOCIATE-RJ transient, /readyz names it; back when it returns', async (t) => {
  await slapd.stop();
  const r = await login(alice);
  t.equal(r.status, 503, r.text);
  t.match(r.json(), { error: 'ERR_DIRECTORY_UNAVAILABLE' });
  t.match(gw.auditEvents('auth.login').at(-1), { decision: 'deny', principal: 'alice', reason: 'directory-unavailable' });
  gw.clock.advance(30_000);
  const assoc = await runScu([new CEchoRequest()], {
    port: env.port, callingAe: 'WS-ALICE', ca: env.caPem,
    userIdentity: { type: UserIdentityType.UsernameAndPasscode, primaryField: 'alice', secondaryField: `${alice.password}${await gw.code(alice)}` },
  });
  t.match(assoc.rejected, { result: 2 }, 'rejected-transient');
  const ready = await gw.request('GET', '/readyz');
  t.equal(ready.status, 503);
  t.match(ready.json().checks['ldap-directory'], { status: 'down', reason: /ECONNREFUSED/ });
  const checked = await checkConfig();
  t.equal(checked.code, 1);
  t.match(checked.stderr, /users\.ldap: The directory ldaps:\/\/127\.0\.0\.1:\d+ cannot be used: ECONNREFUSED/);
  await slapd.restart();
  const back = await gw.request('GET', '/readyz');
  t.match(back.json().checks['ldap-directory'], { status: 'up' });
  t.equal((await login(alice)).status, 200, 'the failures while it was down did not count against alice');
});
