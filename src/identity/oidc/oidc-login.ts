// Sign-in through the hospital's OpenID Provider, end to end: the pending sign-in bound to the
// browser, the callback's checks (state, PKCE, nonce, max_age, MFA, role, username), the gateway
// session it opens, RP-initiated logout and back-channel logout. Every outcome is an audit event.

import { createHash, randomBytes } from 'node:crypto';
import type { Audit } from '../../audit/audit.js';
import { GatewayError, isGatewayError } from '../../errors.js';
import type { StateStore } from '../../state/store.js';
import { addressKey } from '../../util/address-key.js';
import type { SessionRecord, SessionService } from '../sessions.js';
import type { UserDirectory } from '../user-directory.js';
import { mfaFacts, mfaSatisfied, roleOf, usernameOf } from './claims.js';
import { LogoutTokenVerifier } from './logout-token.js';
import type { OidcRelyingParty, PendingSignIn } from './oidc-client.js';

/** A pending sign-in lives this long: the user has this long at the IdP (login, MFA prompt). */
export const PENDING_TTL_MS = 10 * 60_000;

/**
 * Sign-ins one source address (IPv6: its /64) may start per PENDING_TTL_MS: each leaves a record in
 * the state store for that long, so an unauthenticated flood of /auth/oidc/start could otherwise
 * fill it. Far above what a ward behind one NAT address starts in ten minutes.
 */
export const MAX_STARTS_PER_ADDRESS = 200;

interface SessionLink { readonly issuer: string; readonly sub: string; readonly sid?: string; readonly idToken: string }

/** The gateway sessions an IdP session or subject opened (`{ sid }`: one, as records written before this kept it). */
type LinkedSessions = { readonly sids: readonly string[] } | { readonly sid: string };

/** Gateway sessions one IdP session or subject keeps linked at most (more than session.maxPerUser allows). */
const MAX_LINKED = 64;

function sessionsOf(r: LinkedSessions | null): readonly string[] {
  if (r === null) return [];
  return 'sids' in r ? r.sids.filter((s) => typeof s === 'string') : [r.sid];
}

export interface OidcLoginDeps {
  readonly rp: OidcRelyingParty;
  readonly sessions: SessionService;
  readonly users: UserDirectory;
  readonly store: StateStore;
  readonly audit: Audit;
  readonly clock: () => number;
  /** session.maxHours in ms: how long the links of a session are kept. */
  readonly sessionMaxMs: number;
}

export interface SignedIn { readonly token: string; readonly expiresAt: number; readonly username: string; readonly role: string }

function digest(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('base64url').slice(0, 32);
}

export class OidcLogin {
  readonly #d: OidcLoginDeps;
  readonly #logoutTokens: LogoutTokenVerifier;

