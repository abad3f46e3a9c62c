// Sessions: jose-signed JWTs backed by a state-store record (revocation, idle timeout, absolute lifetime),
// and the DIMSE tokens a session issues, which live no longer than it.

import { randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import type { Audit } from '../audit/audit.js';
import { GatewayError } from '../errors.js';
import type { StateStore } from '../state/store.js';
import type { Clock } from '../util/clock.js';
import { credentialStamp, type Credentials } from './credential-stamp.js';

export const HTTP_AUDIENCE = 'pacs-gateway/http';
export const DIMSE_AUDIENCE = 'pacs-gateway/dimse';
const ISSUER = 'pacs-gateway';

export interface SessionRecord {
  readonly sid: string;
  readonly username: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly lastSeen: number;
  readonly source: string;
  /** credentialStamp() of the password and TOTP secret the login proved; a session whose user no longer has them is over. */
  readonly cred: string;
  /** Set for a session of an external identity provider (auth.oidc): there is no local user record behind it. */
  readonly idp?: 'oidc';
  /** The role the IdP's claims mapped to at sign-in (idp sessions only). */
  readonly role?: string;
}

/** Who an identity provider vouched for (after MFA, checked on its ID token). */
export interface ExternalIdentity {
  readonly idp: 'oidc';
  readonly username: string;
  readonly role: string;
  /** Stands where a local login's credentialStamp stands (e.g. a digest of iss and sub). */
  readonly stamp: string;
}

/**
 * A DIMSE token's record. `expiresAt` bounds when the token may open an association; the record
 * itself is kept until its session's maximum lifetime, so that an open association can tell a
 * token that was revoked (record deleted) from one that merely passed its issuing window.
 */
export interface DimseTokenRecord {
  readonly jti: string;
  readonly username: string;
  readonly sid: string;
  readonly expiresAt: number;
  readonly lastSeen: number;
}

/** Why a session is over: logged out, replaced by a new login or revoked; idle; past its maximum lifetime. */
export type SessionEnd = 'session-ended' | 'session-idle' | 'session-expired';

/** Why a session, or a DIMSE token through its session, no longer admits anyone. */
export type SessionProblem = SessionEnd | 'token-revoked';

/** Why `revokeUser` was called; goes into the audit event. */
export type RevocationReason = 'password-changed' | 'totp-reset' | 'user-disabled' | 'user-removed';

export type SessionCheck =
  | { readonly ok: true; readonly session: SessionRecord }
  | { readonly ok: false; readonly reason: SessionProblem };

export interface IssuedToken { readonly token: string; readonly expiresAt: number; readonly id: string }

export interface SessionOptions {
  readonly store: StateStore;
  readonly clock: Clock;
  readonly signingKey: Uint8Array;
  readonly idleMs: number;
  readonly maxMs: number;
  readonly dimseTokenMs: number;
  /** Where revokeUser records its `auth.session` event. */
  readonly audit?: Audit;
}

/** Store records outlive the idle window by this much, so an expiry is reported as what it was. */
const GRACE_MS = 60_000;

/** What a user's session pointer holds after revokeUser: no session of theirs is current. */
const REVOKED = '-';

const SESSION_MESSAGES: Readonly<Record<SessionEnd, string>> = Object.freeze({
  'session-ended': 'the session has ended; log in again',
  'session-idle': 'the session timed out after inactivity; log in again',
  'session-expired': 'the session reached its maximum lifetime; log in again',
});

/** Verified-token cache: skips re-verifying a signature seen in the last few seconds (the store check still runs). */
const VERIFY_CACHE_MS = 5_000;
const VERIFY_CACHE_MAX = 10_000;

export class SessionService {
  readonly #o: SessionOptions;
  readonly #verified = new Map<string, { payload: { sid: string; sub: string; exp: number; aud: string }; until: number }>();

  constructor(options: SessionOptions) {
    this.#o = options;
  }

  #key(sid: string): string { return `session:${sid}`; }

  #pointer(username: string): string { return `user-session:${username}`; }

  /**
   * Creates a session after a successful MFA login, for the user record the password and code were
   * checked against. A previous session of the same user is ended, and with it its DIMSE tokens.
   */
  async create(user: Credentials & { readonly username: string }, source: string): Promise<IssuedToken & { sid: string }> {
    return this.#open({ username: user.username, cred: credentialStamp(user) }, source);
  }

  /** Creates a session for a user an identity provider vouched for; otherwise exactly as create(). */
  async createExternal(who: ExternalIdentity, source: string): Promise<IssuedToken & { sid: string }> {
    return this.#open({ username: who.username, cred: who.stamp, idp: who.idp, role: who.role }, source);
  }

  async #open(who: Pick<SessionRecord, 'username' | 'cred' | 'idp' | 'role'>, source: string): Promise<IssuedToken & { sid: string }> {
    const now = this.#o.clock();
    const { username } = who;
    const sid = randomBytes(16).toString('base64url');
    const expiresAt = now + this.#o.maxMs;
    const record: SessionRecord = { ...who, sid, createdAt: now, expiresAt, lastSeen: now, source };
    await this.#o.store.putRecord(this.#key(sid), record, Math.min(this.#o.idleMs, this.#o.maxMs) + GRACE_MS);
    // The pointer outlives every session it named (at most maxMs), so a swap always finds the one to end.
    const previous = await this.#o.store.swap(this.#pointer(username), sid, this.#o.maxMs + GRACE_MS);
    if (previous !== null && previous !== sid && previous !== REVOKED) await this.#o.store.deleteRecord(this.#key(previous));
    const token = await new SignJWT({ sid })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(username).setIssuer(ISSUER).setAudience(HTTP_AUDIENCE)
      .setIssuedAt(Math.floor(now / 1000)).setExpirationTime(Math.floor(expiresAt / 1000))
      .sign(this.#o.signingKey);
    return { token, expiresAt, sid, id: sid };
  }

  async #verifyJwt(token: string, audience: string): Promise<{ sid: string; sub: string; exp: number; aud: string }> {
    const now = this.#o.clock();
    // Keyed by the token itself (only verified tokens are stored): a SHA-256 of it per request cost
    // ~2 % of a QIDO-RS request's CPU (docs/benchmarks.md).
    const hit = this.#verified.get(token);
    if (hit !== undefined && hit.until > now && hit.payload.aud === audience && hit.payload.exp * 1000 > now) return hit.payload;
    try {
      const { payload } = await jwtVerify(token, this.#o.signingKey, {
        issuer: ISSUER, audience, algorithms: ['HS256'], currentDate: new Date(now), clockTolerance: 0,
      });
      const claim = audience === DIMSE_AUDIENCE ? payload.jti : payload['sid'];
      if (typeof claim !== 'string' || typeof payload.sub !== 'string' || typeof payload.exp !== 'number') {
        throw new GatewayError('ERR_UNAUTHENTICATED', 'token lacks required claims');
      }
      const p = { sid: claim, sub: payload.sub, exp: payload.exp, aud: audience };
      if (this.#verified.size >= VERIFY_CACHE_MAX) this.#verified.clear();
      this.#verified.set(token, { payload: p, until: now + VERIFY_CACHE_MS });
      return p;
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      if (err instanceof joseErrors.JWTExpired) throw new GatewayError('ERR_SESSION_EXPIRED', undefined, { cause: err });
      throw new GatewayError('ERR_UNAUTHENTICATED', 'the token is not valid', { cause: err });
    }
  }

  /**
   * Checks an HTTP session token: signature, audience, expiry, then the store record
   * (revoked, idle or past its absolute lifetime → ERR_SESSION_EXPIRED). Touches the record.
   */
  async verify(token: string): Promise<SessionRecord> {
    const p = await this.#verifyJwt(token, HTTP_AUDIENCE);
    const s = await this.#live(p.sid, p.sub, this.#o.clock());
    if (!s.ok) throw new GatewayError('ERR_SESSION_EXPIRED', SESSION_MESSAGES[s.reason]);
    return s.session;
  }

  /**
   * The session `sid` of `username` if it is alive: record present (not logged out, replaced or
   * revoked), not idle, not past its maximum. Touches it (this is activity); deletes it once over.
   */
  async #live(sid: string, username: string, now: number): Promise<{ ok: true; session: SessionRecord } | { ok: false; reason: SessionEnd }> {
    const record = await this.#o.store.touchRecord<SessionRecord>(this.#key(sid), now, this.#o.idleMs + GRACE_MS);
    if (record === null || record.username !== username) return { ok: false, reason: 'session-ended' };
    if (now - record.lastSeen > this.#o.idleMs || now >= record.expiresAt) {
      await this.#o.store.deleteRecord(this.#key(sid));
      return { ok: false, reason: now >= record.expiresAt ? 'session-expired' : 'session-idle' };
    }
    return { ok: true, session: record };
  }

  /** Ends a session (logout, disabled user), and with it every DIMSE token it issued. */
  async revoke(sid: string): Promise<boolean> {
    return this.#o.store.deleteRecord(this.#key(sid));
  }

  /**
   * Ends the user's session and every DIMSE token it issued, on every replica (the state is in the
   * store): for a password change, a TOTP reset, a disabled or removed account. Open associations
   * made with those tokens are aborted at their next re-check. Call it after the user record was
   * changed. Resolves true when a session was ended.
   */
  async revokeUser(username: string, reason: RevocationReason): Promise<boolean> {
    // The pointer names the user's one current session (create() ends the one before); a tombstone
    // in its place means a login still in flight ends nothing it should not.
    const previous = await this.#o.store.swap(this.#pointer(username), REVOKED, this.#o.maxMs + GRACE_MS);
    const ended = previous !== null && previous !== REVOKED && (await this.#o.store.deleteRecord(this.#key(previous)));
    this.#o.audit?.record({ event: 'auth.session', decision: 'deny', reason: `revoked:${reason}`, principal: username, sessionEnded: ended });
    return ended;
  }

  /** Issues a short-lived DIMSE token (type 5 user identity) bound to a live session; its audience keeps it out of HTTP. */
  async issueDimseToken(session: SessionRecord): Promise<IssuedToken> {
    const now = this.#o.clock();
    const jti = randomBytes(16).toString('base64url');
    const expiresAt = Math.min(now + this.#o.dimseTokenMs, session.expiresAt);
    const record: DimseTokenRecord = { jti, username: session.username, sid: session.sid, expiresAt, lastSeen: now };
    await this.#o.store.putRecord(`dimse-token:${jti}`, record, session.expiresAt - now + GRACE_MS);
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(session.username).setIssuer(ISSUER).setAudience(DIMSE_AUDIENCE).setJti(jti)
      .setIssuedAt(Math.floor(now / 1000)).setExpirationTime(Math.floor(expiresAt / 1000))
      .sign(this.#o.signingKey);
    return { token, expiresAt, id: jti };
  }

  /**
   * Checks a DIMSE token before it opens an association: signature, audience, expiry, that it was
   * not revoked, and that the session that issued it is alive (which the use touches: an
   * association counts as activity of its session). The caller checks the user against `session.cred`.
   */
  async verifyDimseToken(token: string): Promise<{ token: DimseTokenRecord; session: SessionRecord }> {
    const p = await this.#verifyJwt(token, DIMSE_AUDIENCE);
    const now = this.#o.clock();
    const record = await this.#o.store.getRecord<DimseTokenRecord>(`dimse-token:${p.sid}`);
    if (record === null || record.username !== p.sub || now >= record.expiresAt) {
      throw new GatewayError('ERR_SESSION_EXPIRED', 'the DIMSE token was revoked or has expired');
    }
    const s = await this.#live(record.sid, record.username, now);
    if (!s.ok) throw new GatewayError('ERR_SESSION_EXPIRED', `the session that issued this DIMSE token is over (${s.reason}); log in and get a new token`);
    return { token: record, session: s.session };
  }

  /** Whether session `sid` of `username` is still alive (and touches it): for a re-check of what it made. */
  async checkSession(sid: string, username: string): Promise<SessionCheck> {
    return this.#live(sid, username, this.#o.clock());
  }

  /**
   * Re-checks what admitted an open association (two store reads, every re-check interval): the
   * session is alive (and touched) and the token was not revoked. Its issuing window does not matter
   * here: an association lives on past it while its session does.
   */
  async checkDimseToken(tokenId: string, sid: string, username: string): Promise<SessionCheck> {
    const s = await this.checkSession(sid, username);
    if (!s.ok) return s;
    const record = await this.#o.store.getRecord<DimseTokenRecord>(`dimse-token:${tokenId}`);
    if (record === null || record.sid !== sid || record.username !== username) return { ok: false, reason: 'token-revoked' };
    return s;
  }

  /** Revokes one of `username`'s DIMSE tokens by id; false when there is no such token of theirs. */
  async revokeDimseTokenOf(username: string, jti: string): Promise<boolean> {
    const record = await this.#o.store.getRecord<DimseTokenRecord>(`dimse-token:${jti}`);
    if (record === null || record.username !== username) return false;
    return this.#o.store.deleteRecord(`dimse-token:${jti}`);
  }
}
