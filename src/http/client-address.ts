// "The client address" of an HTTPS request, one implementation for the edge and the control plane
// (the edge computes it and hands it to the control plane with each request).

import { isIP } from 'node:net';
import { canonicalAddress } from '../util/address-key.js';

export type ClientAddress =
  | { readonly ok: true; readonly address: string }
  | { readonly ok: false; readonly reason: string };

const WITH_PORT_V4 = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/;
const WITH_PORT_V6 = /^\[([0-9A-Fa-f:.]+)\]:\d{1,5}$/;

/**
 * One X-Forwarded-For entry as an address: an IP literal, optionally with a port
 * (`192.0.2.1:4711`, `[2001:db8::1]:4711`, as some load balancers write it). Undefined otherwise
 * (`unknown`, obfuscated identifiers of RFC 7239 §6, host names, empty entries).
 */
export function forwardedAddress(entry: string): string | undefined {
  const e = entry.trim();
  if (isIP(e) !== 0 && !e.includes('%')) return canonicalAddress(e);
  const m = WITH_PORT_V4.exec(e) ?? WITH_PORT_V6.exec(e);
  const ip = m?.[1];
  return ip !== undefined && isIP(ip) !== 0 ? canonicalAddress(ip) : undefined;
}

/**
 * The client's address for one request (canonical: an IPv4-mapped address as IPv4).
 * Without `trustProxy`: the TCP peer. With it (one load balancer in front): the last entry of the
 * last X-Forwarded-For field, the one the balancer appended; entries before it were written by the
 * client and prove nothing, so they are neither checked nor used. A request without the header is
 * the balancer's own (health checks): the peer. A last entry that is not an IP address is refused:
 * it would become the key of per-address lockouts and the audit trail's `source`.
 */
export function clientAddress(peer: string, forwardedFor: string | undefined, trustProxy: boolean): ClientAddress {
  if (!trustProxy || forwardedFor === undefined) return { ok: true, address: peer };
  const comma = forwardedFor.lastIndexOf(',');
  const last = comma < 0 ? forwardedFor : forwardedFor.slice(comma + 1);
  const address = forwardedAddress(last);
  if (address === undefined) return { ok: false, reason: 'the last X-Forwarded-For entry is not an IP address' };
  return { ok: true, address };
}