  constructor(deps: OidcLoginDeps) {
    this.#d = deps;
    this.#logoutTokens = new LogoutTokenVerifier({
      keys: () => deps.rp.keysEndpoint(), clientId: deps.rp.options.clientId, fetch: deps.rp.fetch, store: deps.store,
    });
  }

  get name(): string { return this.#d.rp.options.name; }

  /** Whether the IdP answers now (the login page's button says so when it does not). */
  status(): Promise<{ reachable: boolean; detail?: string }> { return this.#d.rp.status(); }

  /** Begins a sign-in: the IdP URL, and the id of the pending record the browser's cookie names. */
  async start(source: string, requestId?: string): Promise<{ url: string; pendingId: string }> {
    const started = await this.#d.store.increment(`oidc-starts:${addressKey(source)}`, PENDING_TTL_MS);
    if (started > MAX_STARTS_PER_ADDRESS) {
      this.#d.audit.record({ event: 'auth.login', decision: 'deny', reason: 'oidc-too-many-starts', method: 'oidc', source, requestId });
      throw new GatewayError('ERR_BUSY', `Too many sign-ins started from this address; try again in ${PENDING_TTL_MS / 60_000} minutes`, { detail: { retryAfterSeconds: PENDING_TTL_MS / 1000 } });
    }
    try {
      // Not only the cached discovery: the browser is not sent to an IdP that does not answer now.
      const status = await this.#d.rp.status();
      if (!status.reachable) throw new GatewayError('ERR_IDP_UNAVAILABLE', undefined, { detail: { idpError: status.detail } });
      const { url, pending } = await this.#d.rp.start(this.#d.clock());
      const pendingId = randomBytes(24).toString('base64url');
      await this.#d.store.putRecord(`oidc-pending:${pendingId}`, pending, PENDING_TTL_MS);
      return { url, pendingId };
    } catch (err) {
      this.#d.audit.record({ event: 'auth.login', decision: 'deny', reason: isGatewayError(err, 'ERR_IDP_UNAVAILABLE') ? 'idp-unavailable' : 'oidc-start-failed', method: 'oidc', source, requestId,
        detail: (isGatewayError(err) ? err.detail?.['idpError'] : undefined) ?? (err as Error).message });
      throw err;
    }
  }

  /**
   * The callback: takes the pending sign-in (once: a replayed callback finds none), verifies the
   * answer and the ID token, applies the MFA, role and username rules and opens the session.
   */
  async callback(callbackUrl: URL, pendingId: string | undefined, source: string, requestId?: string): Promise<SignedIn> {
    const deny = (reason: string, err: GatewayError, extra: Record<string, unknown> = {}): never => {
      this.#d.audit.record({ event: 'auth.login', decision: 'deny', reason, method: 'oidc', source, requestId, ...extra });
      throw err;
    };
    const idpError = callbackUrl.searchParams.get('error');
    if (pendingId === undefined || !/^[A-Za-z0-9_-]{32}$/.test(pendingId)) {
      return deny('oidc-no-pending-sign-in', new GatewayError('ERR_OIDC_FAILED', 'This sign-in was not started in this browser, or it expired; start again from the login page.'));
    }
    const key = `oidc-pending:${pendingId}`;
    const pending = await this.#d.store.getRecord<PendingSignIn>(key);
    // Deleting is the one-use gate: of two callbacks with the same cookie only one finds it.
    if (pending === null || !(await this.#d.store.deleteRecord(key))) {
      return deny('oidc-no-pending-sign-in', new GatewayError('ERR_OIDC_FAILED', 'This sign-in was already used or has expired; start again from the login page.'));
    }
    if (callbackUrl.searchParams.get('state') !== pending.state) {
      return deny('oidc-state-mismatch', new GatewayError('ERR_OIDC_FAILED', 'The answer from the identity provider does not belong to this sign-in (state mismatch); start again.'));
    }
    if (idpError !== null) {
      const description = (callbackUrl.searchParams.get('error_description') ?? '').slice(0, 200);
      return deny('oidc-idp-error', new GatewayError('ERR_OIDC_FAILED', `The identity provider refused the sign-in: ${idpError.slice(0, 64)}${description === '' ? '' : ` (${description})`}`), { idpError: idpError.slice(0, 64) });
    }
    let verified;
    try {
      verified = await this.#d.rp.finish(callbackUrl, pending);
    } catch (err) {
      const g = isGatewayError(err) ? err : new GatewayError('ERR_OIDC_FAILED', undefined, { cause: err });
      return deny(g.code === 'ERR_IDP_UNAVAILABLE' ? 'idp-unavailable' : 'oidc-token-invalid', g, { detail: g.detail?.['idpError'] });
    }
    const { claims } = verified;
    const o = this.#d.rp.options;
    const sub = String(claims['sub']);
    const named = usernameOf(claims, o.usernameClaim);
    const facts = { sub: sub.slice(0, 128), ...mfaFacts(claims) };
    if (!mfaSatisfied(claims, o.requireMfa)) {
      return deny('mfa-not-proven', new GatewayError('ERR_MFA_REQUIRED'), { principal: named, ...facts });
    }
    if (named === undefined) {
      return deny('oidc-username-invalid', new GatewayError('ERR_OIDC_FAILED', `The identity provider's "${o.usernameClaim}" claim is missing or not a valid gateway username (1–64 of a-z 0-9 . _ @ -).`), facts);
    }
    const role = roleOf(claims, o.roleClaim, o.roleMap);
    if (!role.ok) {
      return deny('no-role-mapped', new GatewayError('ERR_NO_ROLE', `Your account (${named}) is in no group that the gateway maps to a role (claim "${o.roleClaim}"); ask the administrator.`), { principal: named, ...facts, claimValues: role.values });
    }
    // A local account of the same name is another person as far as the gateway knows: never merge them.
    if ((await this.#d.users.get(named)) !== undefined) {
      return deny('oidc-username-is-local-user', new GatewayError('ERR_OIDC_FAILED', `The username "${named}" belongs to a local gateway account; the administrator must remove it or choose another usernameClaim.`), { principal: named, ...facts });
    }
    const issued = await this.#d.sessions.createExternal({ idp: 'oidc', username: named, role: role.role, stamp: `oidc:${digest(o.issuer, sub)}` }, source);
    const sid = typeof claims['sid'] === 'string' ? claims['sid'] : undefined;
    const link: SessionLink = { issuer: o.issuer, sub, idToken: verified.idToken, ...(sid === undefined ? {} : { sid }) };
    const ttl = this.#d.sessionMaxMs + 60_000;
    await this.#d.store.putRecord(`oidc-link:${issued.sid}`, link, ttl);
    if (sid !== undefined) await this.#link(`oidc-sid:${digest(o.issuer, sid)}`, issued.sid, ttl);
    await this.#link(`oidc-sub:${digest(o.issuer, sub)}`, issued.sid, ttl);
    this.#d.audit.record({ event: 'auth.login', decision: 'allow', reason: 'oidc-sign-in', principal: named, role: role.role, method: 'oidc', source, requestId, roleFrom: role.value.slice(0, 128), ...facts });
    return { token: issued.token, expiresAt: issued.expiresAt, username: named, role: role.role };
  }

  /**
   * Adds gateway session `sid` to the ones an IdP session (or subject) names: one IdP session can
   * sign in more than once (a second tab, a script), and a back-channel logout must end them all.
   */
  async #link(key: string, sid: string, ttl: number): Promise<void> {
    const r = await this.#d.store.getRecord<LinkedSessions>(key);
    const live = [];
    for (const s of sessionsOf(r)) if (s !== sid && (await this.#d.store.getRecord(`oidc-link:${s}`)) !== null) live.push(s);
    await this.#d.store.putRecord(key, { sids: [...live.slice(-(MAX_LINKED - 1)), sid] }, ttl);
  }

  /** After the gateway session of an IdP user ended: where to send the browser to end the IdP session too (when the IdP offers it). */
  async logoutRedirect(session: SessionRecord): Promise<string | undefined> {
    if (session.idp !== 'oidc') return undefined;
    const link = await this.#d.store.getRecord<SessionLink>(`oidc-link:${session.sid}`);
    await this.#d.store.deleteRecord(`oidc-link:${session.sid}`);
    return this.#d.rp.endSessionUrl(link?.idToken);
  }

  /** Back-channel logout: verifies the logout token and ends the gateway session(s) it names. */
  async backchannelLogout(token: string, source: string, requestId?: string): Promise<{ ok: true; ended: number } | { ok: false; reason: string }> {
    const check = await this.#logoutTokens.verify(token);
    if (!check.ok) {
      this.#d.audit.record({ event: 'auth.logout', decision: 'deny', reason: 'backchannel-logout-refused', method: 'oidc', source, requestId, detail: check.reason });
      return check;
    }
    const issuer = this.#d.rp.options.issuer;
    // A sid names one IdP session: the gateway sessions it opened end, not the user's others elsewhere
    // (OpenID Connect Back-Channel Logout 1.0 §2.7); a sub alone names every session of the user.
    const keys = check.target.sid !== undefined
      ? [`oidc-sid:${digest(issuer, check.target.sid)}`]
      : check.target.sub === undefined ? [] : [`oidc-sub:${digest(issuer, check.target.sub)}`];
    let ended = 0;
    for (const key of keys) {
      const r = await this.#d.store.getRecord<LinkedSessions>(key);
      if (r === null) continue;
      for (const sid of sessionsOf(r)) {
        if (await this.#d.sessions.revoke(sid)) ended++;
        await this.#d.store.deleteRecord(`oidc-link:${sid}`);
      }
      await this.#d.store.deleteRecord(key);
    }
    this.#d.audit.record({ event: 'auth.logout', decision: 'allow', reason: 'backchannel-logout', method: 'oidc', source, requestId, sub: check.target.sub?.slice(0, 128), sessionsEnded: ended });
    return { ok: true, ended };
  }
}
