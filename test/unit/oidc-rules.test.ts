// The rules taken from an ID token (MFA, role, username) and the auth.oidc config checks.

import t from 'tap';
import { buildConfig } from '../../src/config/load.js';
import { mfaSatisfied, roleOf, usernameOf } from '../../src/identity/oidc/claims.js';

t.test('MFA: an accepted acr value or an accepted amr entry; nothing else', async (t) => {
  const rule = { acr: ['urn:loa:2'], amr: ['mfa', 'otp'] };
  t.ok(mfaSatisfied({ amr: ['pwd', 'otp'] }, rule));
  t.ok(mfaSatisfied({ acr: 'urn:loa:2' }, rule));
  t.notOk(mfaSatisfied({ amr: ['pwd'] }, rule));
  t.notOk(mfaSatisfied({ acr: 'urn:loa:1', amr: 'mfa' }, rule), 'amr must be a list');
  t.notOk(mfaSatisfied({}, rule));
  t.notOk(mfaSatisfied({ acr: ['urn:loa:2'] }, rule), 'acr must be a string');
  t.notOk(mfaSatisfied({ amr: ['mfa'] }, { acr: ['urn:loa:2'] }), 'amr not accepted when only acr is configured');
});

t.test('roles: the first roleMap entry the user holds; none → refused, never a default', async (t) => {
  const map = { admins: 'admin', rads: 'radiologist', everyone: 'viewer' };
  t.match(roleOf({ groups: ['everyone', 'rads'] }, 'groups', map), { ok: true, role: 'radiologist', value: 'rads' });
  t.match(roleOf({ groups: 'everyone' }, 'groups', map), { ok: true, role: 'viewer' });
  t.match(roleOf({ groups: ['kitchen'] }, 'groups', map), { ok: false, values: ['kitchen'] });
  t.match(roleOf({}, 'groups', map), { ok: false, values: [] });
  t.match(roleOf({ groups: ['toString', '__proto__'] }, 'groups', map), { ok: false }, 'no prototype keys');
});

t.test('username: the claim, lower-cased, must be a valid gateway username', async (t) => {
  t.equal(usernameOf({ preferred_username: 'Alice' }, 'preferred_username'), 'alice');
  t.equal(usernameOf({ email: 'a.b@hospital.example' }, 'email'), 'a.b@hospital.example');
  t.equal(usernameOf({ preferred_username: 'alice smith' }, 'preferred_username'), undefined);
  t.equal(usernameOf({ sub: 42 }, 'sub'), undefined);
});

t.test('auth config: checked at load', async (t) => {
  const oidc = { issuer: 'https://idp.example', clientId: 'gw', clientSecret: 'x'.repeat(32), redirectUrl: 'https://gw.example/auth/oidc/callback', requireMfa: { amr: ['mfa'] }, roleClaim: 'groups', roleMap: { g: 'viewer' } };
  t.equal(buildConfig({}).auth.local, true, 'auth.local defaults to true');
  t.ok(buildConfig({ auth: { oidc } }).auth.oidc);
  t.throws(() => buildConfig({ auth: { local: false } }), /auth\.local: false needs auth\.oidc/);
  t.throws(() => buildConfig({ auth: { oidc: { ...oidc, requireMfa: {} } } }), /auth\.oidc\.requireMfa/);
  t.throws(() => buildConfig({ auth: { oidc: { ...oidc, roleMap: { g: 'nosuchrole' } } } }), /auth\.oidc\.roleMap\.g: no such role/);
  t.throws(() => buildConfig({ auth: { oidc: { ...oidc, scopes: ['profile'] } } }), /must include openid/);
  t.throws(() => buildConfig({ auth: { oidc: { ...oidc, redirectUrl: 'https://gw.example/elsewhere' } } }), /redirectUrl/);
  t.throws(() => buildConfig({ auth: { oidc: { ...oidc, issuer: 'http://idp.example' } } }), /issuer/);
  const { clientSecret: _secret, ...noSecret } = oidc;
  t.throws(() => buildConfig({ auth: { oidc: noSecret } }), /give either clientSecret .* or privateKeyJwt/);
  t.throws(() => buildConfig({ auth: { oidc: { ...oidc, privateKeyJwt: { key: 'k.pem' } } } }), /not both/);
  t.ok(buildConfig({ auth: { oidc: { ...noSecret, privateKeyJwt: { key: 'k.pem', kid: 'gw-1' } } } }).auth.oidc?.privateKeyJwt, 'private_key_jwt instead of a secret');
  const fromEnv = buildConfig({ auth: { oidc: { ...oidc, clientSecret: '${OIDC_SECRET}' } } }, { env: { OIDC_SECRET: 'from-the-environment-0123' } });
  t.equal(fromEnv.auth.oidc?.clientSecret, 'from-the-environment-0123', 'the secret from the environment');
});
