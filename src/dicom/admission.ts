// The association guard: who is calling (certificate, then user identity) and may they open this association?

import type { AlertName } from '../audit/audit.js';
import type { RoleRules } from '../config/types.js';
import type { Principal } from '../identity/principal.js';
import type { IdentityRefusal, IdentityResolver, IdentityResult } from '../identity/resolver.js';
import { verificationAlert, type PeerIdentity } from '../tls/peer-identity.js';
import type { AssociateRq } from './associate-parse.js';
import { DICOM_APPLICATION_CONTEXT } from './constants.js';
import { Refusal, type Rejection } from './reject.js';

/** How a principal was admitted: a client certificate, User Identity negotiation, or (legacy port) its source address and AE title. */
export type AdmittedVia = 'certificate' | 'user-identity' | 'legacy-address';

export type Admission =
  | { readonly ok: true; readonly principal: Principal; readonly via: AdmittedVia; readonly userIdentityType?: number }
  | {
    readonly ok: false; readonly rejection: Rejection; readonly reason: string; readonly detail?: string; readonly alert?: AlertName;
    /** Who the client claimed or proved to be (a username, a token's subject, a device), for the audit trail. */
    readonly named?: string;
    readonly userIdentityType?: number;
    /** The identity layer's refusal, when `reason` is the more precise one (wrong-totp → bad-credentials). */
    readonly refusal?: string;
  };

/** What admission needs besides the request: where its audit events go, and the role table in force. */
export interface AdmissionContext {
  readonly associationId: string;
  readonly roles: Readonly<Record<string, RoleRules>>;
}

/** The checks every port makes before identity: protocol version, application context (PS3.8 §9.3.2), non-empty AE titles. */
export function checkRequest(rq: AssociateRq): Admission & { ok: false } | undefined {
  // PS3.8 §9.3.2: bit 0 of the protocol version is the only version defined.
  if ((rq.protocolVersion & 0x0001) === 0) return { ok: false, rejection: Refusal.protocolVersionNotSupported, reason: 'protocol-version-not-supported' };
  if (rq.applicationContext !== DICOM_APPLICATION_CONTEXT) {
    return { ok: false, rejection: Refusal.applicationContextNotSupported, reason: 'application-context-not-supported', detail: rq.applicationContext };
  }
  if (rq.calledAe === '') return { ok: false, rejection: Refusal.calledAeNotRecognized, reason: 'called-ae-empty' };
  if (rq.callingAe === '') return { ok: false, rejection: Refusal.callingAeNotRecognized, reason: 'calling-ae-empty' };
  return undefined;
}

function refusalFor(r: IdentityRefusal): Rejection {
  if (r === 'locked-out') return Refusal.lockedOut;
  // PS3.8 §9.3.4: the password checks are all busy, a passing overload, not a limit this client is
  // counted against (that is 2/3/2, the association limits): 2/3/1, temporary congestion.
  // The hospital directory cannot be reached: transient too, the client may try again later.
  if (r === 'store-unavailable' || r === 'busy' || r === 'directory-unavailable') return Refusal.temporaryCongestion;
  return Refusal.notAuthenticated;
}

async function resolve(call: () => Promise<IdentityResult>): Promise<IdentityResult | Error> {
  try {
    return await call();
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/**
 * Whether `callingAe` is one of the principal's own titles (`titles`: a device's, a user's when set;
 * undefined: any) and of its role's (when set). At admission, and at every re-check of an open
 * association with the titles and roles in force then.
 */
export function callingAeAllowed(callingAe: string, titles: readonly string[] | undefined, role: string, roles: Readonly<Record<string, RoleRules>>): boolean {
  const roleTitles = Object.hasOwn(roles, role) ? roles[role]?.aeTitles : undefined;
  return (titles === undefined || titles.includes(callingAe)) && (roleTitles === undefined || roleTitles.includes(callingAe));
}

/**
 * Decides an A-ASSOCIATE-RQ before anything reaches the PACS. Order: protocol version and
 * application context (PS3.8 §9.3.2), then identity — a presented certificate must have been
 * verified (a failed one is refused even if user identity is also offered), a verified one is
 * looked up as a device; otherwise the User Identity sub-item (PS3.7 D.3.3.7); otherwise refused —
 * then the calling AE title against the titles the principal (a device, or a user when set) and its
 * role are bound to. `peer` is the connection's identity as its TLS handshake established it
 * (snapshotPeer), never the live socket; `context.associationId` goes on the identity layer's audit events.
 */
export async function admit(rq: AssociateRq, peer: PeerIdentity, source: string, identity: IdentityResolver, context: AdmissionContext): Promise<Admission> {
  const malformed = checkRequest(rq);
  if (malformed !== undefined) return malformed;

  let result: IdentityResult | Error;
  let via: 'certificate' | 'user-identity';
  const cert = peer.certificate;
  if (cert !== undefined) {
    if (!peer.verified) {
      const error = peer.verifyError ?? 'unknown';
      const alert = verificationAlert(error);
      return { ok: false, rejection: Refusal.notAuthenticated, reason: 'certificate-not-verified', detail: error, ...(alert === undefined ? {} : { alert }) };
    }
    via = 'certificate';
    result = await resolve(() => identity.fromCertificate(cert, source));
  } else if (rq.userIdentity !== undefined) {
    via = 'user-identity';
    const id = rq.userIdentity;
    result = await resolve(() => identity.fromUserIdentity(id.type, id.primary, id.secondary, source, { associationId: context.associationId, callingAe: rq.callingAe }));
  } else {
    return { ok: false, rejection: Refusal.notAuthenticated, reason: 'no-identity' };
  }
  const userIdentityType = via === 'user-identity' ? rq.userIdentity?.type : undefined;
  const typed = userIdentityType === undefined ? {} : { userIdentityType };
  if (result instanceof Error) return { ok: false, rejection: Refusal.temporaryCongestion, reason: 'identity-error', detail: result.message, ...typed };
  if (!result.ok) {
    return {
      ok: false, rejection: refusalFor(result.refusal), reason: result.reason ?? result.refusal, ...typed,
      ...(result.reason === undefined || result.reason === result.refusal ? {} : { refusal: result.refusal }),
      ...(result.named === undefined ? {} : { named: result.named }),
      ...(result.detail === undefined ? {} : { detail: result.detail }),
      ...(result.refusal === 'certificate-revoked' ? { alert: 'cert.revoked-presented' as const } : {}),
    };
  }
  const principal = result.principal;
  // A calling AE title must be the principal's own (a device's, a user's when set) and the role's (when set):
  // a user presenting a modality's title would get whatever the PACS grants that title.
  if (!callingAeAllowed(rq.callingAe, principal.aeTitles, principal.role, context.roles)) {
    return { ok: false, rejection: Refusal.callingAeNotRecognized, reason: 'calling-ae-not-allowed', detail: rq.callingAe, named: principal.id, ...typed };
  }
  return { ok: true, principal, via, ...typed };
}
