// The directory password check against a real OpenLDAP slapd (TLS with a generated CA): roles from groups,
// disabled / expired / locked accounts, injection in the username, StartTLS, a wrong CA, a directory that is down.

import t from 'tap';
import { isGatewayError } from '../../src/errors.js';
import { LdapDirectory } from '../../src/identity/ldap/ldap-directory.js';
import { createCa } from '../../src/tls/issue.js';
import { SERVICE_DN, startSlapd, SUFFIX } from '../helpers/slapd.js';

/** FILETIME (100 ns since 1601) of a moment. */
const filetime = (ms: number): string => String((BigInt(ms) + 11_644_473_600_000n) * 10_000n);

const slapd = await startSlapd([
  { name: 'alice', password: 'alice-Dir-pw-1', groups: ['pacs-radiologists', 'staff'], userAccountControl: 512, accountExpires: '0' },
  { name: 'victor', password: 'victor-Dir-pw-1', groups: ['staff', 'pacs-viewers'] },
  { name: 'bob', password: 'bob-Dir-pw-1', groups: ['pacs-radiologists'], userAccountControl: 514 },
  { name: 'dave', password: 'dave-Dir-pw-1', groups: ['pacs-radiologists'], accountExpires: filetime(Date.now() - 86_400_000) },
  { name: 'fiona', password: 'fiona-Dir-pw-1', groups: ['pacs-radiologists'], accountExpires: filetime(Date.now() + 86_400_000) },
  { name: 'erin', password: 'erin-Dir-pw-1', groups: ['pacs-radiologists'], pwdAccountLockedTime: '000001010000Z' },
  { name: 'carol', password: 'carol-Dir-pw-1', groups: ['staff'] },
]);
t.teardown(() => slapd.destroy());

const base = {
  url: slapd.ldapsUrl, ca: slapd.caFile, caPem: slapd.caPem, bindDn: SERVICE_DN, bindPassword: slapd.servicePassword,
  userSearchBase: `ou=people,${SUFFIX}`, userFilter: '(&(objectClass=user)(sAMAccountName={username}))', groupAttribute: 'memberOf',
  roleMap: { [`CN=pacs-radiologists, OU=groups, ${SUFFIX.toUpperCase()}`]: 'radiologist', [slapd.groupDn('pacs-viewers')]: 'viewer' },
};

t.test('search-then-bind over ldaps://: the right password gives the role of the first mapped group', async (t) => {
  const dir = new LdapDirectory(base);
  t.match(await dir.authenticate('alice', 'alice-Dir-pw-1'), { ok: true, role: 'radiologist', dn: slapd.userDn('alice') });
  t.match(await dir.authenticate('victor', 'victor-Dir-pw-1'), { ok: true, role: 'viewer' });
  t.match(await dir.authenticate('fiona', 'fiona-Dir-pw-1'), { ok: true, role: 'radiologist' }, 'accountExpires in the future');
  await dir.ping();
});

t.test('refusals: wrong password, no such user, disabled, expired, locked, no mapped group', async (t) => {
  const dir = new LdapDirectory(base);
  t.same(await dir.authenticate('alice', 'wrong-password'), { ok: false, reason: 'wrong-password' });
  t.same(await dir.authenticate('alice', ''), { ok: false, reason: 'wrong-password' }, 'an empty password is never sent (unauthenticated bind)');
  t.same(await dir.authenticate('nobody', 'x-Dir-pw-1'), { ok: false, reason: 'directory-unknown-user' });
  t.same(await dir.authenticate('bob', 'bob-Dir-pw-1'), { ok: false, reason: 'directory-account-disabled' });
  t.same(await dir.authenticate('dave', 'dave-Dir-pw-1'), { ok: false, reason: 'directory-account-expired' });
  t.same(await dir.authenticate('erin', 'erin-Dir-pw-1'), { ok: false, reason: 'directory-account-locked' });
  t.same(await dir.authenticate('carol', 'carol-Dir-pw-1'), { ok: false, reason: 'no-mapped-group' });
});

