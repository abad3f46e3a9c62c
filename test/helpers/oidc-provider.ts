// Test helper: a real OpenID Provider (the certified npm oidc-provider, v9) over HTTPS on a loopback
// port, with test users whose ID tokens carry or lack MFA (amr/acr) and groups. Its login page is a
// minimal form (a browser fills it) and signIn() walks the same redirects without a browser.

import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';
import { caFetch } from '../../src/identity/oidc/ca-fetch.js';
import { createCa, issueCertificate } from '../../src/tls/issue.js';

export interface IdpUser {
  readonly preferred_username?: string;
  readonly email?: string;
  readonly groups?: readonly string[];
  /** Authentication methods the login claims (the ID token's amr); none: no amr claim. */
  readonly amr?: readonly string[];
  /** Authentication context class (the ID token's acr); none: no acr claim. */
  readonly acr?: string;
}

export interface IdpClient {
  readonly clientId: string;
  /** client_secret_basic; or `jwks` for private_key_jwt. */
  readonly clientSecret?: string;
  /** The client's public keys: it authenticates with private_key_jwt (RFC 7523). */
  readonly jwks?: { readonly keys: readonly Record<string, unknown>[] };
  readonly redirectUri: string;
  readonly postLogoutRedirectUri?: string;
  readonly backchannelLogoutUri?: string;
}

export interface TestIdp {
  /** The issuer URL (https://localhost:port). */
  readonly issuer: string;
  readonly port: number;
  /** PEM of the CA that signed the IdP's certificate (the gateway's auth.oidc.ca). */
  readonly caPem: string;
  readonly provider: Provider;
  /** Every logout token the IdP sent out (back-channel logout), oldest first. */
  readonly sentLogoutTokens: readonly string[];
  /**
   * Follows an authorization URL through the IdP's login as `username` (as a browser would, with
   * the IdP's cookies, starting with none) and returns the URL the IdP redirects back to (the gateway's callback).
   */
  signIn(authorizationUrl: string, username: string, options?: { sameBrowser?: boolean }): Promise<string>;
  /** Ends the IdP session of the last signIn() through the IdP's own end-session endpoint; back-channel logouts go out. */
  endSession(): Promise<void>;
  stop(): Promise<void>;
}

export interface TestIdpOptions {
  readonly users: Readonly<Record<string, IdpUser>>;
  readonly client: IdpClient;
  /** PEM the IdP trusts for back-channel logout calls (the gateway's CA; read when a call goes out, as the gateway makes it at start). */
  readonly trustCa?: () => string | undefined;
  /** Listen on this port (default: any free one). */
  readonly port?: number;
}

const LOGIN_FORM = (uid: string) => `<!doctype html><html><head><title>Test IdP sign-in</title></head><body>
<form method="post" action="/interaction/${uid}/login"><label>User <input id="idp-user" name="user" autocomplete="off"></label>
<button id="idp-submit" type="submit">Sign in</button></form></body></html>`;

type Jar = Map<string, string>;

function storeCookies(jar: Jar, setCookie: string[] | undefined): void {
  for (const c of setCookie ?? []) {
    const [pair] = c.split(';');
    const eq = pair?.indexOf('=') ?? -1;
    if (pair === undefined || eq < 0) continue;
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    if (/max-age=0|expires=thu, 01 jan 1970/i.test(c) || value === '') jar.delete(name);
    else jar.set(name, value);
  }
}

