// Login, session, logout and DIMSE-token routes.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError, isGatewayError } from '../errors.js';
import type { Audit, AuditEventName } from '../audit/audit.js';
import type { LoginService } from '../identity/login.js';
import type { SessionService } from '../identity/sessions.js';
import { authenticate, authInputOf, type HttpAuthDeps } from './authenticate.js';
import { clearedSessionCookie, sessionCookie } from './cookies.js';
import { CROSS_SITE_REASON, crossSiteError, crossSiteReason } from './cross-site.js';
import { localNext } from './local-next.js';
import { escapeHtml, loginPage, page, type OidcButton } from './login-page.js';
import { userMessage } from './pages/messages.js';
import type { OidcLogin } from '../identity/oidc/oidc-login.js';
import { oidcRoutes } from './oidc-routes.js';
import { replyError } from './reply-error.js';

export interface AuthRouteDeps extends HttpAuthDeps {
  readonly login: LoginService;
  readonly sessions: SessionService;
  readonly audit: Audit;
  readonly idleMinutes: number;
  readonly clock: () => number;
  /** auth.oidc, when configured: sign-in through the hospital's IdP (./oidc-routes.ts). */
  readonly oidc?: { readonly login: OidcLogin; readonly redirectUrl: string };
  /** auth.local: the password + TOTP form (default true). */
  readonly local?: boolean;
}

const loginBody = {
  type: 'object', additionalProperties: false, required: ['username', 'password', 'totp'],
  properties: {
    username: { type: 'string', minLength: 1, maxLength: 128 },
    password: { type: 'string', minLength: 1, maxLength: 1024 },
    totp: { type: 'string', minLength: 1, maxLength: 16 },
    // The page to go back to after a form login (./local-next.ts); anything not local means `/`.
    next: { type: 'string', maxLength: 4096 },
  },
} as const;

