// The client address behind a load balancer (http.trustProxy): one implementation for the edge and the
// control plane, X-Forwarded-For entries that are not IP addresses refused, per-address lockout by
// IPv6 /64 and IPv4-mapped addresses as IPv4.

import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { openTls } from '../helpers/flood.js';

const json = { 'content-type': 'application/json' };
const forwarded: string[] = [];
const pacs = createHttpServer((req, res) => { forwarded.push(String(req.headers['x-forwarded-for'])); res.setHeader('content-type', 'application/dicom+json'); res.end('[]'); });
await new Promise<void>((r) => pacs.listen(0, '127.0.0.1', r));
t.teardown(() => { pacs.closeAllConnections(); pacs.close(); });
const base = `http://127.0.0.1:${(pacs.address() as AddressInfo).port}`;
const gw = await startGateway({
  orthanc: { dicomwebUrl: `${base}/dicom-web`, wadoUrl: `${base}/wado`, dicomPort: 1, aeTitle: 'PACS' },
  config: {
    http: { trustProxy: true, maxConnectionsPerAddress: 2 },
    lockout: { userMaxFailures: 100, addressMaxFailures: 3, windowMinutes: 15, lockMinutes: 15 },
  },
});
t.teardown(() => gw.stop());
const user = await gw.addUser('lb-user', 'radiologist');
const token = await gw.login(user);

const wrongLogin = (xff: string, username = 'nobody') => gw.request('POST', '/auth/login', {
  headers: { ...json, 'x-forwarded-for': xff }, body: JSON.stringify({ username, password: 'wrong password here', totp: '000000' }),
});
const rightLogin = async (xff: string) => {
  gw.clock.advance(30_000);
  return gw.request('POST', '/auth/login', { headers: { ...json, 'x-forwarded-for': xff }, body: JSON.stringify({ username: user.username, password: user.password, totp: await gw.code(user) }) });
};

t.test('a last X-Forwarded-For entry that is not an IP address is refused (400), on the control plane and on DICOMweb', async (t) => {
  const logins = gw.auditEvents('auth.login').length;
  for (const xff of ['unknown', '10.1.2.3, unknown', 'client.example', '', '10.1.2.3,', '[2001:db8::1]', 'fe80::1%eth0']) {
    const r = await wrongLogin(xff);
    t.equal(r.status, 400, `login with X-Forwarded-For: ${JSON.stringify(xff)}`);
    t.equal(r.json().error, 'ERR_BAD_REQUEST');
    t.equal(r.headers['connection'], 'close');
  }
  t.equal(gw.auditEvents('auth.login').length, logins, 'none of them reached the login');
  const before = forwarded.length;
  const r = await gw.request('GET', '/dicom-web/studies', { headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': '6.6.6.6, not-an-address' } });
  t.equal(r.status, 400);
  t.equal(forwarded.length, before, 'nothing reached the PACS');
  t.ok(gw.logs.some((l) => l['msg'] === 'malformed HTTP request refused' && /X-Forwarded-For/.test(String(l['reason']))), 'logged');
});

t.test('entries before the last are the client\'s own: not checked, not used; a port after the address is allowed', async (t) => {
  const r = await gw.request('GET', '/dicom-web/studies', { headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': 'unknown, _hidden, [2001:db8::7]:4711' } });
  t.equal(r.status, 200);
  t.equal(forwarded.at(-1), '2001:db8::7', 'the PACS gets the address without the port');
  t.equal(gw.auditEvents('authz.http').at(-1)?.source, '2001:db8::7', 'as does the audit trail');
  t.equal((await wrongLogin('198.51.100.7:4711')).status, 401);
  t.equal(gw.auditEvents('auth.login').at(-1)?.source, '198.51.100.7', 'and the control plane');
});

t.test('per-address lockout counts an IPv6 client by its /64', async (t) => {
  for (const xff of ['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:db8:1:2:aaaa:bbbb:cccc:dddd']) t.equal((await wrongLogin(xff, `spray-${xff}`)).status, 401);
  const locked = await rightLogin('2001:db8:1:2::abcd');
  t.equal(locked.status, 429, 'a fourth address in the same /64 is locked out, even with the right password');
  t.match(gw.logs.find((l) => l['alert']?.name === 'lockout.address')?.['alert'], { addressKey: '2001:db8:1:2::/64', failures: 3 });
  t.equal((await rightLogin('2001:db8:1:3::1')).status, 200, 'the next /64 is another source');
});

t.test('an IPv4-mapped IPv6 address counts as its IPv4 address', async (t) => {
  t.equal((await wrongLogin('::ffff:203.0.113.9', 'm1')).status, 401);
  t.equal((await wrongLogin('::ffff:cb00:7109', 'm2')).status, 401);
  t.equal(gw.auditEvents('auth.login').at(-1)?.source, '203.0.113.9', 'written as the IPv4 address');
  t.equal((await wrongLogin('203.0.113.9', 'm3')).status, 401);
  t.equal((await rightLogin('203.0.113.9')).status, 429, 'three failures from one address, whichever way it was written');
});

t.test('behind a load balancer the per-address connection cap is not applied (every connection comes from the balancer)', async (t) => {
  const held = await Promise.all([1, 2, 3, 4].map(() => openTls(gw.httpsPort, gw.caPem, '127.0.0.5')));
  t.teardown(() => { for (const a of held) a.socket.destroy(); });
  t.ok(held.every((a) => a.connected), 'four connections from one address with maxConnectionsPerAddress 2');
});