export async function startIdp(o: TestIdpOptions): Promise<TestIdp> {
  const ca = createCa({ commonName: 'test IdP CA' });
  const leaf = issueCertificate(ca, { commonName: 'localhost', usage: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  let handler: ((req: any, res: any) => void) | undefined;
  const server: Server = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => {
    if (handler === undefined) { res.statusCode = 503; res.end(); return; }
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(o.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const issuer = `https://localhost:${port}`;

  const sentLogoutTokens: string[] = [];
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: randomBytes(8).toString('hex'), use: 'sig', alg: 'RS256' };
  const c = o.client;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: c.clientId,
      ...(c.jwks === undefined
        ? { client_secret: c.clientSecret, token_endpoint_auth_method: 'client_secret_basic' }
        : { jwks: c.jwks, token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'RS256' }),
      redirect_uris: [c.redirectUri],
      ...(c.postLogoutRedirectUri === undefined ? {} : { post_logout_redirect_uris: [c.postLogoutRedirectUri] }),
      ...(c.backchannelLogoutUri === undefined ? {} : { backchannel_logout_uri: c.backchannelLogoutUri, backchannel_logout_session_required: true }),
      grant_types: ['authorization_code'], response_types: ['code'],
    }],
    jwks: { keys: [jwk as any] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    claims: { openid: ['sub', 'acr', 'amr', 'sid', 'auth_time'], profile: ['preferred_username', 'name'], email: ['email'], groups: ['groups'] },
    conformIdTokenClaims: false,
    scopes: ['openid', 'profile', 'email', 'groups'],
    acrValues: ['urn:test:loa:1', 'urn:test:loa:2'],
    features: {
      devInteractions: { enabled: false },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
    pkce: { required: () => true },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    async findAccount(_ctx: unknown, id: string) {
      const u = o.users[id];
      if (u === undefined) return undefined;
      return {
        accountId: id,
        async claims() {
          return {
            sub: id,
            ...(u.preferred_username === undefined ? {} : { preferred_username: u.preferred_username }),
            ...(u.email === undefined ? {} : { email: u.email }),
            ...(u.groups === undefined ? {} : { groups: [...u.groups] }),
          };
        },
      };
    },
    // Back-channel logout POSTs to the gateway on loopback, trusting the gateway's CA (the package's
    // default fetch refuses loopback addresses, as an IdP on the internet should).
    fetch: ((url: string, init: any) => {
      if (typeof init?.body === 'string' || init?.body instanceof URLSearchParams) {
        const token = new URLSearchParams(String(init.body)).get('logout_token');
        if (token !== null) sentLogoutTokens.push(token);
      }
      const ca = o.trustCa?.();
      return caFetch({ ...(ca === undefined ? {} : { ca }), timeoutMs: 5000 })(url, init);
    }) as any,
  } as any);
  provider.on('server_error', (_ctx: unknown, err: Error) => { process.stderr.write(`test IdP server_error: ${err.stack ?? err.message}\n`); });
  const callback = provider.callback();

  handler = (req, res) => {
    const m = /^\/interaction\/([A-Za-z0-9_-]+)(\/login)?$/.exec((req.url as string).split('?')[0] ?? '');
    if (m === null) { callback(req, res); return; }
    void (async () => {
      try {
        const details = await provider.interactionDetails(req, res);
        if (m[2] === undefined) {
          res.setHeader('content-type', 'text/html; charset=utf-8');
          res.end(LOGIN_FORM(details.uid));
          return;
        }
        const chunks: Buffer[] = [];
        for await (const ch of req) chunks.push(ch as Buffer);
        const id = new URLSearchParams(Buffer.concat(chunks).toString('utf8')).get('user') ?? '';
        const user = o.users[id];
        if (user === undefined) {
          await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'unknown test user' }, { mergeWithLastSubmission: false });
          return;
        }
        const params = details.params as { client_id: string; scope: string };
        const grant = new provider.Grant({ accountId: id, clientId: params.client_id });
        grant.addOIDCScope(params.scope);
        const grantId = await grant.save();
        await provider.interactionFinished(req, res, {
          login: { accountId: id, ...(user.amr === undefined ? {} : { amr: [...user.amr] }), ...(user.acr === undefined ? {} : { acr: user.acr }) },
          consent: { grantId },
        }, { mergeWithLastSubmission: false });
      } catch (err) {
        res.statusCode = 400;
        res.end(`interaction failed: ${(err as Error).message}`);
      }
    })();
  };

  const jar: Jar = new Map();
  const fetchIdp = caFetch({ ca: ca.certPem, timeoutMs: 5000 });
  const send = async (url: string, init: { method?: string; body?: string } = {}): Promise<Response> => {
    const headers: Record<string, string> = {};
    if (jar.size > 0) headers['cookie'] = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    if (init.body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const r = await fetchIdp(url, { method: init.method ?? 'GET', headers, ...(init.body === undefined ? {} : { body: init.body }) });
    storeCookies(jar, r.headers.getSetCookie());
    return r;
  };

  return {
    issuer, port, caPem: ca.certPem, provider, sentLogoutTokens,
    async signIn(authorizationUrl, username, options) {
      // Each sign-in is a browser of its own, with no IdP session yet; sameBrowser keeps the IdP session of the last one.
      if (options?.sameBrowser !== true) jar.clear();
      let url = authorizationUrl;
      for (let hop = 0; hop < 10; hop++) {
        if (!url.startsWith(issuer)) return url; // left the IdP: the redirect back to the client
        const path = new URL(url).pathname;
        const r = /^\/interaction\/[A-Za-z0-9_-]+$/.test(path)
          ? await send(`${url}/login`, { method: 'POST', body: new URLSearchParams({ user: username }).toString() })
          : await send(url);
        const location = r.headers.get('location');
        if (location === null) throw new Error(`test IdP answered ${r.status} at ${path} without a redirect: ${(await r.text()).slice(0, 300)}`);
        url = new URL(location, url).href;
      }
      throw new Error('test IdP: too many redirects');
    },
    async endSession() {
      const page = await send(`${issuer}/session/end`);
      const html = await page.text();
      const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1];
      if (xsrf === undefined) throw new Error(`test IdP: no logout form: ${html.slice(0, 300)}`);
      const r = await send(`${issuer}/session/end/confirm`, { method: 'POST', body: new URLSearchParams({ xsrf, logout: 'yes' }).toString() });
      if (r.status >= 400) throw new Error(`test IdP: end session answered ${r.status}`);
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
