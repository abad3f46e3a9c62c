// auth.oidc and auth.local: the schema fragment, the resolved options and the cross-field checks.

/** `auth.oidc` as written in the config file (names fixed by issue 15). */
export interface OidcOptions {
  /** Shown on the login page: "Sign in with <name>". */
  readonly name?: string;
  /** The IdP's issuer URL; its /.well-known/openid-configuration is read (discovery). */
  readonly issuer: string;
  readonly clientId: string;
  /** From the environment: clientSecret: ${PACS_GATEWAY_OIDC_SECRET}. Never logged. Or privateKeyJwt. */
  readonly clientSecret?: string;
  /** Client authentication with a signed assertion (RFC 7523, private_key_jwt) instead of a secret: a PKCS#8 PEM key file. */
  readonly privateKeyJwt?: { readonly key: string; readonly kid?: string; readonly alg?: 'RS256' | 'PS256' | 'ES256' };
  /** https://<gateway>/auth/oidc/callback, as registered at the IdP. */
  readonly redirectUrl: string;
  readonly scopes?: readonly string[];
  /** An ID token must carry one of these acr values, or an amr entry among these. */
  readonly requireMfa: { readonly acr?: readonly string[]; readonly amr?: readonly string[] };
  /** Claim holding the user's groups or roles (a string or a list of strings). */
  readonly roleClaim: string;
  /** Claim value → gateway role. A user none of whose values is mapped is refused. */
  readonly roleMap: Readonly<Record<string, string>>;
  readonly usernameClaim?: string;
  /** max_age sent to the IdP: the sign-in (auth_time) must be at most this many seconds old. */
  readonly maxAgeSeconds?: number;
  /** PEM bundle the IdP's TLS certificate must chain to (internal PKI); default: the system store. */
  readonly ca?: string;
  /** Where the IdP sends the browser after RP-initiated logout (registered at the IdP); default: /login on the redirect URL's origin. */
  readonly postLogoutRedirectUrl?: string;
  readonly timeoutMs?: number;
}

export interface AuthOptions {
  /** The gateway's own password + TOTP login (default true); false: OIDC only. */
  readonly local: boolean;
  readonly oidc?: OidcOptions;
}

export const OIDC_DEFAULTS = Object.freeze({
  name: 'your hospital account',
  scopes: ['openid', 'profile', 'email'] as readonly string[],
  usernameClaim: 'preferred_username',
  maxAgeSeconds: 3600,
  timeoutMs: 5000,
});

const url = { type: 'string', pattern: '^https://[^\\s]+$' } as const;
const names = { type: 'array', items: { type: 'string', minLength: 1, maxLength: 256 }, uniqueItems: true } as const;

export const authSchema = {
  type: 'object', additionalProperties: false,
  properties: {
    local: { type: 'boolean' },
    oidc: {
      type: 'object', additionalProperties: false,
      required: ['issuer', 'clientId', 'redirectUrl', 'requireMfa', 'roleClaim', 'roleMap'],
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 64 },
        issuer: url,
        clientId: { type: 'string', minLength: 1, maxLength: 256 },
        clientSecret: { type: 'string', minLength: 16 },
        privateKeyJwt: {
          type: 'object', additionalProperties: false, required: ['key'],
          properties: { key: { type: 'string', minLength: 1 }, kid: { type: 'string', minLength: 1, maxLength: 256 }, alg: { enum: ['RS256', 'PS256', 'ES256'] } },
        },
        redirectUrl: { type: 'string', pattern: '^https://[^\\s/]+/auth/oidc/callback$' },
        scopes: names,
        requireMfa: { type: 'object', additionalProperties: false, properties: { acr: names, amr: names } },
        roleClaim: { type: 'string', minLength: 1, maxLength: 256 },
        roleMap: { type: 'object', additionalProperties: { type: 'string', pattern: '^[a-z][a-z0-9_-]{0,31}$' } },
        usernameClaim: { type: 'string', minLength: 1, maxLength: 256 },
        maxAgeSeconds: { type: 'integer', minimum: 60, maximum: 86400 },
        ca: { type: 'string', minLength: 1 },
        postLogoutRedirectUrl: url,
        timeoutMs: { type: 'integer', minimum: 100, maximum: 60000 },
      },
    },
  },
} as const;

/** Problems the schema cannot see: MFA rule present, roles that exist, openid scope, a way to log in. */
export function authConfigProblems(auth: Partial<AuthOptions> | undefined, roles: Readonly<Record<string, unknown>>): string[] {
  const problems: string[] = [];
  const o = auth?.oidc;
  if (auth?.local === false && o === undefined) problems.push('auth.local: false needs auth.oidc (otherwise no one can sign in)');
  if (o === undefined) return problems;
  if ((o.requireMfa?.acr?.length ?? 0) + (o.requireMfa?.amr?.length ?? 0) === 0) {
    problems.push('auth.oidc.requireMfa: give the accepted acr values and/or amr entries (e.g. amr: [mfa]); every user must have passed MFA');
  }
  if ((o.clientSecret === undefined) === (o.privateKeyJwt === undefined)) {
    problems.push('auth.oidc: give either clientSecret (e.g. ${PACS_GATEWAY_OIDC_SECRET}) or privateKeyJwt: {key, kid}, not both');
  }
  if (o.scopes !== undefined && !o.scopes.includes('openid')) problems.push('auth.oidc.scopes: must include openid');
  for (const [value, role] of Object.entries(o.roleMap ?? {})) {
    if (roles[role] === undefined) problems.push(`auth.oidc.roleMap.${value}: no such role "${role}" in roles (${Object.keys(roles).join(', ')})`);
  }
  if (Object.keys(o.roleMap ?? {}).length === 0) problems.push('auth.oidc.roleMap: map at least one claim value to a role');
  return problems;
}
