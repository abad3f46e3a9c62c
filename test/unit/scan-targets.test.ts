// Scan targets and ports: CIDR expansion (IPv4 without network/broadcast, IPv6), the /22 budget, refusals.

import t from 'tap';
import { isGatewayError } from '../../src/errors.js';
import { parsePorts, portHint } from '../../src/scan/ports.js';
import { expandHosts, parseTarget, parseTargets } from '../../src/scan/targets.js';

const hosts = (...texts: string[]): string[] => [...expandHosts(parseTargets(texts, { allowLarge: true }).targets)].map((h) => h.host);

t.test('CIDR ranges expand to their hosts', async (t) => {
  t.same(hosts('127.0.0.0/29'), ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6'], 'no network or broadcast address');
  t.same(hosts('10.1.2.3/30'), ['10.1.2.1', '10.1.2.2'], 'the base is masked to its network');
  t.same(hosts('192.0.2.4/31'), ['192.0.2.4', '192.0.2.5'], 'RFC 3021: a /31 has two hosts');
  t.same(hosts('192.0.2.9/32'), ['192.0.2.9']);
  t.equal(parseTarget('10.0.0.0/22').count, 1022);
  t.same(hosts('2001:db8::/126'), ['2001:db8::', '2001:db8::1', '2001:db8::2', '2001:db8::3']);
  t.same(hosts('2001:db8:0:0:0:0:0:1'), ['2001:db8::1'], 'IPv6 in canonical form (RFC 5952)');
  t.same(hosts('[::1]'), ['::1']);
  t.same(hosts('::ffff:192.0.2.1/128'), ['::ffff:c000:201']);
  t.same(hosts('PACS.Example.org.', '127.0.0.1', '127.0.0.0/30'), ['pacs.example.org', '127.0.0.1', '127.0.0.2'], 'names lower-cased, duplicates scanned once');
  t.equal(parseTarget('pacs.example.org').hosts()[Symbol.iterator]().next().value?.kind, 'name');
});

t.test('at most a /22 per run unless --allow-large, and never past a /16', async (t) => {
  t.equal(parseTargets(['10.0.0.0/22', '10.0.4.1']).count, 1023);
  t.throws(() => parseTargets(['10.0.0.0/21']), { code: 'ERR_SCAN_TARGET', message: /2,046 addresses; at most 1,024 per run \(pass --allow-large/ });
  t.throws(() => parseTargets(['10.0.0.0/22', '10.0.4.0/30', '10.0.5.0/30']), { code: 'ERR_SCAN_TARGET' }, 'the budget is for the whole run');
  t.equal(parseTargets(['10.0.0.0/16'], { allowLarge: true }).count, 65_534);
  t.throws(() => parseTargets(['10.0.0.0/15'], { allowLarge: true }), { code: 'ERR_SCAN_TARGET', message: /at most 65,536/ });
  t.throws(() => parseTargets(['2001:db8::/64'], { allowLarge: true }), { code: 'ERR_SCAN_TARGET' });
  t.throws(() => parseTargets([]), { code: 'ERR_USAGE' });
});

t.test('what is not a target is refused with its text', async (t) => {
  for (const bad of ['foo/24', '10.0.0.0/33', '10.0.0.0/', '::1/129', '10.0.0.256', '300.1.1.1', 'a_b.example', '-x', 'http://pacs', 'fe80::1%eth0', '']) {
    let caught: unknown;
    try { parseTarget(bad); } catch (e) { caught = e; }
    t.ok(isGatewayError(caught, 'ERR_SCAN_TARGET') && caught.message.includes(`"${bad}"`), `${bad}: ${String(caught)}`);
  }
});

t.test('port lists and the probe order each port suggests', async (t) => {
  t.same(parsePorts('104,4242, 8000-8002'), [104, 4242, 8000, 8001, 8002]);
  t.same(parsePorts('80,80'), [80]);
  for (const bad of ['0', '65536', '9-8', 'x', '1,,2', '1-70000']) t.throws(() => parsePorts(bad), { code: 'ERR_USAGE' }, bad);
  t.throws(() => parsePorts('1-2000'), { code: 'ERR_USAGE', message: /at most 1024/ });
  t.same(portHint(104).plan, ['dicom', 'tls', 'http']);
  t.same(portHint(2762).plan, ['tls', 'dicom', 'http']);
  t.same(portHint(8042).plan, ['http', 'tls', 'dicom']);
  t.same(portHint(8443).plan, ['tls', 'http', 'dicom']);
  t.same(portHint(12345).plan, ['tls', 'dicom', 'http'], 'any other port: TLS first');
  t.equal(portHint(443).service, 'https');
});
