// The pure parts of the directory login: escaping (RFC 4515 / 4514), account state (AD and OpenLDAP
// attribute values), group → role, the users.ldap config section and directory user records.

import t from 'tap';
import { buildConfig } from '../../src/config/load.js';
import { isGatewayError } from '../../src/errors.js';
import { accountProblem } from '../../src/identity/ldap/account-state.js';
import { bindNameFor, escapeDnValue, escapeFilterValue, userFilterFor } from '../../src/identity/ldap/ldap-escape.js';
import { roleFor } from '../../src/identity/ldap/role-map.js';
import { parseUserRecord } from '../../src/identity/user-record.js';

t.test('filter values: *, (, ), \\, NUL and non-ASCII become \\XX, so a username is always one value', async (t) => {
  t.equal(escapeFilterValue('*'), '\\2a');
  t.equal(escapeFilterValue('a)(uid=*'), 'a\\29\\28uid=\\2a');
  t.equal(escapeFilterValue('a\\b'), 'a\\5cb');
  t.equal(escapeFilterValue('a\u0000'), 'a\\00');
  t.equal(escapeFilterValue('jörg'), 'j\\c3\\b6rg');
  t.equal(escapeFilterValue('alice.smith@hospital'), 'alice.smith@hospital');
  t.equal(userFilterFor('(&(objectClass=user)(|(sAMAccountName={username})(userPrincipalName={username})))', '*'),
    '(&(objectClass=user)(|(sAMAccountName=\\2a)(userPrincipalName=\\2a)))');
});

t.test('DN values: , + " \\ < > ; = NUL, a leading # or space and a trailing space are escaped', async (t) => {
  t.equal(escapeDnValue('a,ou=x'), 'a\\2cou\\3dx');
  t.equal(escapeDnValue('#a '), '\\23a\\20');
  t.equal(escapeDnValue(' a'), '\\20a');
  t.equal(bindNameFor('uid={username},ou=People,dc=x', 'al+ice'), 'uid=al\\2bice,ou=People,dc=x');
  t.equal(bindNameFor('{username}@hospital.example', 'alice'), 'alice@hospital.example');
});

t.test('account state: AD userAccountControl and accountExpires, OpenLDAP pwdAccountLockedTime', async (t) => {
  const now = Date.UTC(2026, 0, 1);
  const filetime = (ms: number): string => String((BigInt(ms) + 11_644_473_600_000n) * 10_000n);
  t.equal(accountProblem({}, now), undefined);
  t.equal(accountProblem({ userAccountControl: '512' }, now), undefined, 'NORMAL_ACCOUNT');
  t.equal(accountProblem({ userAccountControl: '66048' }, now), undefined, 'NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD');
  t.equal(accountProblem({ userAccountControl: '514' }, now), 'directory-account-disabled');
  t.equal(accountProblem({ userAccountControl: ['66050'] }, now), 'directory-account-disabled');
  t.equal(accountProblem({ useraccountcontrol: Buffer.from('514') }, now), 'directory-account-disabled', 'any case, Buffer values');
  t.equal(accountProblem({ userAccountControl: '528' }, now), 'directory-account-locked', 'LOCKOUT');
  t.equal(accountProblem({ userAccountControl: 'garbage' }, now), 'directory-account-disabled', 'unreadable: fail closed');
  t.equal(accountProblem({ accountExpires: '0' }, now), undefined);
  t.equal(accountProblem({ accountExpires: '9223372036854775807' }, now), undefined);
  t.equal(accountProblem({ accountExpires: filetime(now - 1000) }, now), 'directory-account-expired');
  t.equal(accountProblem({ accountExpires: filetime(now + 60_000) }, now), undefined);
  t.equal(accountProblem({ accountExpires: '-5' }, now), 'directory-account-expired', 'unreadable: fail closed');
  t.equal(accountProblem({ pwdAccountLockedTime: '000001010000Z' }, now), 'directory-account-locked');
});

