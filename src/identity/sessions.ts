// Sessions: jose-signed JWTs backed by a state-store record (revocation, idle timeout, absolute lifetime).

import { randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { GatewayError } from '../errors.js';
import type { StateStore } from '../state/store.js';
import type { Clock } from '../util/clock.js';

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
}

export interface DimseTokenRecord {
  readonly jti: string;
  readonly username: string;
  readonly sid: string;
  readonly expiresAt: number;
  readonly lastSeen: number;
}

export interface IssuedToken { readonly token: string; readonly expiresAt: number; readonly id: string }

export interface SessionOptions {
  readonly store: StateStore;
  readonly clock: Clock;
  readonly signingKey: Uint8Array;
  readonly idleMs: number;
  readonly maxMs: number;
  readonly dimseTokenMs: number;
}

/** Store records outlive the idle window by this much, so an expiry is reported as what it was. */
const GRACE_MS = 60_000;

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

  /** Creates a session after a successful MFA login; a previous session of the same user is ended. */
  async create(username: string, source: string): Promise<IssuedToken & { sid: string }> {
    const now = this.#o.clock();
    const sid = randomBytes(16).toString('base64url');
    const expiresAt = now + this.#o.maxMs;
    const record: SessionRecord = { sid, username, createdAt: now, expiresAt, lastSeen: now, source };
    await this.#o.store.putRecord(this.#key(sid), record, Math.min(this.#o.idleMs, this.#o.maxMs) + GRACE_MS);
    const previous = await this.#o.store.swap(`user-session:${username}`, sid, this.#o.maxMs);
    if (previous !== null && previous !== sid) await this.#o.store.deleteRecord(this.#key(previous));
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
    const now = this.#o.clock();
    const record = await this.#o.store.touchRecord<SessionRecord>(this.#key(p.sid), now, this.#o.idleMs + GRACE_MS);
    if (record === null || record.username !== p.sub) throw new GatewayError('ERR_SESSION_EXPIRED', 'the session has ended; log in again');
    if (now - record.lastSeen > this.#o.idleMs || now >= record.expiresAt) {
      await this.#o.store.deleteRecord(this.#key(p.sid));
      throw new GatewayError('ERR_SESSION_EXPIRED', now >= record.expiresAt ? 'the session reached its maximum lifetime; log in again' : 'the session timed out after inactivity; log in again');
    }
    return record;
  }

  /** Ends a session (logout, disabled user). */
  async revoke(sid: string): Promise<boolean> {
    return this.#o.store.deleteRecord(this.#key(sid));
  }

  /** Issues a short-lived DIMSE token (type 5 user identity) bound to a live session; its audience keeps it out of HTTP. */
  async issueDimseToken(session: SessionRecord): Promise<IssuedToken> {
    const now = this.#o.clock();
    const jti = randomBytes(16).toString('base64url');
    const expiresAt = Math.min(now + this.#o.dimseTokenMs, session.expiresAt);
    const record: DimseTokenRecord = { jti, username: session.username, sid: session.sid, expiresAt, lastSeen: now };
    await this.#o.store.putRecord(`dimse-token:${jti}`, record, expiresAt - now);
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(session.username).setIssuer(ISSUER).setAudience(DIMSE_AUDIENCE).setJti(jti)
      .setIssuedAt(Math.floor(now / 1000)).setExpirationTime(Math.floor(expiresAt / 1000))
      .sign(this.#o.signingKey);
    return { token, expiresAt, id: jti };
  }

  /** Checks a DIMSE token: signature, audience, expiry and that it was not revoked. */
  async verifyDimseToken(token: string): Promise<DimseTokenRecord> {
    const p = await this.#verifyJwt(token, DIMSE_AUDIENCE);
    const record = await this.#o.store.getRecord<DimseTokenRecord>(`dimse-token:${p.sid}`);
    if (record === null || record.username !== p.sub || this.#o.clock() >= record.expiresAt) {
      throw new GatewayError('ERR_SESSION_EXPIRED', 'the DIMSE token was revoked or has expired');
    }
    return record;
  }

  /** Revokes one of `username`'s DIMSE tokens by id; false when there is no such token of theirs. */
  async revokeDimseTokenOf(username: string, jti: string): Promise<boolean> {
    const record = await this.#o.store.getRecord<DimseTokenRecord>(`dimse-token:${jti}`);
    if (record === null || record.username !== username) return false;
    return this.#o.store.deleteRecord(`dimse-token:${jti}`);
  }
}
