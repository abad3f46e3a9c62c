// Answers "who is this?" for certificates and DICOM user identity, on top of devices, users, logins and sessions.

import type { X509Certificate } from 'node:crypto';
import { decodeJwt } from 'jose';
import { isGatewayError } from '../errors.js';
import type { Audit, AuditContext } from '../audit/audit.js';
import { issuedBy, type PeerCertificateFacts } from '../tls/peer-identity.js';
import { credentialStamp, userProblem } from './credential-stamp.js';
import type { DeviceRegistry } from './device-registry.js';
import { loginFailureReason, type LoginService } from './login.js';
import type { Principal } from './principal.js';
import type { IdentityRefusal, IdentityResolver, IdentityResult, Revalidation } from './resolver.js';
import type { SessionService } from './sessions.js';
import type { UserDirectory } from './user-directory.js';
import type { UserRecord } from './user-record.js';

/** A user's own calling AE titles, when the user record limits them. */
function aeTitlesOf(user: UserRecord): { aeTitles?: readonly string[] } {
  return user.aeTitles === undefined ? {} : { aeTitles: user.aeTitles };
}

/** The subject a token claims, read without verifying it: for the audit trail of a refusal only. */
function claimedSubject(token: string): string | undefined {
  try {
    const sub = decodeJwt(token).sub;
    return typeof sub === 'string' ? sub.slice(0, 128) : undefined;
  } catch {
    return undefined;
  }
}

/** PS3.7 Table D.3-14: User-Identity-Type values. */
const USERNAME_AND_PASSCODE = 2;
const JWT = 5;
const TOTP_LENGTH = 6;

function refusal(err: unknown): IdentityRefusal {
  if (isGatewayError(err, 'ERR_LOCKED_OUT')) return 'locked-out';
  if (isGatewayError(err, 'ERR_BUSY')) return 'busy';
  if (isGatewayError(err, 'ERR_STORE_UNAVAILABLE')) return 'store-unavailable';
  if (isGatewayError(err, 'ERR_DIRECTORY_UNAVAILABLE')) return 'directory-unavailable';
  if (isGatewayError(err, 'ERR_SESSION_EXPIRED') || isGatewayError(err, 'ERR_UNAUTHENTICATED')) return 'token-invalid';
  return 'bad-credentials';
}

export class GatewayIdentityResolver implements IdentityResolver {
  readonly #devices: DeviceRegistry;
  readonly #users: UserDirectory;
  readonly #login: LoginService;
  readonly #sessions: SessionService;
  readonly #audit: Audit;
  readonly #gatewayCa: () => X509Certificate | undefined;

  /** `gatewayCa`: the gateway's own CA in force (TlsMaterial.gatewayCa); devices bound by subjectCn match only its certificates. */
  constructor(deps: { devices: DeviceRegistry; users: UserDirectory; login: LoginService; sessions: SessionService; audit: Audit; gatewayCa?: () => X509Certificate | undefined }) {
    this.#devices = deps.devices;
    this.#users = deps.users;
    this.#login = deps.login;
    this.#sessions = deps.sessions;
    this.#audit = deps.audit;
    this.#gatewayCa = deps.gatewayCa ?? (() => undefined);
  }

