// Client addresses in one canonical form, and the key that per-address limits count under
// (IPv4: the address; IPv6: its /64, because one subscriber is handed a whole /64).

import { isIPv4, isIPv6 } from 'node:net';

/** The eight 16-bit groups of a valid IPv6 address (node's isIPv6 has accepted it); the zone id is dropped. */
function groupsOf(address: string): number[] {
  const zone = address.indexOf('%');
  let a = zone < 0 ? address : address.slice(0, zone);
  const tail: number[] = [];
  if (a.includes('.')) {
    // An embedded IPv4 tail (::ffff:192.0.2.1, 64:ff9b::192.0.2.1) is the last two groups.
    const cut = a.lastIndexOf(':');
    const [b0, b1, b2, b3] = a.slice(cut + 1).split('.').map(Number) as [number, number, number, number];
    tail.push((b0 << 8) | b1, (b2 << 8) | b3);
    a = a.slice(0, cut + 1); // '::ffff:' or '64:ff9b::'
    if (!a.endsWith('::')) a = a.slice(0, -1);
  }
  const gap = a.indexOf('::');
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((h) => parseInt(h, 16)));
  let groups: number[];
  if (gap < 0) groups = parse(a);
  else {
    const head = parse(a.slice(0, gap));
    const rest = parse(a.slice(gap + 2));
    groups = [...head, ...new Array<number>(8 - tail.length - head.length - rest.length).fill(0), ...rest];
  }
  return [...groups, ...tail];
}

/** RFC 5952 text of eight groups: lower case, no leading zeros, the longest run of two or more zero groups as `::`. */
function formatGroups(g: readonly number[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = (xs: readonly number[]): string => xs.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** Whether the groups are an IPv4-mapped IPv6 address (::ffff:a.b.c.d, RFC 4291 §2.5.5.2). */
function isMapped(g: readonly number[]): boolean {
  return g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff;
}

function dotted(hi: number, lo: number): string {
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
}

/**
 * The canonical text of an IP address: IPv4 as is, an IPv4-mapped IPv6 address as its IPv4
 * address (a dual-stack listener reports IPv4 clients that way), other IPv6 in RFC 5952 form.
 * Anything that is not an IP address is returned unchanged.
 */
export function canonicalAddress(address: string): string {
  if (isIPv4(address)) return address;
  if (!isIPv6(address)) return address;
  const g = groupsOf(address);
  return isMapped(g) ? dotted(g[6] as number, g[7] as number) : formatGroups(g);
}

/**
 * The key per-address limits count under (lockouts, connection caps, password checks): an IPv4
 * address itself (an IPv4-mapped IPv6 address counts as its IPv4 address), an IPv6 address's /64
 * prefix (RFC 6177: a site, even one home, gets at least a /64, so an attacker rotating through
 * its addresses is still one source), e.g. `2001:db8:1:2::/64`. Anything else is its own key.
 */
export function addressKey(address: string): string {
  if (isIPv4(address)) return address;
  if (!isIPv6(address)) return address;
  const g = groupsOf(address);
  if (isMapped(g)) return dotted(g[6] as number, g[7] as number);
  return `${formatGroups([g[0] as number, g[1] as number, g[2] as number, g[3] as number, 0, 0, 0, 0])}/64`;
}
