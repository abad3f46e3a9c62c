// The gateway as an OpenID Connect relying party (openid-client): discovery, the authorization
// request (PKCE S256, state, nonce, max_age) and the code exchange with every check of the ID token.

import { readFileSync } from 'node:fs';
import { importPKCS8 } from 'jose';
import * as oidc from 'openid-client';
import { GatewayError } from '../../errors.js';
import { caFetch } from './ca-fetch.js';
import { OIDC_DEFAULTS, type OidcOptions } from './config.js';

/** What the browser's pending sign-in holds (server-side, one use). */
export interface PendingSignIn {
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
  readonly createdAt: number;
}

/** A verified ID token: its claims and the raw token (for id_token_hint at logout). */
export interface VerifiedSignIn {
  readonly claims: Readonly<Record<string, unknown>>;
  readonly idToken: string;
}

/** How long a successful discovery is reused before it is read again (keys rotate through jwks_uri anyway). */
const DISCOVERY_TTL_MS = 60 * 60_000;
/** How long the login page trusts the last reachability answer. */
const STATUS_TTL_MS = 5_000;

export type ResolvedOidc = Required<Omit<OidcOptions, 'ca' | 'postLogoutRedirectUrl' | 'clientSecret' | 'privateKeyJwt'>>
  & Pick<OidcOptions, 'postLogoutRedirectUrl' | 'clientSecret'>
  & { readonly caPem?: string; readonly privateKey?: { readonly pem: string; readonly kid?: string; readonly alg: string } };

export function resolveOidc(o: OidcOptions, readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): ResolvedOidc {
  const pk = o.privateKeyJwt;
  return {
    name: o.name ?? OIDC_DEFAULTS.name,
    issuer: o.issuer, clientId: o.clientId, redirectUrl: o.redirectUrl,
    ...(o.clientSecret === undefined ? {} : { clientSecret: o.clientSecret }),
    ...(pk === undefined ? {} : { privateKey: { pem: readFile(pk.key), alg: pk.alg ?? 'RS256', ...(pk.kid === undefined ? {} : { kid: pk.kid }) } }),
    scopes: o.scopes ?? OIDC_DEFAULTS.scopes,
    requireMfa: o.requireMfa, roleClaim: o.roleClaim, roleMap: o.roleMap,
    usernameClaim: o.usernameClaim ?? OIDC_DEFAULTS.usernameClaim,
    maxAgeSeconds: o.maxAgeSeconds ?? OIDC_DEFAULTS.maxAgeSeconds,
    timeoutMs: o.timeoutMs ?? OIDC_DEFAULTS.timeoutMs,
    ...(o.postLogoutRedirectUrl === undefined ? {} : { postLogoutRedirectUrl: o.postLogoutRedirectUrl }),
    ...(o.ca === undefined ? {} : { caPem: readFile(o.ca) }),
  };
}

/** The openid-client failure in words an admin can act on (never the token or the secret). */
function describe(err: unknown): string {
  const e = err as Error & { code?: string; error?: string; error_description?: string; cause?: unknown };
  if (typeof e.error === 'string') return `${e.error}${e.error_description === undefined ? '' : `: ${e.error_description}`}`.slice(0, 300);
  return `${e.code === undefined ? '' : `${e.code}: `}${e.message}`.slice(0, 300);
}

export class OidcRelyingParty {
  readonly options: ResolvedOidc;
  readonly fetch: ReturnType<typeof caFetch>;
  #config: { value: oidc.Configuration; until: number } | undefined;
  #status: { reachable: boolean; detail?: string; until: number } | undefined;

  constructor(options: ResolvedOidc) {
    this.options = options;
    this.fetch = caFetch({ ...(options.caPem === undefined ? {} : { ca: options.caPem }), timeoutMs: options.timeoutMs });
  }

