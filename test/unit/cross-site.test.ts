// The cross-site decision (src/http/cross-site.ts) over every combination a browser or a non-browser client sends.

import t from 'tap';
import { crossSiteReason, requestSiteOf } from '../../src/http/cross-site.js';

t.test('Sec-Fetch-Site decides when present; else Origin against https:// + Host; neither: not a browser', async (t) => {
  const host = 'pacs-gw.example:8443';
  const cases: [string | undefined, string | undefined, string | undefined, boolean][] = [
    // fetchSite, origin, host, refused
    ['same-origin', `https://${host}`, host, false],
    ['same-origin', undefined, host, false],
    ['none', undefined, host, false],
    ['same-site', `https://other.example:8443`, host, true],
    ['cross-site', 'https://evil.example', host, true],
    ['cross-site', `https://${host}`, host, true],
    ['SAME-ORIGIN'.toLowerCase(), undefined, host, false],
    ['garbage', undefined, host, true],
    [undefined, `https://${host}`, host, false],
    [undefined, `https://PACS-GW.example:8443`, host, false],
    [undefined, `http://${host}`, host, true],
    [undefined, 'https://pacs-gw.example', host, true],
    [undefined, 'null', host, true],
    [undefined, `https://${host}`, undefined, true],
    [undefined, `https://${host}, https://evil.example`, host, true],
    [undefined, undefined, host, false],
    [undefined, undefined, undefined, false],
  ];
  for (const [fetchSite, origin, h, refused] of cases) {
    const why = crossSiteReason({ fetchSite, origin, host: h });
    t.equal(why !== undefined, refused, `Sec-Fetch-Site ${String(fetchSite)}, Origin ${String(origin)}, Host ${String(h)}: ${why ?? 'allowed'}`);
  }
  t.match(crossSiteReason({ fetchSite: 'cross-site', origin: undefined, host }), /^Sec-Fetch-Site: cross-site$/, 'the reason names the field');
  t.match(crossSiteReason({ fetchSite: undefined, origin: 'https://evil.example', host }), /^Origin: https:\/\/evil\.example$/);
});

t.test('requestSiteOf reads the parsed head (lower-case names)', async (t) => {
  t.same(requestSiteOf([['host', 'gw'], ['sec-fetch-site', 'Same-Origin'], ['origin', 'https://gw'], ['accept', '*/*']]), { fetchSite: 'same-origin', origin: 'https://gw', host: 'gw' });
  t.same(requestSiteOf([['host', 'gw']]), { fetchSite: undefined, origin: undefined, host: 'gw' });
});
