// The identity questions the DIMSE and HTTP guards ask, answered by the identity layer.

import type { PeerCertificateFacts } from '../tls/peer-identity.js';
import type { AuditContext } from '../audit/audit.js';
import type { Principal } from './principal.js';

/** Why an identity was refused; the guards map these to A-ASSOCIATE-RJ or HTTP statuses. */
export type IdentityRefusal =
  | 'no-identity' | 'bad-credentials' | 'locked-out' | 'busy' | 'store-unavailable' | 'directory-unavailable'
  | 'certificate-unknown' | 'device-disabled' | 'certificate-revoked' | 'token-invalid' | 'user-disabled';

export type IdentityResult =
  | { readonly ok: true; readonly principal: Principal }
  | {
    readonly ok: false; readonly refusal: IdentityRefusal; readonly detail?: string;
    /** The real reason, for the audit trail only (wrong-totp, unknown-user, locked-out:user, token-invalid …). */
    readonly reason?: string;
    /** Who the client claimed to be (a username, a token's subject): for the audit trail, never verified. */
    readonly named?: string;
  };

/** Why an admitted principal no longer is: the guards abort its association and audit this reason. */
export type RevalidationFailure =
  | 'user-unknown' | 'user-disabled' | 'user-pending' | 'credentials-changed' | 'role-changed'
  | 'session-ended' | 'session-idle' | 'session-expired' | 'local-login-disabled' | 'token-revoked'
  | 'device-unknown' | 'device-disabled' | 'certificate-revoked' | 'certificate-changed'
  | 'move-destinations-changed' | 'calling-ae-not-allowed';

/**
 * `aeTitles`: the calling AE titles the principal is bound to now (a device's, a user's when set;
 * undefined: any), for the caller to check the association's own against (admission.ts callingAeAllowed).
 */
export type Revalidation =
  | { readonly valid: true; readonly aeTitles?: readonly string[] }
  | { readonly valid: false; readonly reason: RevalidationFailure };

export interface IdentityResolver {
  /**
   * A device principal for a client certificate the TLS layer already verified against
   * tls.clientCa and the CRL (from the connection's identity snapshot). Refuses unknown and
   * disabled devices.
   */
  fromCertificate(cert: PeerCertificateFacts, source: string): Promise<IdentityResult>;
  /**
   * DICOM User Identity Negotiation (PS3.7 D.3.3.7): type 2 = username + passcode
   * (password immediately followed by the current 6-digit TOTP code), type 5 = a DIMSE
   * token (JWT) the gateway issued. Other types are refused as bad-credentials. `context` (the
   * association) goes on the auth.login / auth.token events this writes.
   */
  fromUserIdentity(type: number, primary: Buffer, secondary: Buffer, source: string, context?: AuditContext): Promise<IdentityResult>;
  /**
   * Re-checks a principal that is already admitted: a device still registered, enabled, not revoked,
   * with the same certificate and role, and no C-MOVE destination taken away; a user still present, enabled, in the same role, with the same
   * password and TOTP secret; for a DIMSE token, its session alive and the token not revoked.
   * Rejects when that cannot be known (state store down): the caller fails closed.
   */
  stillValid(principal: Principal): Promise<Revalidation>;
}
