// Who is calling: a user after MFA, or a device bound to a client certificate.

/** How a principal proved who it is. */
export type AuthMethod =
  | 'session-cookie'
  | 'bearer-token'
  | 'mtls'
  | 'dicom-user-password-totp'
  | 'dicom-user-jwt'
  /** A legacy device on the cleartext port: its source address and calling AE title, nothing proven. */
  | 'source-address';

export interface Principal {
  /** Username, or device name. */
  readonly id: string;
  /** `legacy-device`: admitted on listen.dicomLegacy by address and AE title (dicom/legacy-devices.ts). */
  readonly kind: 'user' | 'device' | 'legacy-device';
  readonly role: string;
  readonly method: AuthMethod;
  /** Session id: the HTTP session, or the session that issued the DIMSE token (users). */
  readonly sessionId?: string;
  /** The DIMSE token (User Identity type 5) that admitted an association; re-checked with the session. */
  readonly tokenId?: string;
  /**
   * credentialStamp() of the password and TOTP secret the user proved (identity/credential-stamp.ts):
   * a re-check refuses the principal once either changed. Never logged.
   */
  readonly credentialStamp?: string;
  /** Calling AE titles this principal may use over DICOM: a device's, or a user's when set; undefined: any. */
  readonly aeTitles?: readonly string[];
  /** Set when an identity provider vouched for the user (auth.oidc): no local user record; the session holds the role. */
  readonly idp?: 'oidc';
  /** SHA-256 fingerprint of the client certificate, when mTLS was used. */
  readonly certFingerprint?: string;
  /** The client certificate's subject CN, when a device bound by `subjectCn` was admitted with it (re-checked against the binding). */
  readonly certSubjectCn?: string;
  /** C-MOVE destinations this principal may name besides the role's. */
  readonly moveDestinations?: readonly string[];
}
