// Authenticates an HTTP request: bearer token, session cookie, or a verified mTLS client certificate.

import type { FastifyRequest } from 'fastify';
import type { Audit } from '../audit/audit.js';
import { GatewayError } from '../errors.js';
import { userProblem } from '../identity/credential-stamp.js';
import type { Principal } from '../identity/principal.js';
import type { IdentityResolver } from '../identity/resolver.js';
import type { SessionRecord, SessionService } from '../identity/sessions.js';
import type { UserDirectory } from '../identity/user-directory.js';
import { NO_PEER_CERTIFICATE, verificationAlert, type PeerIdentity } from '../tls/peer-identity.js';
import { readCookie } from './cookies.js';

export interface HttpAuthDeps {
  readonly sessions: SessionService;
  readonly users: UserDirectory;
  readonly identity: IdentityResolver;
  readonly cookieName: string;
  /** Where refused certificates raise their alert (revoked, expired). */
  readonly audit?: Audit;
}

export interface Authenticated { readonly principal: Principal; readonly session?: SessionRecord }

/** What authentication needs of a request, whichever server parsed it. */
export interface AuthInput {
  readonly authorization: string | undefined;
  readonly cookie: string | undefined;
  /** The client's address (after trustProxy). */
  readonly ip: string;
  /** The client's identity as its TLS handshake established it (taken once per connection). */
  readonly tls: PeerIdentity;
  /** The HTTP exchange's id (audit events and alerts carry it). */
  readonly requestId?: string;
}

/** The AuthInput of a fastify request. */
export function authInputOf(req: FastifyRequest): AuthInput {
  // The control plane's socket is the edge's in-process connection, which carries the snapshot (internal-socket.ts).
  const peer = (req.raw.socket as { peerIdentity?: PeerIdentity }).peerIdentity;
  return { authorization: req.headers.authorization, cookie: req.headers.cookie, ip: req.ip, tls: peer ?? NO_PEER_CERTIFICATE, requestId: req.id };
}

/**
 * The last well-formed Authorization value and its token. A keep-alive client sends the same
 * value on every request: handing back the same token string also spares the session cache
 * hashing a new one (docs/benchmarks.md).
 */
let lastBearer: { readonly header: string | undefined; readonly token: string } = { header: undefined, token: '' };

/** The session token a request carries, and how. Bearer wins; a malformed Authorization header is an error. */
export function sessionTokenOf(req: AuthInput, cookieName: string): { token: string; method: 'bearer-token' | 'session-cookie' } | undefined {
  const auth = req.authorization;
  if (auth !== undefined) {
    if (auth === lastBearer.header) return { token: lastBearer.token, method: 'bearer-token' };
    const m = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(auth);
    if (m === null || m[1] === undefined) throw new GatewayError('ERR_UNAUTHENTICATED', 'the Authorization header must be "Bearer <token>"');
    lastBearer = { header: auth, token: m[1] };
    return { token: m[1], method: 'bearer-token' };
  }
  const cookie = readCookie(req.cookie, cookieName);
  return cookie === undefined || cookie === '' ? undefined : { token: cookie, method: 'session-cookie' };
}

/**
 * Resolves the principal of a request or throws a GatewayError (401, or 503 when the
 * state store is down). A token that is present but bad is refused outright, never
 * passed over in favour of a certificate.
 */
export async function authenticate(req: AuthInput, deps: HttpAuthDeps): Promise<Authenticated> {
  const carried = sessionTokenOf(req, deps.cookieName);
  if (carried !== undefined) {
    const session = await deps.sessions.verify(carried.token);
    // An identity provider's user (auth.oidc): the session is all there is; it ends by logout, timeout or back-channel logout.
    if (session.idp !== undefined && session.role !== undefined) {
      return { principal: { id: session.username, kind: 'user', role: session.role, method: carried.method, sessionId: session.sid, idp: session.idp, credentialStamp: session.cred }, session };
    }
    const user = await deps.users.get(session.username);
    // The account as it is now: disabled, removed, or a new password or TOTP secret since this login.
    const problem = userProblem(user, session.cred);
    if (problem !== undefined || user === undefined) {
      await deps.sessions.revoke(session.sid);
      throw new GatewayError('ERR_SESSION_EXPIRED', problem === 'credentials-changed'
        ? 'the password or TOTP secret changed since this login; the session has ended'
        : 'the account is disabled; the session has ended');
    }
    return { principal: { id: user.username, kind: 'user', role: user.role, method: carried.method, sessionId: session.sid }, session };
  }
  const peer = req.tls;
  const cert = peer.certificate;
  if (cert !== undefined) {
    const facts = { source: req.ip, channel: 'https', certFingerprint: cert.fingerprint256, serial: cert.serialNumber, subject: cert.subjectCn, requestId: req.requestId };
    if (!peer.verified) {
      const code = peer.verifyError ?? 'unknown';
      const alert = verificationAlert(code);
      if (alert !== undefined) deps.audit?.alert(alert, { ...facts, certificateError: code });
      throw new GatewayError('ERR_CERT_REFUSED', `the client certificate was not accepted: ${code}`, { detail: { certificateError: code } });
    }
    const r = await deps.identity.fromCertificate(cert, req.ip);
    if (!r.ok) {
      if (r.refusal === 'certificate-revoked') deps.audit?.alert('cert.revoked-presented', { ...facts, refusal: r.refusal, detail: r.detail });
      throw new GatewayError('ERR_CERT_REFUSED', r.detail ?? 'the client certificate is not registered to a device', { detail: { refusal: r.refusal } });
    }
    return { principal: r.principal };
  }
  throw new GatewayError('ERR_UNAUTHENTICATED', 'log in first (POST /auth/login) or present a session token or client certificate');
}
