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

/** Why a session is over: logged out, ended by a login beyond session.maxPerUser or revoked; idle; past its maximum lifetime. */
export type SessionEnd = 'session-ended' | 'session-idle' | 'session-expired'
  /** A local password sign-in's session, on a gateway where that sign-in is turned off (auth.local: false). */
  | 'local-login-disabled';

/** Why a session, or a DIMSE token through its session, no longer admits anyone. */
export type SessionProblem = SessionEnd | 'token-revoked';

/** Why `revokeUser` was called; goes into the audit event. */
export type RevocationReason = 'password-changed' | 'totp-reset' | 'user-disabled' | 'user-removed' | 're-enrolment' | 'signed-out-elsewhere'
  /** `users end-sessions`. */
  | 'ended-by-admin';

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
  /** Sessions one user may hold at once (session.maxPerUser, default 5); a login beyond them ends the oldest. */
  readonly maxPerUser?: number;
  /** Where revokeUser records its `auth.session` event. */
  readonly audit?: Audit;
  /**
   * false (auth.local: false): a session opened by a local password sign-in (no `idp`) ends at its
   * next use, and with it its DIMSE tokens and associations; one from before the switch is not kept.
   */
  readonly localSessions?: boolean;
}

/** Store records outlive the idle window by this much, so an expiry is reported as what it was. */
const GRACE_MS = 60_000;

/** What a user's session slot holds after revokeUser: no session of theirs is current. */
const REVOKED = '-';

export const DEFAULT_MAX_SESSIONS_PER_USER = 5;

/** One entry of a user's session index (`user-sessions:USER`): which slot a session holds. */
interface IndexEntry { readonly sid: string; readonly slot: number; readonly createdAt: number }

/** One entry of a user's DIMSE token index (`user-dimse-tokens:USER`). */
interface TokenIndexEntry { readonly jti: string; readonly sid: string; readonly expiresAt: number; readonly createdAt: number }

/** A DIMSE token as the account page lists it (never the token itself). */
export interface DimseTokenInfo { readonly id: string; readonly sid: string; readonly createdAt: number; readonly expiresAt: number }