  async fromCertificate(cert: PeerCertificateFacts, _source: string): Promise<IdentityResult> {
    const device = this.#devices.findByCertificate(cert, () => {
      const ca = this.#gatewayCa();
      return ca !== undefined && issuedBy(cert, ca);
    });
    if (device === undefined) return { ok: false, refusal: 'certificate-unknown', detail: 'no device is registered for this certificate' };
    if (device.revokedAt !== undefined) return { ok: false, refusal: 'certificate-revoked', detail: `the certificate of device ${device.name} was revoked on ${device.revokedAt}` };
    if (device.disabled) return { ok: false, refusal: 'device-disabled', detail: `device ${device.name} is disabled` };
    const principal: Principal = {
      id: device.name, kind: 'device', role: device.role, method: 'mtls',
      aeTitles: device.aeTitles, certFingerprint: cert.fingerprint256, moveDestinations: device.moveDestinations,
      ...(device.fingerprint === undefined && cert.subjectCn !== undefined ? { certSubjectCn: cert.subjectCn } : {}),
    };
    return { ok: true, principal };
  }

  async fromUserIdentity(type: number, primary: Buffer, secondary: Buffer, source: string, context?: AuditContext): Promise<IdentityResult> {
    let named: string | undefined;
    try {
      if (type === USERNAME_AND_PASSCODE) {
        named = primary.toString('utf8').trim().toLowerCase().slice(0, 128);
        const passcode = secondary.toString('utf8');
        // With auth.local: false the login refuses any passcode alike (local-login-disabled), before looking at it.
        if (passcode.length <= TOTP_LENGTH && this.#login.localEnabled) return { ok: false, refusal: 'bad-credentials', reason: 'malformed-passcode', named, detail: 'passcode must be the password followed by the 6-digit code' };
        const user = await this.#login.login({
          username: primary.toString('utf8'),
          password: passcode.slice(0, -TOTP_LENGTH),
          totp: passcode.slice(-TOTP_LENGTH),
          source, channel: 'dicom', ...(context === undefined ? {} : { context }),
        });
        return { ok: true, principal: { id: user.username, kind: 'user', role: user.role, method: 'dicom-user-password-totp', credentialStamp: credentialStamp(user), ...aeTitlesOf(user) } };
      }
      if (type === JWT) {
        const raw = primary.toString('utf8');
        named = claimedSubject(raw);
        const { token, session } = await this.#sessions.verifyDimseToken(raw);
        if (session.idp !== undefined && session.role !== undefined) {
          // An identity provider's user: no local record; the live session and its role are the proof.
          this.#audit.record({
            event: 'auth.token', decision: 'allow', reason: 'dimse-token-valid', principal: token.username, method: 'dicom-user-jwt', source, tokenId: token.jti, idp: session.idp,
            associationId: context?.associationId, callingAe: context?.callingAe,
          });
          return { ok: true, principal: { id: token.username, kind: 'user', role: session.role, method: 'dicom-user-jwt', sessionId: session.sid, tokenId: token.jti, credentialStamp: session.cred, idp: session.idp } };
        }
        const user = await this.#users.get(token.username);
        // The user as the directory has it now, against the login that made the session.
        const problem = userProblem(user, session.cred);
        this.#audit.record({
          event: 'auth.token', decision: problem === undefined ? 'allow' : 'deny', reason: problem ?? 'dimse-token-valid', principal: token.username, method: 'dicom-user-jwt', source, tokenId: token.jti,
          associationId: context?.associationId, callingAe: context?.callingAe,
        });
        if (problem !== undefined || user === undefined) {
          if (problem === 'credentials-changed') {
            await this.#sessions.revoke(session.sid);
            return { ok: false, refusal: 'token-invalid', reason: problem, named: token.username, detail: 'the password or TOTP secret changed since the login that issued this token; log in again' };
          }
          return { ok: false, refusal: 'user-disabled', reason: problem ?? 'user-unknown', named: token.username };
        }
        return {
          ok: true,
          principal: { id: user.username, kind: 'user', role: user.role, method: 'dicom-user-jwt', sessionId: session.sid, tokenId: token.jti, credentialStamp: session.cred, ...aeTitlesOf(user) },
        };
      }
      return { ok: false, refusal: 'bad-credentials', reason: 'identity-type-not-supported', detail: `user identity type ${type} is not supported (use 2: username + passcode, or 5: JWT)` };
    } catch (err) {
      const r = refusal(err);
      const reason = loginFailureReason(err) ?? r;
      if (type === JWT) {
        this.#audit.record({
          event: 'auth.token', decision: 'deny', reason, principal: named, method: 'dicom-user-jwt', source,
          associationId: context?.associationId, callingAe: context?.callingAe, detail: (err as Error).message,
        });
      }
      return { ok: false, refusal: r, reason, detail: (err as Error).message, ...(named === undefined ? {} : { named }) };
    }
  }

  async stillValid(principal: Principal): Promise<Revalidation> {
    if (principal.kind === 'device') {
      const d = this.#devices.get(principal.id);
      if (d === undefined) return { valid: false, reason: 'device-unknown' };
      if (d.revokedAt !== undefined) return { valid: false, reason: 'certificate-revoked' };
      if (d.disabled) return { valid: false, reason: 'device-disabled' };
      if (d.fingerprint !== undefined && d.fingerprint !== principal.certFingerprint) return { valid: false, reason: 'certificate-changed' };
      if (d.fingerprint === undefined && d.subjectCn !== principal.certSubjectCn) return { valid: false, reason: 'certificate-changed' };
      // What the association was admitted with and its commands are decided on (the role, the device's
      // own move destinations) must not have been narrowed since: reconnecting re-admits.
      if (d.role !== principal.role) return { valid: false, reason: 'role-changed' };
      if (principal.moveDestinations?.some((m) => !d.moveDestinations.includes(m)) === true) return { valid: false, reason: 'move-destinations-changed' };
      return { valid: true, aeTitles: d.aeTitles };
    }
    if (principal.idp !== undefined) {
      // An identity provider's user: only a DIMSE token of a live session admits one (never a type-2 login).
      if (principal.sessionId === undefined || principal.tokenId === undefined) return { valid: false, reason: 'token-revoked' };
      const s = await this.#sessions.checkDimseToken(principal.tokenId, principal.sessionId, principal.id);
      if (!s.ok) return { valid: false, reason: s.reason };
      if (s.session.idp === undefined || s.session.role !== principal.role || s.session.cred !== principal.credentialStamp) return { valid: false, reason: 'role-changed' };
      return { valid: true };
    }
    const u = await this.#users.get(principal.id);
    // A type-2 association has no session: the user record is all there is to re-check.
    const problem = userProblem(u, principal.credentialStamp);
    if (problem !== undefined) return { valid: false, reason: problem };
    if (u?.role !== principal.role) return { valid: false, reason: 'role-changed' };
    // A DIMSE token: its session alive, the token not revoked; a principal of a session: the session alive.
    if (principal.tokenId !== undefined && principal.sessionId === undefined) return { valid: false, reason: 'token-revoked' };
    if (principal.sessionId !== undefined) {
      const s = principal.tokenId !== undefined
        ? await this.#sessions.checkDimseToken(principal.tokenId, principal.sessionId, principal.id)
        : await this.#sessions.checkSession(principal.sessionId, principal.id);
      if (!s.ok) return { valid: false, reason: s.reason };
    }
    return u.aeTitles === undefined ? { valid: true } : { valid: true, aeTitles: u.aeTitles };
  }
}
