// Where directory users (users.ldap, source: ldap) meet the account page and enrolment links, on the
// YAML users file: the gateway never writes a local password onto a directory user's record (the
// file would no longer load, and every later `users …` change and the next start would fail).

import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import t, { type Test } from 'tap';
import { parse, stringify } from 'yaml';
import { readUsersFile } from '../../src/identity/file-user-directory.js';
import { startGateway, type TestUser } from '../helpers/gateway.js';
import { GATEWAY_BIN } from '../helpers/replica.js';
import { SERVICE_DN, startSlapd, SUFFIX } from '../helpers/slapd.js';
import { oathtool, run } from '../helpers/tools.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

const slapd = await startSlapd([{ name: 'erin', password: 'erin-Dir-pw-1', groups: ['pacs-radiologists'] }]);
t.teardown(() => slapd.destroy());

const gw = await startGateway({
  config: {
    users: {
      ldap: {
        url: slapd.ldapUrl, ca: slapd.caFile, bindDn: SERVICE_DN, bindPassword: slapd.servicePassword,
        userSearchBase: `ou=people,${SUFFIX}`, userFilter: '(sAMAccountName={username})', groupAttribute: 'memberOf',
        roleMap: { [slapd.groupDn('pacs-radiologists')]: 'radiologist' },
      },
    },
  },
});
t.teardown(() => gw.stop());
{
  const raw = parse(readFileSync(gw.configFile, 'utf8')) as Record<string, unknown>;
  writeFileSync(gw.configFile, stringify({ ...raw, enrolment: { baseUrl: gw.url } }));
}
const usersFile = resolve(gw.config.baseDir, gw.config.users.file);

async function cli(args: string[]) {
  const r = await run(process.execPath, [GATEWAY_BIN, 'users', ...args, '--config', gw.configFile], { cwd: gw.dir, timeoutMs: 60_000 });
  await gw.gateway.reload();
  return r;
}

const added = await cli(['add', 'erin', '--source', 'ldap', '--json']);
if (added.code !== 0) throw new Error(`users add erin: ${added.stderr}${added.stdout}`);
const erin: TestUser = { username: 'erin', password: 'erin-Dir-pw-1', role: '', totpSecret: JSON.parse(added.stdout).totpSecret };

function fileIsValid(t: Test): void {
  let users: ReturnType<typeof readUsersFile> | undefined;
  t.doesNotThrow(() => { users = readUsersFile(usersFile); }, 'the users file still loads');
  t.equal(users?.get('erin')?.passwordHash, '', 'erin has no local password');
  t.equal(users?.get('erin')?.source, 'ldap');
}

t.test('/account: a directory user cannot set a local password (409), and the users file stays loadable', async (t) => {
  const token = await gw.login(erin);
  gw.clock.advance(30_000);
  const r = await gw.request('POST', '/account/password', {
    headers: { ...FORM, authorization: `Bearer ${token}` },
    body: new URLSearchParams({ current: erin.password, password: 'a brand new local pw 9', password2: 'a brand new local pw 9', totp: await gw.code(erin) }).toString(),
  });
  t.equal(r.status, 409, r.text.slice(0, 300));
  t.match(r.text, /directory/);
  t.match(gw.auditEvents('auth.account').at(-1), { decision: 'deny', reason: 'password-in-directory', principal: 'erin' });
  fileIsValid(t);
  const disable = await cli(['disable', 'erin']);
  t.equal(disable.code, 0, `users disable still works: ${disable.stderr}`);
  const session = await gw.request('GET', '/auth/session', { headers: { authorization: `Bearer ${token}` } });
  t.equal(session.status, 401, 'the session ended with the disable');
  const enable = await cli(['enable', 'erin']);
  t.equal(enable.code, 0, enable.stderr);
});

t.test('reset-totp --invite of a directory user: the link sets up the authenticator only; the directory password signs in after', async (t) => {
  const r = await cli(['reset-totp', 'erin', '--invite', '--json']);
  t.equal(r.code, 0, r.stderr);
  const path = new URL((JSON.parse(r.stdout) as { inviteUrl: string }).inviteUrl).pathname;
  const forced = await gw.request('POST', `${path}/password`, { headers: FORM, body: new URLSearchParams({ password: 'local pw for erin 42', password2: 'local pw for erin 42' }).toString() });
  t.equal(forced.status, 400, 'no local password can be chosen');
  fileIsValid(t);
  const page = await gw.request('GET', path);
  t.equal(page.status, 200);
  const m = /id="manual-key">([A-Z2-7 ]+)</.exec(page.text);
  t.ok(m, 'the link opens on the authenticator step');
  const secret = (m?.[1] ?? '').replace(/ /g, '');
  gw.clock.advance(30_000);
  const done = await gw.request('POST', `${path}/confirm`, { headers: FORM, body: `totp=${await oathtool(secret, { now: new Date(gw.clock()) })}` });
  t.equal(done.status, 303, done.text.slice(0, 300));
  fileIsValid(t);
  gw.clock.advance(30_000);
  const again = await gw.request('POST', '/auth/login', {
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'erin', password: erin.password, totp: await oathtool(secret, { now: new Date(gw.clock()) }) }),
  });
  t.equal(again.status, 200, again.text);
  t.match(again.json(), { username: 'erin', role: 'radiologist' });
});
