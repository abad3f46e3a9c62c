// The association guard: who is calling (certificate, then user identity) and may they open this association?

import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { AlertName } from '../audit/audit.js';
import type { RoleRules } from '../config/types.js';
import type { Principal } from '../identity/principal.js';
import type { IdentityRefusal, IdentityResolver, IdentityResult } from '../identity/resolver.js';
import type { AssociateRq } from './associate-parse.js';
import { DICOM_APPLICATION_CONTEXT } from './constants.js';
import { Refusal, type Rejection } from './reject.js';

/** What the TLS layer knows about the peer. */
export interface TlsPeer {
  /** socket.authorized: the presented certificate chains to tls.clientCa and is not revoked. */
  readonly authorized: boolean;
  readonly authorizationError: string | undefined;
  /** The presented certificate, or undefined when none was presented. */
  readonly certificate: PeerCertificate | undefined;
}

export type Admission =
  | { readonly ok: true; readonly principal: Principal; readonly via: 'certificate' | 'user-identity'; readonly userIdentityType?: number }
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

/** A presented certificate: node gives `{}` from getPeerCertificate() when there is none. */
export function presentedCertificate(cert: PeerCertificate | Record<string, never> | null | undefined): PeerCertificate | undefined {
  return cert !== null && cert !== undefined && typeof (cert as PeerCertificate).fingerprint256 === 'string' ? cert as PeerCertificate : undefined;
}

/** node reports a verification failure as an OpenSSL code string such as CERT_REVOKED (typed as Error). */
function authorizationCode(e: unknown): string | undefined {
  if (e === undefined || e === null) return undefined;
  return typeof e === 'string' ? e : String((e as { code?: unknown }).code ?? (e as Error).message);
}

/** What a TLS socket says about its peer's certificate. */
export function tlsPeer(socket: TLSSocket): TlsPeer {
  return {
    authorized: socket.authorized,
    authorizationError: authorizationCode(socket.authorizationError),
    certificate: presentedCertificate(socket.getPeerCertificate()),
  };
}

function refusalFor(r: IdentityRefusal): Rejection {
  if (r === 'locked-out') return Refusal.lockedOut;
  if (r === 'store-unavailable') return Refusal.temporaryCongestion;
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
 * Decides an A-ASSOCIATE-RQ before anything reaches the PACS. Order: protocol version and
 * application context (PS3.8 §9.3.2), then identity — a presented certificate must have been
 * verified (a failed one is refused even if user identity is also offered), a verified one is
 * looked up as a device; otherwise the User Identity sub-item (PS3.7 D.3.3.7); otherwise refused —
 * then the calling AE title against the titles the principal (a device, or a user when set) and its
 * role are bound to. `context.associationId` goes on the identity layer's audit events.
 */
export async function admit(rq: AssociateRq, tls: TlsPeer, source: string, identity: IdentityResolver, context: AdmissionContext): Promise<Admission> {
  // PS3.8 §9.3.2: bit 0 of the protocol version is the only version defined.
  if ((rq.protocolVersion & 0x0001) === 0) return { ok: false, rejection: Refusal.protocolVersionNotSupported, reason: 'protocol-version-not-supported' };
  if (rq.applicationContext !== DICOM_APPLICATION_CONTEXT) {
    return { ok: false, rejection: Refusal.applicationContextNotSupported, reason: 'application-context-not-supported', detail: rq.applicationContext };
  }
  if (rq.calledAe === '') return { ok: false, rejection: Refusal.calledAeNotRecognized, reason: 'called-ae-empty' };
  if (rq.callingAe === '') return { ok: false, rejection: Refusal.callingAeNotRecognized, reason: 'calling-ae-empty' };

  let result: IdentityResult | Error;
  let via: 'certificate' | 'user-identity';
  if (tls.certificate !== undefined) {
    if (!tls.authorized) {
      const error = tls.authorizationError ?? 'unknown';
      return {
        ok: false, rejection: Refusal.notAuthenticated, reason: 'certificate-not-verified', detail: error,
        ...(error === 'CERT_REVOKED' ? { alert: 'cert.revoked-presented' as const } : {}),
        ...(error === 'CERT_HAS_EXPIRED' ? { alert: 'cert.expired-presented' as const } : {}),
      };
    }
    via = 'certificate';
    const cert = tls.certificate;
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
  const roleTitles = Object.hasOwn(context.roles, principal.role) ? context.roles[principal.role]?.aeTitles : undefined;
  if ((principal.aeTitles !== undefined && !principal.aeTitles.includes(rq.callingAe)) || (roleTitles !== undefined && !roleTitles.includes(rq.callingAe))) {
    return { ok: false, rejection: Refusal.callingAeNotRecognized, reason: 'calling-ae-not-allowed', detail: rq.callingAe, named: principal.id, ...typed };
  }
  return { ok: true, principal, via, ...typed };
}
