// Unit tests for passwords (scrypt, strength), TOTP (against oathtool), cookies and the policy decision.

import t from 'tap';
import { readCookie, sessionCookie } from '../../src/http/cookies.js';
import { checkPasswordStrength, hashPassword, SCRYPT_PARAMS, verifyPassword } from '../../src/identity/password.js';
import { generateTotpSecret, matchTotp, totpUri } from '../../src/identity/totp.js';
import { authorize } from '../../src/policy/authorize.js';
import type { Principal } from '../../src/identity/principal.js';
import { oathtool } from '../helpers/tools.js';

t.test('scrypt hashes: salted, ASVS parameters, verify', async (t) => {
  const a = await hashPassword('Correct-Horse-42');
  const b = await hashPassword('Correct-Horse-42');
  t.not(a, b, 'salted');
  t.match(a, new RegExp(`^scrypt\\$${2 ** 17}\\$8\\$1\\$`));
  t.ok(SCRYPT_PARAMS.N >= 2 ** 17 && SCRYPT_PARAMS.r === 8 && SCRYPT_PARAMS.p === 1);
  t.equal(await verifyPassword('Correct-Horse-42', a), true);
  t.equal(await verifyPassword('Correct-Horse-43', a), false);
  t.equal(await verifyPassword('x', 'garbage'), false);
  t.equal(await verifyPassword('x', 'scrypt$1$8$1$aa$bb'), false, 'malformed hashes never verify');
});

t.test('password strength', async (t) => {
  t.throws(() => checkPasswordStrength('short7!'), { code: 'ERR_PASSWORD_WEAK', message: /at least 8/ });
  t.throws(() => checkPasswordStrength('password1'), { code: 'ERR_PASSWORD_WEAK', message: /common/ });
  t.throws(() => checkPasswordStrength('Password123'), { code: 'ERR_PASSWORD_WEAK' });
  t.throws(() => checkPasswordStrength('alice-is-great', 'alice'), { code: 'ERR_PASSWORD_WEAK', message: /username/ });
  t.doesNotThrow(() => checkPasswordStrength('Correct-Horse-42', 'alice'));
});

t.test('TOTP secrets and codes agree with oathtool', async (t) => {
  const secret = generateTotpSecret();
  t.match(secret, /^[A-Z2-7]{32}$/, '160 bits in base32');
  t.not(secret, generateTotpSecret());
  t.match(totpUri(secret, 'alice'), /^otpauth:\/\/totp\/pacs-gateway:alice\?secret=[A-Z2-7]{32}&issuer=pacs-gateway/);
  const now = Date.UTC(2026, 10, 29, 12, 0, 10);
  const code = await oathtool(secret, { now: new Date(now) });
  const step = Math.floor(now / 30_000);
  t.equal(await matchTotp(secret, code, now), step);
  t.equal(await matchTotp(secret, code, now + 30_000), step, 'next step still accepts it');
  t.equal(await matchTotp(secret, code, now - 30_000), step, 'previous step too (clock skew)');
  t.equal(await matchTotp(secret, code, now + 60_000), null, 'two steps later it is refused');
  t.equal(await matchTotp(secret, '12345', now), null);
  t.equal(await matchTotp(secret, 'abcdef', now), null);
});

t.test('cookies', async (t) => {
  t.equal(readCookie('a=1; __Host-s=tok; b=2', '__Host-s'), 'tok');
  t.equal(readCookie('__Host-s=one; __Host-s=two', '__Host-s'), undefined, 'ambiguous duplicates are ignored');
  t.equal(readCookie(undefined, 'x'), undefined);
  t.equal(sessionCookie('__Host-s', 'v', 60), '__Host-s=v; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=60');
});

t.test('authorize', async (t) => {
  const roles = {
    viewer: { actions: ['search', 'retrieve'] as const, moveDestinations: [], storeSopClasses: [] },
    mover: { actions: ['move'] as const, moveDestinations: ['WS1'], storeSopClasses: [] },
    ct: { actions: ['store'] as const, moveDestinations: [], storeSopClasses: ['1.2.840.10008.5.1.4.1.1.2'] },
  };
  const p = (role: string, extra: Partial<Principal> = {}): Principal => ({ id: 'x', kind: 'user', role, method: 'bearer-token', ...extra });
  t.match(authorize(roles, p('viewer'), { action: 'search' }), { allowed: true });
  t.match(authorize(roles, p('viewer'), { action: 'store' }), { allowed: false, reason: 'role-lacks-action' });
  t.match(authorize(roles, p('nobody'), { action: 'search' }), { allowed: false, reason: 'role-unknown' });
  t.match(authorize(roles, p('toString'), { action: 'search' }), { allowed: false, reason: 'role-unknown' }, 'prototype names are not roles');
  t.match(authorize(roles, p('mover'), { action: 'move', moveDestination: 'WS1' }), { allowed: true });
  t.match(authorize(roles, p('mover'), { action: 'move', moveDestination: 'EVIL' }), { allowed: false, reason: 'move-destination-not-allowed' });
  t.match(authorize(roles, p('mover', { moveDestinations: ['DEV2'] }), { action: 'move', moveDestination: 'DEV2' }), { allowed: true }, 'device allow-list');
  t.match(authorize(roles, p('ct'), { action: 'store', sopClassUid: '1.2.840.10008.5.1.4.1.1.2' }), { allowed: true });
  t.match(authorize(roles, p('ct'), { action: 'store', sopClassUid: '1.2.840.10008.5.1.4.1.1.4' }), { allowed: false, reason: 'sop-class-not-allowed' });
  t.match(authorize(roles, p('ct'), { action: 'store' }), { allowed: false }, 'unknown SOP class under a SOP-class limit is refused');
});
