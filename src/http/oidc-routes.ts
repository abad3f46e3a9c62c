// The OIDC routes: /auth/oidc/start (to the IdP), /auth/oidc/callback (back from it) and
// /auth/oidc/backchannel-logout (the IdP ending a session). Registered inside authRoutes, so the
// cross-site refusal and the form parser apply here too.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError, isGatewayError } from '../errors.js';
import type { OidcLogin } from '../identity/oidc/oidc-login.js';
import { PENDING_TTL_MS } from '../identity/oidc/oidc-login.js';
import { readCookie, sessionCookie } from './cookies.js';
import { escapeHtml, loginPage, page } from './login-page.js';

/**
 * The cookie that binds a sign-in to the browser that started it (login CSRF: a callback carrying
 * someone else's code finds no pending sign-in here). SameSite=Lax: it must come back on the
 * IdP's top-level redirect, which is cross-site.
 */
export const PENDING_COOKIE = '__Host-pacs-oidc';

function pendingCookie(value: string, maxAgeSeconds: number): string {
  return `${PENDING_COOKIE}=${value}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=${maxAgeSeconds}`;
}

export interface OidcRouteDeps {
  readonly oidc: OidcLogin;
  readonly redirectUrl: string;
  readonly cookieName: string;
  readonly clock: () => number;
  /** auth.local: whether the password form is offered beside the button. */
  readonly local: boolean;
  readonly security: (reply: FastifyReply) => FastifyReply;
}

/** The page a refused sign-in gets: what happened and what to do. */
function refusalPage(err: GatewayError, name: string): string {
  if (err.code === 'ERR_MFA_REQUIRED') {
    return page('Multi-factor authentication required', `<h1>Multi-factor authentication required</h1>
<p class="error" role="alert" id="oidc-error">${escapeHtml(name)} signed you in without multi-factor authentication (MFA), and the PACS gateway admits no one without it.</p>
<p>The hospital's identity provider must require MFA for this app (the PACS gateway). Ask the IT service desk to enable it for your account or for this application; then <a href="/auth/oidc/start">sign in again</a>.</p>`);
  }
  return page('Sign-in refused', `<h1>Sign-in refused</h1><p class="error" role="alert" id="oidc-error">${escapeHtml(err.message)}</p><p><a href="/login">Back to the login page</a></p>`);
}

export function oidcRoutes(app: FastifyInstance, deps: OidcRouteDeps): void {
  const { oidc, security } = deps;

  app.get('/auth/oidc/start', async (req, reply) => {
    security(reply);
    try {
      const { url, pendingId } = await oidc.start(req.ip, req.id);
      reply.header('set-cookie', pendingCookie(pendingId, PENDING_TTL_MS / 1000));
      return reply.redirect(url, 303);
    } catch (err) {
      const g = isGatewayError(err) ? err : new GatewayError('ERR_IDP_UNAVAILABLE');
      if (g.code !== 'ERR_IDP_UNAVAILABLE') {
        if (g.code === 'ERR_BUSY') reply.code(429).header('retry-after', String(g.detail?.['retryAfterSeconds'] ?? 600));
        else reply.code(g.statusCode);
        return reply.type('text/html; charset=utf-8')
          .send(loginPage({ error: g.message, local: deps.local }));
      }
      return reply.code(g.statusCode).type('text/html; charset=utf-8')
        .send(loginPage({ error: `Sign in with ${oidc.name} is unavailable: the identity provider cannot be reached. No other way in is offered instead; try again later.`, oidc: { name: oidc.name, reachable: false }, local: deps.local }));
    }
  });

  app.get('/auth/oidc/callback', async (req: FastifyRequest, reply) => {
    security(reply).header('set-cookie', pendingCookie('', 0));
    // The URL the IdP redirected to, as registered (redirect_uri must match exactly), with the answer's query.
    const url = new URL(deps.redirectUrl);
    url.search = new URL(req.url, 'https://gateway.invalid').search;
    try {
      const signedIn = await oidc.callback(url, readCookie(req.headers.cookie, PENDING_COOKIE), req.ip, req.id);
      reply.header('set-cookie', [pendingCookie('', 0), sessionCookie(deps.cookieName, signedIn.token, (signedIn.expiresAt - deps.clock()) / 1000)]);
      // A 200 page that moves on to /account by itself: a redirect would still belong to the IdP's
      // cross-site navigation, and the SameSite=Strict session cookie would not be sent with it.
      return reply.type('text/html; charset=utf-8').send(page('Signed in', `<meta http-equiv="refresh" content="0;url=/account">
<h1>Signed in</h1><p id="oidc-signed-in">Signed in as <strong>${escapeHtml(signedIn.username)}</strong> (role <code>${escapeHtml(signedIn.role)}</code>). <a href="/account" id="continue">Continue</a></p>`));
    } catch (err) {
      const g = isGatewayError(err) ? err : new GatewayError('ERR_OIDC_FAILED');
      if (!isGatewayError(err)) req.log.error({ err: { message: (err as Error).message } }, 'OIDC callback failed');
      return reply.code(g.statusCode).type('text/html; charset=utf-8').send(refusalPage(g, oidc.name));
    }
  });

  app.post('/auth/oidc/backchannel-logout', async (req, reply) => {
    reply.header('cache-control', 'no-store');
    const body = req.body as Record<string, unknown> | undefined;
    const token = typeof body?.['logout_token'] === 'string' ? body['logout_token'] : undefined;
    if (token === undefined || token.length > 16384) {
      return reply.code(400).send({ error: 'invalid_request', error_description: 'send logout_token (application/x-www-form-urlencoded)' });
    }
    try {
      const r = await oidc.backchannelLogout(token, req.ip, req.id);
      if (!r.ok) return reply.code(400).send({ error: 'invalid_request', error_description: r.reason });
      return reply.code(200).send({ sessionsEnded: r.ended });
    } catch (err) {
      // IdP keys unreachable, store down: the IdP retries; nothing is ended on a guess.
      const g = isGatewayError(err) ? err : new GatewayError('ERR_IDP_UNAVAILABLE');
      return reply.code(g.statusCode >= 500 ? g.statusCode : 400).send({ error: 'temporarily_unavailable', error_description: g.message });
    }
  });
}
