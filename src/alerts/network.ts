// The network an address belongs to, for new-source: IPv4 /24, IPv6 /64 (an IPv4-mapped IPv6 address counts as IPv4).

import { isIPv4, isIPv6 } from 'node:net';

/** "10.1.2.0/24", "2001:db8:1:2::/64", or the input itself when it is not an IP address. */
export function networkOf(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const a = mapped?.[1] ?? address;
  if (isIPv4(a)) return `${a.split('.').slice(0, 3).join('.')}.0/24`;
  if (!isIPv6(a)) return a;
  const [head = '', tail = ''] = a.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = a.includes('::') ? (tail === '' ? [] : tail.split(':')) : [];
  const groups = a.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => (g.includes('.') ? g : Number.parseInt(g, 16).toString(16))).join(':')}::/64`;
}
