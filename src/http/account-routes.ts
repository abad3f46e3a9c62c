// /account (a password + TOTP session, or a session of the hospital's IdP): sessions, DICOM tokens,
// password and authenticator (local accounts only), sign out.
// Every form posts without JavaScript; cross-site POSTs are refused by auth-routes' hook (same scope).

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Audit } from '../audit/audit.js';
import { GatewayError, isGatewayError } from '../errors.js';
import type { LoginService } from '../identity/login.js';
import { checkPasswordStrength, hashPassword } from '../identity/password.js';
import type { AuthMethod } from '../identity/principal.js';
import type { SessionRecord } from '../identity/sessions.js';
import { generateTotpSecret, matchTotp, totpUri } from '../identity/totp.js';
import type { UserRecord } from '../identity/user-record.js';
import type { StateStore } from '../state/store.js';
import { authenticate, authInputOf, type HttpAuthDeps } from './authenticate.js';
import { security } from './auth-routes.js';
import { sessionCookie } from './cookies.js';
import { qrSvg } from './enrol-routes.js';
import { accountPage, type AccountView } from './pages/account-page.js';
import { authenticatorStep } from './pages/enrol-page.js';
import { userMessage } from './pages/messages.js';

export interface AccountRouteDeps extends HttpAuthDeps {
  readonly login: LoginService;
  readonly store: StateStore;
  readonly audit: Audit;
  readonly idleMinutes: number;
  readonly dicomPort: () => number;
  readonly clock: () => number;
  /** auth.oidc's display name, shown to a user the IdP signed in. */
  readonly idpName?: string;
}

/** Confirmations after a redirect (?m=…): fixed sentences, nothing from the query is shown. */
const NOTICES: Readonly<Record<string, string>> = {
  enrolled: 'Your account is ready and you are signed in.',
  'password-changed': 'Your password was changed; your other sessions were signed out.',
  'authenticator-changed': 'Your authenticator was set up again; the old app entry no longer works, and your other sessions were signed out.',
  'others-signed-out': 'Your other sessions were signed out.',
  'token-revoked': 'The DICOM token was revoked.',
};

/** What an IdP user is told, and the refusal of a password or authenticator change they post anyway. */
export const MANAGED_BY_IDP = "Your password and authenticator are managed by your hospital's identity provider; change them there.";

/** How long a started re-enrolment waits for its confirming code. */
const REENROL_MS = 10 * 60_000;

/**
 * The signed-in user: a local account (`user`, its record) or one the hospital's IdP vouched for
 * (`idp`: no local record; the role is the session's).
 */
type Who = { readonly username: string; readonly role: string; readonly session: SessionRecord; readonly method: AuthMethod }
  & ({ readonly user: UserRecord; readonly idp?: undefined } | { readonly user?: undefined; readonly idp: 'oidc' });

/** The audit `method` of an account event: how the session's user proved who they are. */
const proofOf = (who: Who): 'password+totp' | 'oidc' => (who.idp === undefined ? 'password+totp' : who.idp);

function field(req: FastifyRequest, name: string): string {
  const v = ((req.body ?? {}) as Record<string, unknown>)[name];
  return typeof v === 'string' ? v : '';
}

