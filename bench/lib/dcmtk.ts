// dcmtk command lines (storescu, echoscu, findscu) for each way of reaching the PACS, and a runner that fails loudly.

import { oathtool, run, type RunResult } from '../../test/helpers/tools.js';
import { CALLING_AE, type BenchIdentities, type BenchUser } from './identities.js';

/** How a DICOM client reaches its peer. */
export type DicomSecurity =
  | { readonly kind: 'plain' }
  /** TLS without a client certificate (stunnel TLS). */
  | { readonly kind: 'tls' }
  /** TLS with the device certificate. */
  | { readonly kind: 'mtls' }
  /** TLS without a certificate, User Identity type 2 (username + password followed by the TOTP code). */
  | { readonly kind: 'user'; readonly user: BenchUser };

/** A DICOM peer: port and the AE title to call. */
export interface DicomPeer { readonly port: number; readonly calledAe: string; readonly security: DicomSecurity }

/** The dcmtk arguments for `peer`'s security; a user identity gets a fresh TOTP code from oathtool. */
export async function securityArgs(peer: DicomPeer, id: BenchIdentities): Promise<string[]> {
  const s = peer.security;
  switch (s.kind) {
    case 'plain': return [];
    case 'tls': return ['+tla', '+cf', id.caFile];
    case 'mtls': return ['+tls', id.device.key, id.device.cert, '+cf', id.caFile];
    case 'user': {
      const code = await oathtool(s.user.totpSecret);
      return ['+tla', '+cf', id.caFile, '--user', s.user.username, '--password', `${s.user.password}${code}`];
    }
  }
}

/** The address part of every dcmtk command line. */
export function addressArgs(peer: DicomPeer): string[] {
  return ['-aet', CALLING_AE, '-aec', peer.calledAe, '127.0.0.1', String(peer.port)];
}

/**
 * Runs a dcmtk tool; rejects when it fails (exit code, an error line, or a timeout) so that a
 * refused or broken run is never reported as a fast one.
 */
export async function dcmtk(cmd: string, args: readonly string[], timeoutMs: number): Promise<RunResult> {
  const r = await run(cmd, args, { timeoutMs });
  if (r.code !== 0 || r.timedOut || /^[EF]: /m.test(r.stderr) || /^[EF]: /m.test(r.stdout)) {
    const why = r.timedOut ? `timed out after ${timeoutMs} ms` : `exit ${String(r.code)}`;
    throw new Error(`${cmd} failed (${why}): ${(r.stderr + r.stdout).trim().split('\n').slice(-8).join('\n')}`);
  }
  return r;
}
