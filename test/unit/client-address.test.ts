// Per-address keys (IPv4 as is, IPv6 by /64, IPv4-mapped as IPv4) and the one "client address" of a request.

import t from 'tap';
import { clientAddress, forwardedAddress } from '../../src/http/client-address.js';
import { addressKey, canonicalAddress } from '../../src/util/address-key.js';

t.test('addressKey: IPv4 is its own key', async (t) => {
  t.equal(addressKey('192.0.2.1'), '192.0.2.1');
  t.not(addressKey('192.0.2.1'), addressKey('192.0.2.2'), 'neighbours in a /24 are different sources');
});

t.test('addressKey: an IPv6 client is counted by its /64', async (t) => {
  const one = addressKey('2001:db8:1:2::1');
  t.equal(one, '2001:db8:1:2::/64');
  for (const a of ['2001:db8:1:2::2', '2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:DB8:1:2:0:0:0:99', '2001:0db8:0001:0002:abcd::1', '2001:db8:1:2::1%eth0']) {
    t.equal(addressKey(a), one, `${a} rotates inside the same /64`);
  }
  t.equal(addressKey('2001:db8:1:3::1'), '2001:db8:1:3::/64', 'the next /64 is another source');
  t.equal(addressKey('::1'), '::/64');
  t.equal(addressKey('fe80::1'), 'fe80::/64');
  t.equal(addressKey('2001:db8::'), '2001:db8::/64');
  t.equal(addressKey('1:2:3:4:5:6:7:8'), '1:2:3:4::/64');
  t.equal(addressKey('64:ff9b::192.0.2.1'), '64:ff9b::/64', 'an embedded IPv4 tail (NAT64) stays IPv6');
});

t.test('addressKey and canonicalAddress: an IPv4-mapped IPv6 address counts as its IPv4 address', async (t) => {
  for (const a of ['::ffff:192.0.2.1', '::FFFF:192.0.2.1', '0:0:0:0:0:ffff:192.0.2.1', '::ffff:c000:201']) {
    t.equal(addressKey(a), '192.0.2.1', a);
    t.equal(canonicalAddress(a), '192.0.2.1', a);
  }
  t.equal(addressKey('::ffff:192.0.2.2'), addressKey('192.0.2.2'));
});

t.test('canonicalAddress: RFC 5952 text for IPv6, anything else unchanged', async (t) => {
  t.equal(canonicalAddress('2001:0DB8:0000:0000:0001:0000:0000:0001'), '2001:db8::1:0:0:1', 'the first of two equal zero runs');
  t.equal(canonicalAddress('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1', 'a single zero group is not shortened');
  t.equal(canonicalAddress('::'), '::');
  t.equal(canonicalAddress('127.0.0.1'), '127.0.0.1');
  t.equal(canonicalAddress('unknown'), 'unknown');
  t.equal(addressKey(''), '', 'no address is a key of its own, not a crash');
});

t.test('forwardedAddress: an IP literal, optionally with a port; nothing else', async (t) => {
  t.equal(forwardedAddress(' 192.0.2.1 '), '192.0.2.1');
  t.equal(forwardedAddress('192.0.2.1:4711'), '192.0.2.1');
  t.equal(forwardedAddress('2001:db8::1'), '2001:db8::1');
  t.equal(forwardedAddress('[2001:db8::1]:4711'), '2001:db8::1');
  t.equal(forwardedAddress('::ffff:10.0.0.1'), '10.0.0.1');
  for (const bad of ['', ' ', 'unknown', '_hidden', 'client.example', '192.0.2', '192.0.2.256', '01.2.3.4', '[2001:db8::1]', 'fe80::1%eth0', '192.0.2.1;evil', '2001:db8::1:4711:x']) {
    t.equal(forwardedAddress(bad), undefined, JSON.stringify(bad));
  }
});

t.test('clientAddress: the peer, or with trustProxy the last X-Forwarded-For entry, which must be an IP address', async (t) => {
  t.same(clientAddress('10.0.0.9', '6.6.6.6', false), { ok: true, address: '10.0.0.9' }, 'without trustProxy the header is ignored');
  t.same(clientAddress('10.0.0.9', undefined, true), { ok: true, address: '10.0.0.9' }, 'no header: the balancer itself');
  t.same(clientAddress('10.0.0.9', '6.6.6.6, 10.1.2.3', true), { ok: true, address: '10.1.2.3' }, 'the entry the balancer appended');
  t.same(clientAddress('10.0.0.9', 'unknown, 10.1.2.3', true), { ok: true, address: '10.1.2.3' }, 'entries before it are the client\'s own, not checked');
  t.same(clientAddress('10.0.0.9', '10.1.2.3, ::ffff:10.1.2.4', true), { ok: true, address: '10.1.2.4' });
  for (const bad of ['10.1.2.3, unknown', '', '10.1.2.3,', 'evil.example', '10.1.2.3, 10.1.2.4 x']) {
    t.match(clientAddress('10.0.0.9', bad, true), { ok: false, reason: /not an IP address/ }, JSON.stringify(bad));
  }
});
