// Directory and local users side by side on the Redis backend (users.backend: redis with users.ldap and
// per-user source: ldap): the TOTP secret of a directory user lives in Redis, a local user keeps a
// local password, and a change of groups in the directory (ldapmodify) changes the role at the next login.

import { join } from 'node:path';
import t from 'tap';
import { openRedisUserDirectory } from '../../src/cli/redis-users.js';
import { startGateway, type TestUser } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis.js';
import { SERVICE_DN, startSlapd, SUFFIX } from '../helpers/slapd.js';
import { run } from '../helpers/tools.js';

const BIN = join(process.cwd(), 'bin/pacs-gateway.js');

const slapd = await startSlapd([
  { name: 'erin', password: 'erin-Dir-pw-1', groups: ['pacs-radiologists'] },
  { name: 'lena', password: 'lena-Dir-pw-1', groups: ['pacs-radiologists'] },
]);
t.teardown(() => slapd.destroy());
const redis = await startRedis();
t.teardown(() => redis.destroy());

const gw = await startGateway({
  redis,
  config: {
    users: {
      ldap: {
        url: slapd.ldapUrl, ca: slapd.caFile, bindDn: SERVICE_DN, bindPassword: slapd.servicePassword,
        userSearchBase: `ou=people,${SUFFIX}`, userFilter: '(sAMAccountName={username})', groupAttribute: 'memberOf',
        roleMap: { [slapd.groupDn('pacs-radiologists')]: 'radiologist', [slapd.groupDn('pacs-viewers')]: 'viewer' },
      },
    },
  },
});
t.teardown(() => gw.stop());

async function login(user: TestUser) {
  gw.clock.advance(30_000);
  return gw.request('POST', '/auth/login', {
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: user.username, password: user.password, totp: await gw.code(user) }),
  });
}

t.test('a directory user enrolled into Redis and a local user log in side by side', async (t) => {
  const r = await run(process.execPath, [BIN, 'users', 'add', 'erin', '--source', 'ldap', '--json', '--config', 'gateway.yaml'], { cwd: gw.dir });
  t.equal(r.code, 0, r.stderr);
  const erin: TestUser = { username: 'erin', password: 'erin-Dir-pw-1', role: '', totpSecret: JSON.parse(r.stdout).totpSecret };
  const users = await openRedisUserDirectory(gw.config);
  t.match(await users.get('erin'), { source: 'ldap', passwordHash: '', totpSecret: erin.totpSecret }, 'the TOTP secret is in Redis, no password');
  await users.close();
  // lena is in the directory too, but a local user of that name keeps the local password.
  const lena = await gw.addUser('lena', 'technologist', 'lena-Local-pw-9');

  const first = await login(erin);
  t.equal(first.status, 200, first.text);
  t.match(first.json(), { role: 'radiologist' });
  const bindsBefore = slapd.binds(slapd.userDn('lena'));
  t.equal((await login(lena)).status, 200, 'a local user: the local password');
  t.equal((await login({ ...lena, password: 'lena-Dir-pw-1' })).status, 401, 'not the directory password');
  t.equal(slapd.binds(slapd.userDn('lena')), bindsBefore, 'a local user never reaches the directory');

  const setPassword = await run(process.execPath, [BIN, 'users', 'set-password', 'erin', '--password-stdin', '--config', 'gateway.yaml'], { cwd: gw.dir, input: 'Another-pw-123\n' });
  t.equal(setPassword.code, 2, 'set-password is refused for a directory user');
  t.match(setPassword.stderr + setPassword.stdout, /directory user/);

  // The directory moves erin from the radiologists to the viewers: the next login carries the new role
  // (kept on her record in Redis, where every request reads it).
  await slapd.modify(`dn: ${slapd.userDn('erin')}\nchangetype: modify\nreplace: memberOf\nmemberOf: ${slapd.groupDn('pacs-viewers')}\n`);
  const second = await login(erin);
  t.equal(second.status, 200, second.text);
  t.match(second.json(), { role: 'viewer' });
  const now = await gw.request('GET', '/auth/session', { headers: { authorization: `Bearer ${second.json().token}` } });
  t.match(now.json(), { principal: 'erin', role: 'viewer' });
  const stored = await openRedisUserDirectory(gw.config);
  t.match(await stored.get('erin'), { role: 'viewer' });
  await stored.close();

  // Out of every mapped group: refused.
  await slapd.modify(`dn: ${slapd.userDn('erin')}\nchangetype: modify\ndelete: memberOf\n`);
  const third = await login(erin);
  t.equal(third.status, 401);
  t.match(gw.auditEvents('auth.login').at(-1), { decision: 'deny', principal: 'erin', reason: 'no-mapped-group' });
});
