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