t.test('role: the first roleMap group held, compared without case or spaces; none → undefined', async (t) => {
  const map = { 'CN=PACS-Radiologists,OU=Groups,DC=h,DC=example': 'radiologist', 'cn=pacs-viewers,ou=groups,dc=h,dc=example': 'viewer' };
  t.equal(roleFor(['cn=pacs-viewers, ou=Groups, dc=h, dc=example', 'cn=pacs-radiologists,ou=groups,dc=h,dc=example'], map), 'radiologist');
  t.equal(roleFor(['CN=PACS-Viewers,OU=Groups,DC=h,DC=example'], map), 'viewer');
  t.equal(roleFor(['CN=Staff,OU=Groups,DC=h,DC=example'], map), undefined);
  t.equal(roleFor([], map), undefined);
});

function problems(users: unknown): string[] {
  try {
    buildConfig({ users, roles: { radiologist: ['echo'] } }, { env: { LDAP_PW: 'secret' } });
  } catch (err) {
    if (isGatewayError(err, 'ERR_CONFIG_INVALID')) return (err.detail?.['problems'] as string[] | undefined) ?? [err.message];
    throw err;
  }
  return [];
}

t.test('users.ldap in the config: required fields, TLS URLs, a {username} in the filter, known roles', async (t) => {
  const ok = {
    url: 'ldaps://dc1.hospital.example', ca: 'certs/ad-ca.pem', bindDn: 'CN=svc,DC=h', bindPassword: '${LDAP_PW}',
    userSearchBase: 'DC=h', userFilter: '(sAMAccountName={username})', groupAttribute: 'memberOf', roleMap: { 'CN=R,DC=h': 'radiologist' },
  };
  t.same(problems({ backend: 'ldap', ldap: ok }), []);
  t.equal(buildConfig({ users: { backend: 'ldap', ldap: ok }, roles: { radiologist: ['echo'] } }, { env: { LDAP_PW: 'secret' } }).users.ldap?.bindPassword, 'secret', 'bindPassword from the environment');
  t.same(problems({ backend: 'file', ldap: { ...ok, url: 'ldap://dc1:389' } }), [], 'ldap:// (StartTLS)');
  t.match(problems({ backend: 'ldap' }), [/users\.ldap: required with users\.backend: ldap/]);
  t.match(problems({ ldap: { ...ok, url: 'http://dc1' } }), [/users\.ldap\.url/]);
  t.match(problems({ ldap: { ...ok, userFilter: '(sAMAccountName=alice)' } }), [/users\.ldap\.userFilter/]);
  t.match(problems({ ldap: { ...ok, roleMap: { 'CN=R,DC=h': 'surgeon' } } }), [/roleMap: group "CN=R,DC=h" maps to role "surgeon"/]);
  const { bindPassword: _p, ...noPassword } = ok;
  t.match(problems({ ldap: noPassword }), [/users\.ldap\.bindPassword: required for a service account/]);
  t.same(problems({ ldap: { ...noPassword, bindDn: '{username}@hospital.example' } }), [], 'a UPN template needs no service password');
  t.match(problems({ ldap: { ...ok, bindDn: 'uid={username},ou=People,dc=h' } }), [/bindPassword: not used with a \{username\} bindDn template/]);
  t.match(problems({ ldap: { ...ok, roleMap: {} } }), [/users\.ldap\.roleMap/]);
});

t.test('a directory user record: source ldap, no password hash, role empty until the first login', async (t) => {
  const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
  t.match(parseUserRecord('alice', { source: 'ldap', totpSecret: secret }), { username: 'alice', source: 'ldap', role: '', passwordHash: '' });
  t.match(parseUserRecord('alice', { source: 'ldap', role: 'radiologist', passwordHash: '', totpSecret: secret }), { role: 'radiologist', source: 'ldap' });
  t.match(parseUserRecord('alice', { source: 'ldap', passwordHash: 'scrypt$1$1$1$a$b', totpSecret: secret }), /no local password/);
  t.match(parseUserRecord('alice', { source: 'kerberos', totpSecret: secret }), /source: must be ldap/);
  t.match(parseUserRecord('alice', { role: 'x', totpSecret: secret }), /passwordHash: must be an scrypt hash/, 'a local user still needs a hash');
});