const SESSION_MESSAGES: Readonly<Record<SessionEnd, string>> = Object.freeze({
  'session-ended': 'the session has ended; log in again',
  'session-idle': 'the session timed out after inactivity; log in again',
  'session-expired': 'the session reached its maximum lifetime; log in again',
  'local-login-disabled': 'this session came from a gateway password sign-in, which is turned off here (auth.local: false); the session has ended: sign in through the identity provider',
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

  /** Slot `slot` of the user's sessions: the sid holding it (a string swapped atomically, so never two at once). */
  #slot(username: string, slot: number): string { return `user-session:${username}:${slot}`; }

  #index(username: string): string { return `user-sessions:${username}`; }

  #tokenIndex(username: string): string { return `user-dimse-tokens:${username}`; }

  get maxPerUser(): number { return this.#o.maxPerUser ?? DEFAULT_MAX_SESSIONS_PER_USER; }

  /**
   * Creates a session after a successful MFA login, for the user record the password and code were
   * checked against. A user holds at most `maxPerUser` sessions: each one holds a slot (a string
   * swapped atomically in the store), and the session a new one swaps out is ended, with its DIMSE
   * tokens. The slot taken is a free one (its session over) or else the one of the oldest session;
   * concurrent logins may pick the same slot, which still leaves at most `maxPerUser` alive.
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
    const live = await this.#liveIndex(username);
    const slot = this.#freeSlot(live);
    // The slot outlives every session it named (at most maxMs), so a swap always finds the one to end.
    const previous = await this.#o.store.swap(this.#slot(username, slot), sid, this.#o.maxMs + GRACE_MS);
    if (previous !== null && previous !== sid && previous !== REVOKED) await this.#o.store.deleteRecord(this.#key(previous));
    // Slots beyond a since lowered maxPerUser are not taken again: their sessions end now, or the
    // user would keep them all (the limit counts from this login on).
    const beyond = live.filter((e) => e.slot >= this.maxPerUser);
    for (const e of beyond) {
      await this.#o.store.swap(this.#slot(username, e.slot), REVOKED, this.#o.maxMs + GRACE_MS);
      await this.#o.store.deleteRecord(this.#key(e.sid));
    }
    // The index only serves listing and "sign out everywhere else" (best effort under concurrent
    // logins); the slots above are what bound the count, and the credential stamp what ends them on a change.
    const entries = [...live.filter((e) => e.slot !== slot && e.sid !== previous && e.slot < this.maxPerUser).map((e) => e.entry), { sid, slot, createdAt: now }];
    await this.#o.store.putRecord(this.#index(username), entries, this.#o.maxMs + GRACE_MS);
    const token = await new SignJWT({ sid })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(username).setIssuer(ISSUER).setAudience(HTTP_AUDIENCE)
      .setIssuedAt(Math.floor(now / 1000)).setExpirationTime(Math.floor(expiresAt / 1000))
      .sign(this.#o.signingKey);
    return { token, expiresAt, sid, id: sid };
  }

  /** The user's indexed sessions whose records still exist (oldest first), without touching them. */
  async #liveIndex(username: string): Promise<Array<{ sid: string; slot: number; entry: IndexEntry; record: SessionRecord }>> {
    const index = (await this.#o.store.getRecord<IndexEntry[]>(this.#index(username))) ?? [];
    const now = this.#o.clock();
    const found = await Promise.all(index.map(async (entry) => ({ entry, record: await this.#o.store.getRecord<SessionRecord>(this.#key(entry.sid)) })));
    return found
      .filter((f): f is { entry: IndexEntry; record: SessionRecord } => f.record !== null && f.record.username === username
        && now - f.record.lastSeen <= this.#o.idleMs && now < f.record.expiresAt)
      .map((f) => ({ sid: f.entry.sid, slot: f.entry.slot, entry: f.entry, record: f.record }))
      .sort((a, b) => a.record.createdAt - b.record.createdAt);
  }

  /** A slot no live session holds, else the oldest session's. */
  #freeSlot(live: readonly { slot: number; record: SessionRecord }[]): number {
    const max = this.maxPerUser;
    const used = new Set(live.map((l) => l.slot));
    for (let i = 0; i < max; i++) if (!used.has(i)) return i;
    const oldest = live.find((l) => l.slot < max);
    return oldest?.slot ?? 0;
  }

  /** The user's live sessions, oldest first (for the account page); touches none. */
  async listSessions(username: string): Promise<SessionRecord[]> {
    return (await this.#liveIndex(username)).map((l) => l.record);
  }

  /** Ends every session of the user but `keepSid` ("sign out everywhere else"), with their DIMSE tokens. Resolves how many ended. */
  async revokeOthers(username: string, keepSid: string): Promise<number> {
    const live = await this.#liveIndex(username);
    let ended = 0;
    for (const l of live) if (l.sid !== keepSid && (await this.#o.store.deleteRecord(this.#key(l.sid)))) ended++;
    const kept = live.filter((l) => l.sid === keepSid).map((l) => l.entry);
    await this.#o.store.putRecord(this.#index(username), kept, this.#o.maxMs + GRACE_MS);
    return ended;
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
    if (record.idp === undefined && this.#o.localSessions === false) {
      await this.#o.store.deleteRecord(this.#key(sid));
      return { ok: false, reason: 'local-login-disabled' };
    }
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
    // Every slot gets a tombstone, so a login still in flight ends nothing it should not; what a slot
    // held is ended. The index catches sessions of slots beyond a since lowered maxPerUser.
    const index = (await this.#o.store.getRecord<IndexEntry[]>(this.#index(username))) ?? [];
    const slots = Math.max(this.maxPerUser, ...index.map((e) => e.slot + 1));
    const held = await Promise.all(Array.from({ length: slots }, (_, i) => this.#o.store.swap(this.#slot(username, i), REVOKED, this.#o.maxMs + GRACE_MS)));
    const sids = new Set([...held, ...index.map((e) => e.sid)].filter((x): x is string => x !== null && x !== REVOKED));
    let ended = false;
    for (const sid of sids) if (await this.#o.store.deleteRecord(this.#key(sid))) ended = true;
    await this.#o.store.deleteRecord(this.#index(username));
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
    // Listing only (best effort): revocation and checks go by the token's own record.
    const listed = ((await this.#o.store.getRecord<TokenIndexEntry[]>(this.#tokenIndex(session.username))) ?? []).filter((e) => e.expiresAt > now);
    listed.push({ jti, sid: session.sid, expiresAt, createdAt: now });
    await this.#o.store.putRecord(this.#tokenIndex(session.username), listed.slice(-100), Math.max(this.#o.maxMs, this.#o.dimseTokenMs) + GRACE_MS);
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

  /** The user's DIMSE tokens that can still open an association (not revoked, not expired, session alive), oldest first. */
  async listDimseTokens(username: string): Promise<DimseTokenInfo[]> {
    const now = this.#o.clock();
    const listed = (await this.#o.store.getRecord<TokenIndexEntry[]>(this.#tokenIndex(username))) ?? [];
    const out: DimseTokenInfo[] = [];
    for (const e of listed) {
      if (e.expiresAt <= now) continue;
      const [token, session] = await Promise.all([
        this.#o.store.getRecord<DimseTokenRecord>(`dimse-token:${e.jti}`),
        this.#o.store.getRecord<SessionRecord>(this.#key(e.sid)),
      ]);
      if (token === null || token.username !== username || session === null) continue;
      out.push({ id: e.jti, sid: e.sid, createdAt: e.createdAt, expiresAt: e.expiresAt });
    }
    return out;
  }

  /** Revokes one of `username`'s DIMSE tokens by id; false when there is no such token of theirs. */
  async revokeDimseTokenOf(username: string, jti: string): Promise<boolean> {
    const record = await this.#o.store.getRecord<DimseTokenRecord>(`dimse-token:${jti}`);
    if (record === null || record.username !== username) return false;
    return this.#o.store.deleteRecord(`dimse-token:${jti}`);
  }
}