t.test('LDAP injection in the username: escaped, so it matches no entry and binds as nobody', async (t) => {
  const dir = new LdapDirectory(base);
  const bindsBefore = slapd.binds(slapd.userDn('alice'));
  for (const name of ['*', 'al*', 'alice)(sAMAccountName=*', '*)(|(sAMAccountName=*', 'alice\u0000', 'alice)(|(objectClass=*)']) {
    t.same(await dir.authenticate(name, 'alice-Dir-pw-1'), { ok: false, reason: 'directory-unknown-user' }, JSON.stringify(name));
  }
  t.equal(slapd.binds(slapd.userDn('alice')), bindsBefore, 'no bind as alice was attempted');
  t.match(slapd.log(), /filter="\(&\(objectClass=user\)\(sAMAccountName=\\2A\)\)"/, 'slapd received the star as an escaped value');
});

t.test('StartTLS on ldap:// with the CA pinned; the password never travels before TLS', async (t) => {
  const dir = new LdapDirectory({ ...base, url: slapd.ldapUrl });
  t.match(await dir.authenticate('alice', 'alice-Dir-pw-1'), { ok: true, role: 'radiologist' });
  t.match(slapd.log(), /EXT oid=1\.3\.6\.1\.4\.1\.1466\.20037/, 'StartTLS was negotiated');
});

t.test('a bind-DN template (no service account): the user binds as cn={username},… and reads their own entry', async (t) => {
  const { bindPassword: _omit, ...rest } = base;
  const dir = new LdapDirectory({ ...rest, bindDn: `cn={username},ou=people,${SUFFIX}` });
  t.match(await dir.authenticate('alice', 'alice-Dir-pw-1'), { ok: true, role: 'radiologist' });
  t.same(await dir.authenticate('alice', 'nope-nope-nope'), { ok: false, reason: 'wrong-password' });
  t.same(await dir.authenticate('bob', 'bob-Dir-pw-1'), { ok: false, reason: 'directory-account-disabled' });
  t.same(await dir.authenticate('carol', 'carol-Dir-pw-1'), { ok: false, reason: 'no-mapped-group' });
  const binds = slapd.binds();
  t.same(await dir.authenticate('alice,ou=people', 'alice-Dir-pw-1'), { ok: false, reason: 'wrong-password' }, 'a comma is escaped in the DN');
  t.equal(slapd.binds(), binds + 1);
  t.match(slapd.log(), /BIND dn="cn=alice\\2Cou\\3Dpeople,ou=people,dc=hospital,dc=test"/);
});

t.test('a certificate from another CA, a wrong service password, a stopped directory: ERR_DIRECTORY_UNAVAILABLE', async (t) => {
  const other = createCa({ commonName: 'not the directory CA' });
  const wrongCa = new LdapDirectory({ ...base, caPem: other.certPem });
  const tlsErr = await wrongCa.authenticate('alice', 'alice-Dir-pw-1').catch((e: unknown) => e);
  t.ok(isGatewayError(tlsErr, 'ERR_DIRECTORY_UNAVAILABLE'));
  t.match((tlsErr as Error).message, /SELF_SIGNED|UNABLE_TO_VERIFY|unable to verify/i);
  await t.rejects(wrongCa.ping(), { code: 'ERR_DIRECTORY_UNAVAILABLE' });
  const badService = new LdapDirectory({ ...base, bindPassword: 'not-the-service-password' });
  await t.rejects(badService.authenticate('alice', 'alice-Dir-pw-1'), { code: 'ERR_DIRECTORY_UNAVAILABLE', message: /refused the service account/ });
  // A directory that hangs: refused after timeoutMs, not left waiting.
  await slapd.pause();
  const hung = await new LdapDirectory({ ...base, timeoutMs: 300 }).authenticate('alice', 'alice-Dir-pw-1').catch((e: unknown) => e);
  slapd.resume();
  t.ok(isGatewayError(hung, 'ERR_DIRECTORY_UNAVAILABLE'), 'a hung directory is unavailable', { hung });
  t.match((hung as Error).message, /time(d )?out/i);
  await slapd.stop();
  t.teardown(() => slapd.restart());
  const dir = new LdapDirectory(base);
  const err = await dir.authenticate('alice', 'alice-Dir-pw-1').catch((e: unknown) => e);
  t.ok(isGatewayError(err, 'ERR_DIRECTORY_UNAVAILABLE'));
  t.match((err as Error).message, /ECONNREFUSED/);
  t.notMatch((err as Error).message, /alice-Dir-pw-1/);
});
