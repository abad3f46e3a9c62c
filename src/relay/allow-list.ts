// relay.allowFrom: source addresses and CIDR ranges allowed to open connections on the relay (node's BlockList).

import { BlockList, isIP } from 'node:net';
import { canonicalAddress } from '../util/address-key.js';

/** Why an allowFrom entry is not an address or CIDR range, or undefined when it is one. */
export function cidrProblem(text: string): string | undefined {
  const [address = '', prefix, ...rest] = text.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return `"${text}" is not an IP address or a CIDR range (e.g. 10.20.0.5 or 10.20.0.0/24)`;
  if (prefix === undefined) return undefined;
  const bits = family === 4 ? 32 : 128;
  if (!/^[0-9]{1,3}$/.test(prefix) || Number(prefix) > bits) return `"${text}": the prefix length must be 0–${bits}`;
  return undefined;
}

/** Matches source addresses against a list of addresses and CIDR ranges (IPv4-mapped IPv6 counts as IPv4). */
export class AllowList {
  readonly #list = new BlockList();

  /** `entries` must have passed cidrProblem (the config loader checks them). */
  constructor(entries: readonly string[]) {
    for (const e of entries) {
      const problem = cidrProblem(e);
      if (problem !== undefined) throw new TypeError(problem);
      const [address = '', prefix] = e.split('/');
      const type = isIP(address) === 4 ? 'ipv4' : 'ipv6';
      if (prefix === undefined) this.#list.addAddress(address, type);
      else this.#list.addSubnet(address, Number(prefix), type);
    }
  }

  /** True when `address` (as a socket reports it) is on the list. */
  allows(address: string | undefined): boolean {
    if (address === undefined) return false;
    const a = canonicalAddress(address);
    const family = isIP(a);
    if (family === 0) return false;
    return this.#list.check(a, family === 4 ? 'ipv4' : 'ipv6');
  }
}
