// The `next` target after sign-in is a local path on this origin, never a way off it (open redirect).

import t from 'tap';
import { localNext } from '../../src/http/local-next.js';

t.test('open-redirect attempts fall back to /', async (t) => {
  const attacks = [
    '//evil.com', '//evil.com/viewer/', '///evil.com', '/\\evil.com', '\\\\evil.com', '/\\/evil.com',
    'https://evil.com', 'http://evil.com/viewer/', 'HTTPS://evil.com', 'javascript:alert(1)', 'data:text/html,x',
    'evil.com', 'viewer/', '%2F%2Fevil.com', '/%2F%2Fevil.com', '/%2fevil.com', '/viewer/%2F%2Fevil.com?x=1', '/?%0d%0a', '/%5Cevil.com', '/%5cevil.com',
    '/%09/evil.com', '/\t/evil.com', '/\n/evil.com', '/\r\n/evil.com', '/\x00/evil.com', '/\x7f', ' /viewer/',
    '/viewer/ x', '/ /evil.com', '/viewer\\..\\..', '/viewer/\\evil', `/${'a'.repeat(2100)}`, '', '/%00', '/%0d%0aSet-Cookie:x=1', '/%7F',
  ];
  for (const a of attacks) t.equal(localNext(a), '/', JSON.stringify(a));
  for (const a of [undefined, null, 42, ['/viewer/'], { next: '/viewer/' }]) t.equal(localNext(a), '/', `non-string ${JSON.stringify(a)}`);
});

t.test('local paths are kept as they are', async (t) => {
  for (const p of ['/', '/viewer/', '/viewer/viewer?StudyInstanceUIDs=1.2.3', '/viewer/viewer?StudyInstanceUIDs=1.2.3&a=%20b', '/account', '/viewer/assets/x.png#top', '/@evil.com', '/evil.com@x', '/viewer/?startDate=2026%2F12%2F01', '/viewer/#a%5Cb']) {
    t.equal(localNext(p), p, p);
  }
});