function wantsHtml(req: FastifyRequest): boolean {
  return (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
}

/** Pages and answers with credentials or account data are never cached (CSP, HSTS and the rest: ./security-headers.ts). */
export function security(reply: FastifyReply): FastifyReply {
  return reply.header('cache-control', 'no-store');
}

/** Methods that never change state here; every other one is checked for cross-site origin. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The audit event of a route's decisions. */
function eventOf(url: string | undefined): AuditEventName {
  if (url === '/auth/login') return 'auth.login';
  if (url === '/auth/logout') return 'auth.logout';
  if (url?.startsWith('/enrol/') === true) return 'auth.enrol';
  if (url?.startsWith('/account') === true) return 'auth.account';
  return 'auth.token';
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

export async function authRoutes(app: FastifyInstance, deps: AuthRouteDeps): Promise<void> {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 8192 }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  // An empty JSON body is no body (POST /auth/dimse-token and /auth/logout need none); anything else is parsed as fastify does.
  const json = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (body === '') { done(null, undefined); return; }
    json(req, body as string, done);
  });

  // CSRF and login CSRF (./cross-site.ts): before the body is parsed or any credential is looked at.
  app.addHook('onRequest', async (req, reply) => {
    if (SAFE_METHODS.has(req.method)) return;
    const site = { fetchSite: one(req.headers['sec-fetch-site'])?.toLowerCase(), origin: one(req.headers.origin), host: req.headers.host };
    const why = crossSiteReason(site);
    if (why === undefined) return;
    deps.audit.record({
      event: eventOf(req.routeOptions.url), decision: 'deny', reason: CROSS_SITE_REASON, source: req.ip, requestId: req.id,
      httpMethod: req.method, path: req.url.slice(0, 512), fetchSite: site.fetchSite, origin: site.origin?.slice(0, 256),
    });
    return replyError(security(reply), crossSiteError(why));
  });

  const local = deps.local !== false;
  /** The login page's OIDC button, with whether the IdP answers now. */
  const button = async (): Promise<{ oidc?: OidcButton; local: boolean }> => {
    if (deps.oidc === undefined) return { local };
    const { reachable } = await deps.oidc.login.status();
    return { oidc: { name: deps.oidc.login.name, reachable }, local };
  };
  if (deps.oidc !== undefined) {
    oidcRoutes(app, { oidc: deps.oidc.login, redirectUrl: deps.oidc.redirectUrl, cookieName: deps.cookieName, clock: deps.clock, local, security });
  }

  app.get<{ Querystring: { next?: unknown; ended?: string } }>('/login', async (req, reply) => {
    const next = localNext(req.query.next);
    return security(reply).type('text/html; charset=utf-8').send(loginPage({
      ...(next === '/' ? {} : { next }),
      ...(req.query.ended === undefined ? {} : { notice: 'Your session has ended. Sign in again.' }),
      ...(await button()),
    }));
  });

  app.get('/', async (req, reply) => {
    try {
      const { principal, session } = await authenticate(authInputOf(req), deps);
      if (session === undefined) return security(reply).type('text/plain').send(`Authenticated as device ${principal.id}.\n`);
      return reply.redirect('/account', 303);
    } catch (err) {
      return reply.redirect(isGatewayError(err, 'ERR_SESSION_EXPIRED') ? '/login?ended=1' : '/login', 303);
    }
  });

  app.post('/auth/login', {
    schema: { body: loginBody },
    attachValidation: true,
  }, async (req, reply) => {
    const html = wantsHtml(req);
    security(reply);
    if (!local) {
      deps.audit.record({ event: 'auth.login', decision: 'deny', reason: 'local-login-disabled', method: 'password+totp', source: req.ip, requestId: req.id });
      const err = new GatewayError('ERR_LOCAL_LOGIN_DISABLED');
      return html ? reply.code(err.statusCode).type('text/html; charset=utf-8').send(loginPage({ error: err.message, ...(await button()) })) : replyError(reply, err);
    }
    if (req.validationError !== undefined) {
      const back = localNext((req.body as { next?: unknown } | undefined)?.next);
      return html
        ? reply.code(400).type('text/html; charset=utf-8').send(loginPage({ error: 'Enter your username, password and the 6-digit code.', ...(back === '/' ? {} : { next: back }), ...(await button()) }))
        : replyError(reply, new GatewayError('ERR_BAD_REQUEST', 'send username, password and totp (JSON or form)'));
    }
    const body = req.body as { username: string; password: string; totp: string; next?: string };
    const next = localNext(body.next);
    try {
      const user = await deps.login.login({ ...body, source: req.ip, channel: 'http', context: { requestId: req.id } });
      const issued = await deps.sessions.create(user, req.ip);
      reply.header('set-cookie', sessionCookie(deps.cookieName, issued.token, (issued.expiresAt - deps.clock()) / 1000));
      if (html) return reply.redirect(next, 303);
      return reply.send({ token: issued.token, expiresAt: new Date(issued.expiresAt).toISOString(), username: user.username, role: user.role });
    } catch (err) {
      if (!html) return replyError(reply, err);
      const status = isGatewayError(err) ? err.statusCode : 500;
      const retry = isGatewayError(err) ? err.detail?.['retryAfterSeconds'] : undefined;
      if (typeof retry === 'number') reply.header('retry-after', String(retry)); // ERR_LOCKED_OUT, ERR_BUSY
      return reply.code(status).type('text/html; charset=utf-8').send(loginPage({ error: userMessage(err), username: body.username, ...(next === '/' ? {} : { next }), ...(await button()) }));
    }
  });

  app.get('/auth/session', async (req, reply) => {
    try {
      const { principal, session } = await authenticate(authInputOf(req), deps);
      return security(reply).send({
        principal: principal.id, kind: principal.kind, role: principal.role, method: principal.method,
        ...(session === undefined ? {} : { expiresAt: new Date(session.expiresAt).toISOString(), idleTimeoutMinutes: deps.idleMinutes }),
      });
    } catch (err) {
      return replyError(reply, err);
    }
  });

  app.post('/auth/logout', async (req, reply) => {
    security(reply).header('set-cookie', clearedSessionCookie(deps.cookieName));
    try {
      const { principal, session } = await authenticate(authInputOf(req), deps);
      if (session !== undefined) await deps.sessions.revoke(session.sid);
      // RP-initiated logout: an IdP user's browser goes on to end the IdP session too, when the IdP offers it.
      const idpLogout = session === undefined ? undefined : await deps.oidc?.login.logoutRedirect(session);
      deps.audit.record({ event: 'auth.logout', decision: 'allow', reason: 'logout', principal: principal.id, method: principal.method, source: req.ip, requestId: req.id, ...(idpLogout === undefined ? {} : { idpLogout: true }) });
      if (idpLogout !== undefined) {
        // A page, not a redirect: CSP form-action 'self' would stop a form post redirected to the IdP.
        return wantsHtml(req)
          ? reply.type('text/html; charset=utf-8').send(page('Signing out', `<meta http-equiv="refresh" content="0;url=${escapeHtml(idpLogout)}"><h1>Signed out of the gateway</h1><p>Signing you out at the identity provider: <a id="idp-logout" href="${escapeHtml(idpLogout)}">continue</a>.</p>`))
          : reply.send({ loggedOut: true, endSessionUrl: idpLogout });
      }
      return wantsHtml(req) ? reply.redirect('/login', 303) : reply.send({ loggedOut: true });
    } catch (err) {
      return wantsHtml(req) ? reply.redirect('/login', 303) : replyError(reply, err);
    }
  });

  app.post('/auth/dimse-token', async (req, reply) => {
    security(reply);
    try {
      const { principal, session } = await authenticate(authInputOf(req), deps);
      if (session === undefined) throw new GatewayError('ERR_UNAUTHENTICATED', 'a DIMSE token needs a password + TOTP session');
      const issued = await deps.sessions.issueDimseToken(session);
      deps.audit.record({ event: 'auth.token', decision: 'allow', reason: 'dimse-token-issued', principal: principal.id, method: principal.method, source: req.ip, requestId: req.id, tokenId: issued.id });
      return reply.send({ token: issued.token, tokenId: issued.id, expiresAt: new Date(issued.expiresAt).toISOString() });
    } catch (err) {
      return replyError(reply, err);
    }
  });

  app.delete<{ Params: { id: string } }>('/auth/dimse-token/:id', async (req, reply) => {
    security(reply);
    try {
      const { principal, session } = await authenticate(authInputOf(req), deps);
      if (session === undefined) throw new GatewayError('ERR_UNAUTHENTICATED', 'revoking a DIMSE token needs a session');
      const id = req.params.id;
      const revoked = /^[A-Za-z0-9_-]{10,64}$/.test(id) && (await deps.sessions.revokeDimseTokenOf(principal.id, id));
      deps.audit.record({ event: 'auth.token', decision: 'allow', reason: revoked ? 'dimse-token-revoked' : 'dimse-token-not-found', principal: principal.id, method: principal.method, source: req.ip, requestId: req.id, tokenId: id });
      return reply.code(revoked ? 200 : 404).send({ revoked });
    } catch (err) {
      return replyError(reply, err);
    }
  });
}
