// Scan targets: host names, IPv4/IPv6 addresses and CIDR ranges, expanded lazily under an address budget.

import { isIP, isIPv4 } from 'node:net';
import { GatewayError } from '../errors.js';

/** One thing to connect to: an address, or a host name resolved at scan time. */
export interface ScanHost {
  /** As reported (an address in canonical form, or the name as given). */
  readonly host: string;
  readonly kind: 'ipv4' | 'ipv6' | 'name';
}

/** A parsed target: a single host, or a range that expands to `count` addresses. */
export interface Target {
  readonly text: string;
  readonly count: number;
  hosts(): Iterable<ScanHost>;
}

/** At most a /22 (1,024 addresses) per run unless --allow-large. */
export const DEFAULT_MAX_ADDRESSES = 1024;
/** Even with --allow-large, at most a /16 (65,536 addresses) per run. */
export const LARGE_MAX_ADDRESSES = 65_536;

const NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

function refuse(text: string, why: string): never {
  throw new GatewayError('ERR_SCAN_TARGET', `target "${text}": ${why}`);
}

function ipv4ToInt(a: string): number {
  return a.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** An IPv6 address as a 128-bit integer (isIP has checked the syntax; an embedded IPv4 tail is allowed). */
function ipv6ToBigInt(a: string): bigint {
  let text = a;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1] !== undefined) {
    const n = ipv4ToInt(v4[1]);
    text = `${text.slice(0, -v4[1].length)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((n, g) => (n << 16n) + BigInt(parseInt(g, 16)), 0n);
}

function bigIntToIpv6(n: bigint): string {
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((n >> BigInt(i * 16)) & 0xffffn).toString(16));
  // RFC 5952 §4.2: the longest run of two or more zero groups becomes "::".
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

function single(text: string, host: ScanHost): Target {
  return { text, count: 1, hosts: () => [host] };
}

function ipv4Range(text: string, base: string, prefix: number): Target {
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const network = (ipv4ToInt(base) & mask) >>> 0;
  const size = 2 ** (32 - prefix);
  // A /31 or /32 has no network or broadcast address (RFC 3021); larger ranges skip both.
  const first = prefix >= 31 ? network : network + 1;
  const last = prefix >= 31 ? network + size - 1 : network + size - 2;
  return {
    text, count: last - first + 1,
    *hosts() { for (let n = first; n <= last; n++) yield { host: intToIpv4(n), kind: 'ipv4' as const }; },
  };
}

function ipv6Range(text: string, base: string, prefix: number): Target {
  const hostBits = BigInt(128 - prefix);
  const network = (ipv6ToBigInt(base) >> hostBits) << hostBits;
  const size = 1n << hostBits;
  return {
    text, count: size > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(size),
    *hosts() { for (let i = 0n; i < size; i++) yield { host: bigIntToIpv6(network + i), kind: 'ipv6' as const }; },
  };
}

/** Parses one target; throws ERR_SCAN_TARGET naming it when it is none of the accepted forms. */
export function parseTarget(text: string): Target {
  if (text.includes('%')) refuse(text, 'IPv6 zone IDs (%…) are not supported: scan a global or unique-local address');
  const slash = text.indexOf('/');
  if (slash >= 0) {
    const base = text.slice(0, slash);
    const bits = text.slice(slash + 1);
    const family = isIP(base);
    if (family === 0) refuse(text, 'a CIDR range needs an IPv4 or IPv6 address before the "/"');
    const max = family === 4 ? 32 : 128;
    if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) refuse(text, `the prefix length must be 0–${max}`);
    return family === 4 ? ipv4Range(text, base, Number(bits)) : ipv6Range(text, base, Number(bits));
  }
  const unbracketed = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (isIPv4(unbracketed)) return single(text, { host: intToIpv4(ipv4ToInt(unbracketed)), kind: 'ipv4' });
  if (isIP(unbracketed) === 6) return single(text, { host: bigIntToIpv6(ipv6ToBigInt(unbracketed)), kind: 'ipv6' });
  if (NAME.test(text) && !/^[\d.]+$/.test(text)) return single(text, { host: text.toLowerCase().replace(/\.$/, ''), kind: 'name' });
  return refuse(text, 'not a host name, an IP address or a CIDR range (e.g. 10.20.0.0/24)');
}

/**
 * Parses every target and checks the address budget: at most `DEFAULT_MAX_ADDRESSES` (a /22)
 * in total, or `LARGE_MAX_ADDRESSES` with `allowLarge`. Duplicate hosts are scanned once.
 */
export function parseTargets(texts: readonly string[], options: { allowLarge?: boolean } = {}): { targets: Target[]; count: number } {
  if (texts.length === 0) throw new GatewayError('ERR_USAGE', 'scan needs at least one TARGET (host name, address or CIDR range)');
  const targets = texts.map(parseTarget);
  const count = targets.reduce((n, t) => n + t.count, 0);
  const limit = options.allowLarge === true ? LARGE_MAX_ADDRESSES : DEFAULT_MAX_ADDRESSES;
  if (count > limit) {
    const hint = options.allowLarge === true ? 'split the scan into several runs' : 'pass --allow-large (up to 65,536), or scan fewer ranges';
    throw new GatewayError('ERR_SCAN_TARGET', `the targets hold ${count.toLocaleString('en')} addresses; at most ${limit.toLocaleString('en')} per run (${hint})`);
  }
  return { targets, count };
}

/** Every host of the targets once, in the order given. */
export function* expandHosts(targets: readonly Target[]): Generator<ScanHost> {
  const seen = new Set<string>();
  for (const t of targets) {
    for (const h of t.hosts()) {
      if (seen.has(h.host)) continue;
      seen.add(h.host);
      yield h;
    }
  }
}