export async function accountRoutes(app: FastifyInstance, deps: AccountRouteDeps): Promise<void> {
  const html = (reply: FastifyReply, status: number, body: string) => security(reply).code(status).type('text/html; charset=utf-8').send(body);
  const audit = (req: FastifyRequest, who: Who, decision: 'allow' | 'deny', reason: string, extra: Record<string, unknown> = {}): void => {
    deps.audit.record({ event: 'auth.account', decision, reason, principal: who.username, method: proofOf(who), source: req.ip, requestId: req.id, ...extra });
  };

  /** The signed-in user, or a redirect to /login already sent (an ended session says so there). */
  const signedIn = async (req: FastifyRequest, reply: FastifyReply): Promise<Who | undefined> => {
    try {
      const { principal, session } = await authenticate(authInputOf(req), deps);
      if (session === undefined) throw new GatewayError('ERR_UNAUTHENTICATED', 'the account page needs a session');
      // authenticate() admits an IdP session only with its role; its user has no local record.
      if (principal.idp !== undefined) return { username: principal.id, role: principal.role, session, method: principal.method, idp: principal.idp };
      const user = await deps.users.get(principal.id);
      if (user === undefined) throw new GatewayError('ERR_UNAUTHENTICATED', 'the account page needs a password + TOTP session');
      return { username: user.username, role: user.role, user, session, method: principal.method };
    } catch (err) {
      if (isGatewayError(err, 'ERR_STORE_UNAVAILABLE')) throw err;
      await security(reply).redirect(isGatewayError(err, 'ERR_SESSION_EXPIRED') ? '/login?ended=1' : '/login', 303);
      return undefined;
    }
  };

  const view = async (req: FastifyRequest, who: Who, extra: Partial<AccountView> = {}): Promise<string> => {
    const host = (req.headers.host ?? 'gateway').replace(/:\d+$/, '');
    return accountPage({
      username: who.username, role: who.role, method: who.method, session: who.session, idleMinutes: deps.idleMinutes,
      ...(who.idp === undefined ? {} : { idp: { name: deps.idpName ?? 'the identity provider' } }),
      sessions: await deps.sessions.listSessions(who.username), tokens: await deps.sessions.listDimseTokens(who.username),
      dicom: { host, port: deps.dicomPort() }, ...extra,
    });
  };

  /**
   * A local account's user, or undefined with the refusal sent: the password and authenticator of
   * an IdP user are the IdP's (403, whatever the form carried; nothing is checked or changed).
   */
  const localUser = async (req: FastifyRequest, reply: FastifyReply, who: Who, at: 'password' | 'authenticator'): Promise<(Who & { user: UserRecord }) | undefined> => {
    if (who.user !== undefined) return who as Who & { user: UserRecord };
    audit(req, who, 'deny', 'managed-by-idp', { change: at });
    await html(reply, 403, await view(req, who, { errorAt: 'credentials', error: MANAGED_BY_IDP }));
    return undefined;
  };

  /** A new session for `user` in place of the current one (after a credential change ended every session). */
  const signInAgain = async (req: FastifyRequest, reply: FastifyReply, user: UserRecord): Promise<void> => {
    const issued = await deps.sessions.create(user, req.ip);
    reply.header('set-cookie', sessionCookie(deps.cookieName, issued.token, (issued.expiresAt - deps.clock()) / 1000));
  };

  /** Password and a current code, through the login service (its lockout counts these too). */
  const proveAgain = async (req: FastifyRequest, who: Who & { user: UserRecord }): Promise<UserRecord> =>
    deps.login.login({ username: who.user.username, password: field(req, 'current'), totp: field(req, 'totp').trim(), source: req.ip, channel: 'http', context: { requestId: req.id } });

  app.get<{ Querystring: { m?: string } }>('/account', async (req, reply) => {
    const who = await signedIn(req, reply);
    if (who === undefined) return reply;
    const m = req.query.m;
    return html(reply, 200, await view(req, who, m !== undefined && Object.hasOwn(NOTICES, m) ? { notice: NOTICES[m] } : {}));
  });

  app.post('/account/sessions/others', async (req, reply) => {
    const who = await signedIn(req, reply);
    if (who === undefined) return reply;
    const ended = await deps.sessions.revokeOthers(who.username, who.session.sid);
    audit(req, who, 'allow', 'others-signed-out', { sessionsEnded: ended });
    return reply.redirect('/account?m=others-signed-out', 303);
  });

  app.post('/account/dimse-tokens', async (req, reply) => {
    const who = await signedIn(req, reply);
    if (who === undefined) return reply;
    const issued = await deps.sessions.issueDimseToken(who.session);
    deps.audit.record({ event: 'auth.token', decision: 'allow', reason: 'dimse-token-issued', principal: who.username, method: who.method, source: req.ip, requestId: req.id, tokenId: issued.id });
    return html(reply, 201, await view(req, who, { newToken: { token: issued.token, id: issued.id, expiresAt: issued.expiresAt } }));
  });

  app.post<{ Params: { id: string } }>('/account/dimse-tokens/:id/revoke', async (req, reply) => {
    const who = await signedIn(req, reply);
    if (who === undefined) return reply;
    const id = req.params.id;
    const revoked = /^[A-Za-z0-9_-]{10,64}$/.test(id) && (await deps.sessions.revokeDimseTokenOf(who.username, id));
    deps.audit.record({ event: 'auth.token', decision: 'allow', reason: revoked ? 'dimse-token-revoked' : 'dimse-token-not-found', principal: who.username, method: who.method, source: req.ip, requestId: req.id, tokenId: id });
    if (!revoked) return html(reply, 404, await view(req, who, { errorAt: 'tokens', error: 'No such token of yours: it was already revoked or has expired.' }));
    return reply.redirect('/account?m=token-revoked', 303);
  });

  app.post('/account/password', async (req, reply) => {
    const signed = await signedIn(req, reply);
    if (signed === undefined) return reply;
    const who = await localUser(req, reply, signed, 'password');
    if (who === undefined) return reply;
    const refuse = async (status: number, error: string, reason: string) => {
      audit(req, who, 'deny', reason);
      return html(reply, status, await view(req, who, { errorAt: 'password', error }));
    };
    // A directory user's password is the directory's: a local hash would be a second password the
    // gateway never checks, and a source-ldap record with one is refused when the users are read again.
    if (deps.login.passwordInDirectory(who.user)) return refuse(409, 'Your password is the hospital directory\'s: change it there, not here.', 'password-in-directory');
    const password = field(req, 'password');
    if (password !== field(req, 'password2')) return refuse(400, 'The two new passwords differ; type the same password twice.', 'password-mismatch');
    try { checkPasswordStrength(password, who.user.username); } catch (err) {
      if (isGatewayError(err, 'ERR_PASSWORD_WEAK')) return refuse(400, `This password cannot be used: ${err.message}.`, 'password-weak');
      throw err;
    }
    let user: UserRecord;
    try { user = await proveAgain(req, who); } catch (err) {
      if (isGatewayError(err, 'ERR_LOCKED_OUT')) reply.header('retry-after', String(err.detail?.['retryAfterSeconds'] ?? 60));
      return refuse(isGatewayError(err) ? err.statusCode : 500, isGatewayError(err, 'ERR_LOGIN_FAILED') ? 'The current password or the code is wrong.' : userMessage(err), 'password-change-refused');
    }
    const updated = await deps.users.update(user.username, { passwordHash: await hashPassword(password) });
    // The new password stamp ends every session of the user (this one too): sign this browser in again.
    await deps.sessions.revokeUser(user.username, 'password-changed');
    await signInAgain(req, reply, updated);
    audit(req, who, 'allow', 'password-changed');
    return reply.redirect('/account?m=password-changed', 303);
  });

  app.post('/account/authenticator', async (req, reply) => {
    const signed = await signedIn(req, reply);
    if (signed === undefined) return reply;
    const who = await localUser(req, reply, signed, 'authenticator');
    if (who === undefined) return reply;
    try { await proveAgain(req, who); } catch (err) {
      if (isGatewayError(err, 'ERR_LOCKED_OUT')) reply.header('retry-after', String(err.detail?.['retryAfterSeconds'] ?? 60));
      audit(req, who, 'deny', 'reenrol-refused');
      return html(reply, isGatewayError(err) ? err.statusCode : 500, await view(req, who, {
        errorAt: 'authenticator', error: isGatewayError(err, 'ERR_LOGIN_FAILED') ? 'The password or the code is wrong.' : userMessage(err),
      }));
    }
    const secret = generateTotpSecret();
    await deps.store.putRecord(`reenrol:${who.session.sid}`, { secret, lastSeen: deps.clock() }, REENROL_MS);
    audit(req, who, 'allow', 'reenrol-started');
    return html(reply, 200, await reenrolPage(who.user.username, secret));
  });

  const reenrolPage = async (username: string, secret: string, error?: string) => authenticatorStep({
    action: '/account/authenticator/confirm', username, secret, qrSvg: await qrSvg(totpUri(secret, username)),
    heading: 'Set up your authenticator again', intro: 'Scan this code with your authenticator app, then type the 6-digit code it shows. Until you confirm, your old code keeps working.',
    ...(error === undefined ? {} : { error }),
  });

  app.post('/account/authenticator/confirm', async (req, reply) => {
    const signed = await signedIn(req, reply);
    if (signed === undefined) return reply;
    const who = await localUser(req, reply, signed, 'authenticator');
    if (who === undefined) return reply;
    const pending = await deps.store.getRecord<{ secret: string }>(`reenrol:${who.session.sid}`);
    if (pending === null) return html(reply, 400, await view(req, who, { errorAt: 'authenticator', error: 'The set-up took too long or was already finished; start again.' }));
    const attempts = await deps.store.increment(`reenrol-attempts:${who.session.sid}`, REENROL_MS);
    const step = attempts > 10 ? null : await matchTotp(pending.secret, field(req, 'totp').trim(), deps.clock());
    if (step === null) {
      audit(req, who, 'deny', 'reenrol-code-refused');
      if (attempts > 10) { await deps.store.deleteRecord(`reenrol:${who.session.sid}`); }
      return html(reply, 400, await reenrolPage(who.user.username, pending.secret, 'That code did not match. Wait for a new code and try again.'));
    }
    await deps.store.deleteRecord(`reenrol:${who.session.sid}`);
    const updated = await deps.users.update(who.user.username, { totpSecret: pending.secret });
    await deps.store.setIfGreater(`totp-used:${who.user.username}`, step, 120_000);
    await deps.sessions.revokeUser(who.user.username, 're-enrolment');
    await signInAgain(req, reply, updated);
    audit(req, who, 'allow', 'authenticator-changed');
    return reply.redirect('/account?m=authenticator-changed', 303);
  });
}
