// The stored user record's optional calling AE titles, as both user directories read them.

import t from 'tap';
import { parseUserRecord } from '../../src/identity/user-record.js';

const base = { role: 'viewer', passwordHash: 'scrypt$131072$8$1$c2FsdA$a2V5', totpSecret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' };

t.test('aeTitles: optional list of AE titles', async (t) => {
  const without = parseUserRecord('rita', base);
  t.equal(typeof without === 'string' ? without : without.aeTitles, undefined, 'absent: any calling AE title');
  const withAe = parseUserRecord('rita', { ...base, aeTitles: ['WS-RITA', 'WS 2'] });
  t.same(typeof withAe === 'string' ? withAe : withAe.aeTitles, ['WS-RITA', 'WS 2']);
  for (const bad of ['WS-RITA', ['SEVENTEEN-CHARS-X'], ['A\\B'], [' PAD'], [''], [5]]) {
    t.match(parseUserRecord('rita', { ...base, aeTitles: bad }), /^users\.rita\.aeTitles: must be a list of AE titles/, JSON.stringify(bad));
  }
});

t.test('pending users and their invite', async (t) => {
  const invite = { tokenHash: 'a'.repeat(64), expiresAt: '2026-12-10T00:00:00.000Z' };
  const pending = parseUserRecord('nora', { ...base, passwordHash: '', pending: true, invite });
  t.match(pending, { pending: true, passwordHash: '', invite }, 'a pending user may have no password yet');
  t.match(parseUserRecord('nora', { ...base, passwordHash: '' }), /passwordHash: must be an scrypt hash/, 'an active user may not');
  t.match(parseUserRecord('nora', { ...base, pending: 'yes' }), /pending: must be true or false/);
  t.match(parseUserRecord('nora', { ...base, pending: true, invite: { ...invite, tokenHash: 'not-hex' } }), /invite\.tokenHash: must be a SHA-256/);
  t.match(parseUserRecord('nora', { ...base, pending: true, invite: { ...invite, expiresAt: 'soon' } }), /invite\.expiresAt: must be a date/);
  const used = parseUserRecord('nora', { ...base, invite: { ...invite, passwordChosen: true, revoked: true } });
  t.match(used, { invite: { passwordChosen: true, revoked: true } });
  t.equal(typeof used === 'string' ? 'x' : used.pending, undefined, 'not pending once enrolled');
});
