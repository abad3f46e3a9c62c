// What every probe needs: where to connect, how long to wait, how fast to go, how to name itself.

import type { SecureVersion } from 'node:tls';
import type { RateLimiter } from './rate-limiter.js';

/** One port of one host. `address` is what is connected to; `host` is what the report names. */
export interface Endpoint {
  readonly host: string;
  readonly address: string;
  readonly port: number;
  /** TLS SNI and HTTP Host name: only for targets given by name (RFC 6066 §3 forbids addresses). */
  readonly servername: string | undefined;
  /** Offer only this TLS version: set for a peer that refuses node's default (TLS 1.2–1.3) but takes an older one. */
  readonly tlsVersion?: SecureVersion;
}

export interface ProbeContext {
  /** Longest wait for any one step: connect, handshake, an answer. */
  readonly timeoutMs: number;
  readonly limiter: RateLimiter;
  /** e.g. `pacs-gateway-scan/0.1.0`. */
  readonly userAgent: string;
  /** Called AE titles to try, in order. */
  readonly calledAets: readonly string[];
  /** Also send an unauthenticated C-FIND at STUDY level and count the matches. */
  readonly deep: boolean;
  /** Implementation Version Name sent in the A-ASSOCIATE-RQ (≤ 16 characters). */
  readonly implementationVersion: string;
}

/** "host:port", with brackets for an IPv6 address. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