  /** The discovered configuration, or ERR_IDP_UNAVAILABLE. */
  async configuration(): Promise<oidc.Configuration> {
    const now = Date.now();
    if (this.#config !== undefined && this.#config.until > now) return this.#config.value;
    const pk = this.options.privateKey;
    const auth = pk !== undefined
      ? oidc.PrivateKeyJwt({ key: await importPKCS8(pk.pem, pk.alg) as CryptoKey, ...(pk.kid === undefined ? {} : { kid: pk.kid }) })
      : oidc.ClientSecretBasic(this.options.clientSecret);
    try {
      const value = await oidc.discovery(new URL(this.options.issuer), this.options.clientId, undefined,
        auth, { [oidc.customFetch]: this.fetch as oidc.CustomFetch, timeout: Math.ceil(this.options.timeoutMs / 1000) });
      this.#config = { value, until: now + DISCOVERY_TTL_MS };
      this.#status = { reachable: true, until: now + STATUS_TTL_MS };
      return value;
    } catch (err) {
      const detail = describe(err);
      this.#status = { reachable: false, detail, until: now + STATUS_TTL_MS };
      throw new GatewayError('ERR_IDP_UNAVAILABLE', undefined, { cause: err, detail: { idpError: detail } });
    }
  }

  /** Whether the IdP answers now (its discovery document), for the login page's button. */
  async status(): Promise<{ reachable: boolean; detail?: string }> {
    const now = Date.now();
    if (this.#status !== undefined && this.#status.until > now) return this.#status;
    try {
      const r = await this.fetch(new URL('.well-known/openid-configuration', this.options.issuer.endsWith('/') ? this.options.issuer : `${this.options.issuer}/`).href, { method: 'GET' });
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(`discovery answered HTTP ${r.status}`);
      await this.configuration();
      this.#status = { reachable: true, until: now + STATUS_TTL_MS };
    } catch (err) {
      this.#status = { reachable: false, detail: describe(err), until: now + STATUS_TTL_MS };
    }
    return this.#status;
  }

  /** A new authorization request: the URL to send the browser to and what the callback must find. */
  async start(now: number): Promise<{ url: string; pending: PendingSignIn }> {
    const config = await this.configuration();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const pending: PendingSignIn = { state: oidc.randomState(), nonce: oidc.randomNonce(), codeVerifier, createdAt: now };
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.options.redirectUrl,
      scope: this.options.scopes.join(' '),
      response_type: 'code',
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state: pending.state,
      nonce: pending.nonce,
      max_age: String(this.options.maxAgeSeconds),
    });
    return { url: url.href, pending };
  }

  /**
   * The callback: checks the response against the pending sign-in (state, iss), redeems the code
   * with the PKCE verifier, and verifies the ID token (signature, iss, aud, exp, nonce, auth_time
   * within max_age). Throws ERR_OIDC_FAILED with the reason, or ERR_IDP_UNAVAILABLE.
   */
  async finish(callbackUrl: URL, pending: PendingSignIn): Promise<VerifiedSignIn> {
    const config = await this.configuration();
    try {
      const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: pending.codeVerifier, expectedState: pending.state, expectedNonce: pending.nonce,
        maxAge: this.options.maxAgeSeconds, idTokenExpected: true,
      });
      const claims = tokens.claims();
      if (claims === undefined || tokens.id_token === undefined) throw new Error('the token response holds no ID token');
      return { claims: claims as Readonly<Record<string, unknown>>, idToken: tokens.id_token };
    } catch (err) {
      const e = err as { name?: string; cause?: unknown };
      const unreachable = e.name === 'TypeError' || e.name === 'AbortError' || e.name === 'TimeoutError' || /ECONNREFUSED|did not answer|socket hang up/.test(String((err as Error).message));
      if (unreachable) throw new GatewayError('ERR_IDP_UNAVAILABLE', undefined, { cause: err, detail: { idpError: describe(err) } });
      throw new GatewayError('ERR_OIDC_FAILED', undefined, { cause: err, detail: { idpError: describe(err) } });
    }
  }

  /** The IdP's end-session URL for RP-initiated logout, when it offers one. */
  async endSessionUrl(idTokenHint: string | undefined): Promise<string | undefined> {
    let config: oidc.Configuration;
    try { config = await this.configuration(); } catch { return undefined; }
    if (config.serverMetadata().end_session_endpoint === undefined) return undefined;
    const after = this.options.postLogoutRedirectUrl ?? `${new URL(this.options.redirectUrl).origin}/login`;
    return oidc.buildEndSessionUrl(config, {
      post_logout_redirect_uri: after, client_id: this.options.clientId,
      ...(idTokenHint === undefined ? {} : { id_token_hint: idTokenHint }),
    }).href;
  }

  /** The discovered issuer and JWKS URI, for logout-token verification. */
  async keysEndpoint(): Promise<{ issuer: string; jwksUri: string; algorithms?: string[] }> {
    const m = (await this.configuration()).serverMetadata();
    if (m.jwks_uri === undefined) throw new GatewayError('ERR_IDP_UNAVAILABLE', 'the identity provider publishes no jwks_uri');
    return { issuer: m.issuer, jwksUri: m.jwks_uri, ...(m.id_token_signing_alg_values_supported === undefined ? {} : { algorithms: m.id_token_signing_alg_values_supported }) };
  }
}
