// Lists of IP addresses and CIDR ranges (IPv4 and IPv6), matched with node's BlockList.

import { BlockList, isIP } from 'node:net';
import { canonicalAddress } from './address-key.js';

/** Why an entry is not an address or a CIDR range, or undefined when it is one. */
export function cidrProblem(entry: string): string | undefined {
  const slash = entry.indexOf('/');
  const base = slash < 0 ? entry : entry.slice(0, slash);
  if (base.includes('%')) return 'IPv6 zone IDs (%…) are not allowed';
  const family = isIP(base);
  if (family === 0) return 'not an IP address or a CIDR range (e.g. 10.20.30.0/24, 2001:db8::/64)';
  if (slash < 0) return undefined;
  const bits = entry.slice(slash + 1);
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return `the prefix length must be 0–${max}`;
  return undefined;
}

/** A set of addresses and ranges; `has` answers for one client address (an IPv4-mapped IPv6 address counts as its IPv4 address). */
export class CidrList {
  readonly #list = new BlockList();
  readonly entries: readonly string[];

  /** Throws TypeError naming the first entry that is not an address or CIDR range (config validation names them first). */
  constructor(entries: readonly string[]) {
    this.entries = Object.freeze([...entries]);
    for (const e of entries) {
      const problem = cidrProblem(e);
      if (problem !== undefined) throw new TypeError(`${e}: ${problem}`);
      const slash = e.indexOf('/');
      const base = slash < 0 ? e : e.slice(0, slash);
      const family = isIP(base) === 4 ? 'ipv4' : 'ipv6';
      const prefix = slash < 0 ? (family === 'ipv4' ? 32 : 128) : Number(e.slice(slash + 1));
      this.#list.addSubnet(base, prefix, family);
    }
  }

  has(address: string): boolean {
    const a = canonicalAddress(address);
    const family = isIP(a);
    if (family === 0) return false;
    return this.#list.check(a, family === 4 ? 'ipv4' : 'ipv6');
  }
}
