// Which TLS versions a port accepts, one handshake per version (node's minVersion = maxVersion),
// with the cipher suite each one negotiates. What this host's OpenSSL will not offer is said so.

import type { SecureVersion } from 'node:tls';
import { openTls } from './connection.js';
import type { Endpoint, ProbeContext } from './context.js';

export const TLS_VERSIONS: readonly SecureVersion[] = Object.freeze(['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']);

export type VersionOutcome =
  | { readonly version: SecureVersion; readonly kind: 'accepted'; readonly cipher: string | undefined }
  | { readonly version: SecureVersion; readonly kind: 'refused' | 'untested'; readonly detail: string };

const NAMES: Readonly<Record<string, string>> = Object.freeze({ TLSv1: 'TLS 1.0', 'TLSv1.1': 'TLS 1.1', 'TLSv1.2': 'TLS 1.2', 'TLSv1.3': 'TLS 1.3' });
export const versionName = (v: string): string => NAMES[v] ?? v;

/**
 * Tries each version the first handshake did not already show. A handshake that fails for want
 * of a client certificate still shows that the version was accepted (the server got that far).
 */
export async function probeTlsVersions(ep: Endpoint, ctx: ProbeContext, known?: { protocol: string; cipher: string }): Promise<VersionOutcome[]> {
  const out: VersionOutcome[] = [];
  for (const version of TLS_VERSIONS) {
    if (known?.protocol === version) {
      out.push({ version, kind: 'accepted', cipher: known.cipher });
      continue;
    }
    const r = await openTls(ep, ctx, { version });
    if (r.ok) {
      r.socket.destroy();
      out.push({ version, kind: 'accepted', cipher: r.cipher });
    } else if (r.failure === 'client-cert-required') {
      out.push({ version, kind: 'accepted', cipher: r.negotiated?.cipher });
    } else if (r.failure === 'local-unsupported') {
      out.push({ version, kind: 'untested', detail: `this host's OpenSSL would not offer it (${r.detail})` });
    } else if (r.failure === 'timeout' || r.failure === 'refused' || r.failure === 'unreachable' || r.failure === 'error') {
      out.push({ version, kind: 'untested', detail: r.detail });
    } else {
      out.push({ version, kind: 'refused', detail: r.detail });
    }
  }
  return out;
}

/** Evidence lines: accepted versions with ciphers, refused ones, untested ones, and a warning for TLS < 1.2. */
export function describeVersions(v: readonly VersionOutcome[]): string[] {
  const accepted = v.filter((o): o is Extract<VersionOutcome, { kind: 'accepted' }> => o.kind === 'accepted');
  const refused = v.filter((o) => o.kind === 'refused');
  const lines: string[] = [];
  if (accepted.length > 0) {
    lines.push(`TLS versions accepted: ${accepted.map((o) => `${versionName(o.version)}${o.cipher !== undefined ? ` (${o.cipher})` : ''}`).join(', ')}${refused.length > 0 ? `; refused: ${refused.map((o) => versionName(o.version)).join(', ')}` : ''}`);
  } else if (refused.length > 0) {
    lines.push(`TLS versions refused: ${refused.map((o) => versionName(o.version)).join(', ')}`);
  }
  for (const o of v) if (o.kind === 'untested') lines.push(`${versionName(o.version)} not tested: ${o.detail}`);
  const old = accepted.filter((o) => o.version === 'TLSv1' || o.version === 'TLSv1.1');
  if (old.length > 0) lines.push(`accepts ${old.map((o) => versionName(o.version)).join(' and ')}, deprecated by RFC 8996`);
  return lines;
}
