// OpenID Connect Back-Channel Logout 1.0 §2.6: the checks on a logout token, with jose against the IdP's JWKS.

import { createRemoteJWKSet, customFetch, jwtVerify, type JWTPayload } from 'jose';
import type { StateStore } from '../../state/store.js';

export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** A logout token older than this is refused (its jti is remembered this long, so a replay is seen). */
const MAX_TOKEN_AGE_S = 300;

export interface LogoutTarget { readonly sub?: string; readonly sid?: string; readonly jti: string }

export type LogoutCheck = { readonly ok: true; readonly target: LogoutTarget } | { readonly ok: false; readonly reason: string };

export interface LogoutTokenVerifierOptions {
  readonly keys: () => Promise<{ issuer: string; jwksUri: string; algorithms?: string[] }>;
  readonly clientId: string;
  readonly fetch: (url: string, init?: { method?: string; headers?: unknown; signal?: AbortSignal | null }) => Promise<Response>;
  readonly store: StateStore;
}

export class LogoutTokenVerifier {
  readonly #o: LogoutTokenVerifierOptions;
  #jwks: { uri: string; set: ReturnType<typeof createRemoteJWKSet> } | undefined;

  constructor(o: LogoutTokenVerifierOptions) {
    this.#o = o;
  }

  /** Verifies signature, iss, aud, iat (not older than 5 minutes), exp when present, events, sub/sid, no nonce, jti not seen before. */
  async verify(token: string): Promise<LogoutCheck> {
    const { issuer, jwksUri, algorithms } = await this.#o.keys();
    if (this.#jwks?.uri !== jwksUri) {
      this.#jwks = { uri: jwksUri, set: createRemoteJWKSet(new URL(jwksUri), { [customFetch]: this.#o.fetch as never, timeoutDuration: 5000 }) };
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#jwks.set, {
        issuer, audience: this.#o.clientId, requiredClaims: ['iat', 'jti'],
        // Real time, as for the ID token (openid-client): the IdP's clock, not the gateway's session clock.
        maxTokenAge: MAX_TOKEN_AGE_S,
        // Never "none" or a MAC with a public value: the IdP's advertised asymmetric algorithms only.
        algorithms: (algorithms ?? ['RS256']).filter((a) => a !== 'none' && !a.startsWith('HS')),
      }));
    } catch (err) {
      return { ok: false, reason: `logout token not valid: ${(err as Error).message.slice(0, 200)}` };
    }
    const events = payload['events'];
    if (typeof events !== 'object' || events === null || Array.isArray(events) || typeof (events as Record<string, unknown>)[BACKCHANNEL_LOGOUT_EVENT] !== 'object') {
      return { ok: false, reason: 'logout token without the back-channel logout event' };
    }
    if (payload['nonce'] !== undefined) return { ok: false, reason: 'logout token carries a nonce' };
    const sub = typeof payload.sub === 'string' ? payload.sub : undefined;
    const sid = typeof payload['sid'] === 'string' ? payload['sid'] : undefined;
    if (sub === undefined && sid === undefined) return { ok: false, reason: 'logout token names neither sub nor sid' };
    const jti = payload.jti as string;
    // One use: the first to count the jti wins; a replay within the token's lifetime is refused.
    const seen = await this.#o.store.increment(`oidc-logout-jti:${issuer}:${jti}`, (MAX_TOKEN_AGE_S + 60) * 1000);
    if (seen !== 1) return { ok: false, reason: 'logout token replayed (jti seen before)' };
    return { ok: true, target: { ...(sub === undefined ? {} : { sub }), ...(sid === undefined ? {} : { sid }), jti } };
  }
}
