// Cross-site request forgery, with raw requests: the state-changing endpoints (POST /auth/*, DELETE
// /auth/dimse-token/*, DICOMweb STOW and DELETE) refuse what a browser marks as cross-site (Sec-Fetch-Site,
// else an Origin that is not the gateway's own); clients that send neither (curl, API clients) are
// not affected. Also: an empty JSON body on POST /auth/dimse-token, and a request id on the audit
// events of every HTTP exchange. The attack from a real browser is in browser-csrf.test.ts.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { startGateway } from '../helpers/gateway.js';

const json = { 'content-type': 'application/json' };

t.test('cross-site requests that change state are refused; same-origin and non-browser ones are not', async (t) => {
  const seen: string[] = [];
  const pacs = createServer((req, res) => { seen.push(`${String(req.method)} ${String(req.url)}`); req.resume(); req.on('end', () => res.end('{}')); });
  await new Promise<void>((r) => pacs.listen(0, '127.0.0.1', r));
  t.teardown(() => { pacs.closeAllConnections(); pacs.close(); });
  const base = `http://127.0.0.1:${(pacs.address() as AddressInfo).port}`;
  const gw = await startGateway({ orthanc: { dicomwebUrl: `${base}/dicom-web`, wadoUrl: `${base}/wado`, dicomPort: 9, aeTitle: 'PACS' } });
  t.teardown(() => gw.stop());
  const self = `https://127.0.0.1:${gw.httpsPort}`;
  const ada = await gw.addUser('ada', 'admin');
  const loginBody = async (): Promise<string> => { gw.clock.advance(30_000); return JSON.stringify({ username: 'ada', password: ada.password, totp: await gw.code(ada) }); };
  const cookieOf = (r: { headers: Record<string, string | string[] | undefined> }): string => String(r.headers['set-cookie']).split(';')[0] as string;

  const crossSite: Record<string, Record<string, string>> = {
    'Sec-Fetch-Site: cross-site': { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
    'Sec-Fetch-Site: same-site (another origin of the same site)': { 'sec-fetch-site': 'same-site', origin: 'https://127.0.0.1:1' },
    'Origin of another site, no Sec-Fetch-Site': { origin: 'https://evil.example' },
    'Origin of another port, no Sec-Fetch-Site': { origin: 'https://127.0.0.1:1' },
    'Origin: null (sandboxed page)': { origin: 'null' },
    'Origin over http': { origin: `http://127.0.0.1:${gw.httpsPort}` },
    'Sec-Fetch-Site: cross-site without Origin': { 'sec-fetch-site': 'cross-site' },
    'Sec-Fetch-Site: same-site without Origin': { 'sec-fetch-site': 'same-site' },
    'Sec-Fetch-Site: cross-site with the gateway\'s own Origin': { 'sec-fetch-site': 'cross-site', origin: `https://127.0.0.1:${gw.httpsPort}` },
    'Origin: null with Sec-Fetch-Site: cross-site (sandboxed frame)': { 'sec-fetch-site': 'cross-site', origin: 'null' },
    'Origin with the gateway\'s host as a prefix': { origin: `https://127.0.0.1:${gw.httpsPort}.evil.example` },
    'Sec-Fetch-Site in upper case': { 'sec-fetch-site': 'CROSS-SITE' },
  };

  await t.test('login CSRF: POST /auth/login', async (t) => {
    for (const [name, headers] of Object.entries(crossSite)) {
      const r = await gw.request('POST', '/auth/login', { headers: { ...json, ...headers }, body: await loginBody() });
      t.equal(r.status, 403, `${name}: 403`);
      t.equal(r.json().error, 'ERR_CROSS_SITE', name);
      t.equal(r.headers['set-cookie'], undefined, `${name}: no session cookie`);
    }
    const events = gw.auditEvents('auth.login').filter((e) => e.reason === 'cross-site-request');
    t.equal(events.length, Object.keys(crossSite).length, 'one auth.login deny event per refusal');
    t.match(events[0], { decision: 'deny', source: '127.0.0.1', httpMethod: 'POST', path: '/auth/login', fetchSite: 'cross-site', origin: 'https://evil.example' });
    t.equal(gw.auditEvents('auth.login').filter((e) => e.reason === 'password-and-totp-valid').length, 0, 'the credentials were never checked');

    const form = await gw.request('POST', '/auth/login', {
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
      body: new URLSearchParams(JSON.parse(await loginBody()) as Record<string, string>).toString(),
    });
    t.equal(form.status, 403, 'a cross-site form post: 403');
    t.equal(form.headers['set-cookie'], undefined);

    const sameOrigin: Record<string, Record<string, string>> = { 'same-origin (Sec-Fetch-Site)': { 'sec-fetch-site': 'same-origin', origin: self }, 'the gateway\'s own Origin': { origin: self }, 'user-initiated (Sec-Fetch-Site: none)': { 'sec-fetch-site': 'none' }, 'no browser headers (curl)': {} };
    for (const [name, headers] of Object.entries(sameOrigin)) {
      const r = await gw.request('POST', '/auth/login', { headers: { ...json, ...headers }, body: await loginBody() });
      t.equal(r.status, 200, `${name}: logged in`);
    }
  });

  await t.test('POST /auth/logout, POST /auth/dimse-token, DELETE /auth/dimse-token/{id}', async (t) => {
    const login = await gw.request('POST', '/auth/login', { headers: json, body: await loginBody() });
    const cookie = cookieOf(login);
    const token = login.json().token as string;
    const issued = await gw.request('POST', '/auth/dimse-token', { headers: { authorization: `Bearer ${token}` } });
    t.equal(issued.status, 200);
    const tokenId = issued.json().tokenId as string;
    for (const [name, headers] of Object.entries(crossSite)) {
      const out = await gw.request('POST', '/auth/logout', { headers: { cookie, ...headers } });
      t.equal(out.status, 403, `logout, ${name}: 403`);
      t.equal(out.headers['set-cookie'], undefined, `logout, ${name}: the cookie is not cleared`);
      t.equal((await gw.request('POST', '/auth/dimse-token', { headers: { cookie, ...headers } })).status, 403, `dimse-token, ${name}: 403`);
      t.equal((await gw.request('DELETE', `/auth/dimse-token/${tokenId}`, { headers: { cookie, ...headers } })).status, 403, `revoke, ${name}: 403`);
    }
    t.equal((await gw.request('GET', '/auth/session', { headers: { cookie } })).status, 200, 'the session is still alive');
    t.equal(gw.auditEvents('auth.logout').filter((e) => e.reason === 'cross-site-request').length, Object.keys(crossSite).length, 'auth.logout deny events');
    t.equal(gw.auditEvents('auth.token').filter((e) => e.reason === 'cross-site-request').length, 2 * Object.keys(crossSite).length, 'auth.token deny events');
    t.equal((await gw.request('DELETE', `/auth/dimse-token/${tokenId}`, { headers: { cookie, 'sec-fetch-site': 'same-origin' } })).json().revoked, true, 'same-origin: revoked');
    t.equal((await gw.request('POST', '/auth/logout', { headers: { authorization: `Bearer ${token}` } })).status, 200, 'an API client logs out');
  });

  await t.test('DICOMweb STOW and DELETE', async (t) => {
    const login = await gw.request('POST', '/auth/login', { headers: json, body: await loginBody() });
    const cookie = cookieOf(login);
    const token = login.json().token as string;
    const stow = { 'content-type': 'multipart/related; type="application/dicom"; boundary=x' };
    const before = seen.length;
    for (const [name, headers] of Object.entries(crossSite)) {
      for (const auth of [{ cookie }, { authorization: `Bearer ${token}` }] as Record<string, string>[]) {
        const post = await gw.request('POST', '/dicom-web/studies', { headers: { ...stow, ...auth, ...headers }, body: '--x--\r\n' });
        t.equal(post.status, 403, `STOW, ${name}, ${Object.keys(auth)[0]}: 403`);
        t.equal(post.json().error, 'ERR_CROSS_SITE');
        const del = await gw.request('DELETE', '/dicom-web/studies/1.2.3', { headers: { ...auth, ...headers } });
        t.equal(del.status, 403, `DELETE, ${name}, ${Object.keys(auth)[0]}: 403`);
      }
    }
    t.same(seen.slice(before), [], 'none of them reached the PACS');
    const denied = gw.auditEvents('authz.http').filter((e) => e.reason === 'cross-site-request');
    t.equal(denied.length, 4 * Object.keys(crossSite).length, 'one authz.http deny event each');
    t.match(denied[0], { decision: 'deny', httpMethod: 'POST', action: 'store', fetchSite: 'cross-site', origin: 'https://evil.example' });

    const read = await gw.request('GET', '/dicom-web/studies', { headers: { cookie, 'sec-fetch-site': 'cross-site' } });
    t.equal(read.status, 200, 'a cross-site read is not refused here (SameSite=Strict keeps the cookie off it in a browser)');
    t.equal((await gw.request('POST', '/dicom-web/studies', { headers: { ...stow, cookie, 'sec-fetch-site': 'same-origin', origin: self }, body: '--x--\r\n' })).status, 200, 'same-origin STOW');
    t.equal((await gw.request('POST', '/dicom-web/studies', { headers: { ...stow, authorization: `Bearer ${token}` }, body: '--x--\r\n' })).status, 200, 'an API client\'s STOW');
    t.equal((await gw.request('DELETE', '/dicom-web/studies/1.2.3', { headers: { authorization: `Bearer ${token}` } })).status, 200, 'an API client\'s DELETE');
    t.same(seen.slice(before), ['GET /dicom-web/studies', 'POST /dicom-web/studies', 'POST /dicom-web/studies', 'DELETE /dicom-web/studies/1.2.3']);
  });
});

t.test('POST /auth/dimse-token with content-type: application/json and an empty body', async (t) => {
  const gw = await startGateway();
  t.teardown(() => gw.stop());
  const token = await gw.login(await gw.addUser('eve', 'viewer'));
  const r = await gw.request('POST', '/auth/dimse-token', { headers: { ...json, authorization: `Bearer ${token}` }, body: '' });
  t.equal(r.status, 200, r.text);
  t.match(r.json(), { token: /^[\w-]+\.[\w-]+\.[\w-]+$/, tokenId: String });
  const braces = await gw.request('POST', '/auth/dimse-token', { headers: { ...json, authorization: `Bearer ${token}` }, body: '{}' });
  t.equal(braces.status, 200, 'an empty object too');
  const bad = await gw.request('POST', '/auth/dimse-token', { headers: { ...json, authorization: `Bearer ${token}` }, body: '{"a":' });
  t.equal(bad.status, 400, 'malformed JSON is still refused');
  const login = await gw.request('POST', '/auth/login', { headers: json, body: '' });
  t.equal(login.status, 400, 'an empty login body: 400');
  t.equal(login.json().error, 'ERR_BAD_REQUEST');
});

t.test('every audit event of an HTTP exchange carries that exchange\'s request id', async (t) => {
  const pacs = createServer((_req, res) => { res.end('[]'); });
  await new Promise<void>((r) => pacs.listen(0, '127.0.0.1', r));
  t.teardown(() => { pacs.closeAllConnections(); pacs.close(); });
  const base = `http://127.0.0.1:${(pacs.address() as AddressInfo).port}`;
  const gw = await startGateway({
    orthanc: { dicomwebUrl: `${base}/dicom-web`, wadoUrl: `${base}/wado`, dicomPort: 9, aeTitle: 'PACS' },
    config: { lockout: { userMaxFailures: 2, addressMaxFailures: 1000, windowMinutes: 15, lockMinutes: 15 } },
  });
  t.teardown(() => gw.stop());
  const bo = await gw.addUser('bo', 'viewer');
  const token = await gw.login(bo);
  const auth = { authorization: `Bearer ${token}` };
  await gw.request('GET', '/dicom-web/studies', { headers: auth });
  await gw.request('GET', '/dicom-web/studies', { headers: auth });
  await gw.request('GET', '/dicom-web/system', { headers: auth });
  await gw.request('POST', '/auth/dimse-token', { headers: auth });
  await gw.request('POST', '/auth/logout', { headers: auth });
  await gw.request('POST', '/auth/login', { headers: json, body: JSON.stringify({ username: 'bo', password: 'wrong-password-1', totp: '000000' }) });
  // The second failure locks the account: its auth.login event and the lockout alert share one request id.
  await gw.request('POST', '/auth/login', { headers: json, body: JSON.stringify({ username: 'bo', password: 'wrong-password-2', totp: '000000' }) });
  const events = gw.auditEvents().filter((e) => /^auth\.|^authz\.http$/.test(String(e.event)));
  t.ok(events.length >= 8, `${events.length} events`);
  for (const e of events) t.match(e.requestId, /^[0-9a-z]+-[0-9a-z]+$/, `${String(e.event)} ${String(e.reason)}: requestId ${String(e.requestId)}`);
  const ids = events.map((e) => e.requestId as string);
  t.equal(new Set(ids).size, ids.length, 'one id per exchange: every event here is from a different request');
  const alert = gw.logs.find((l) => l['alert']?.name === 'lockout.user')?.['alert'];
  t.equal(alert?.requestId, ids.at(-1), 'the lockout alert carries the id of the request that caused it');
});
