// Enrolment by invite link (`pacs-gateway users invite`): /enrol/<token> asks for a password, then shows
// the TOTP QR code and confirms a current code; only then is the account active and signed in.
// Every step is an `auth.enrol` audit event. Cross-site POSTs are refused by auth-routes' hook (same scope).

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import QRCode from 'qrcode';
import type { Audit } from '../audit/audit.js';
import { isGatewayError } from '../errors.js';
import { choosePassword, confirmEnrolment, findInvite } from '../identity/enrolment.js';
import { MIN_PASSWORD_LENGTH } from '../identity/password.js';
import type { SessionService } from '../identity/sessions.js';
import { totpUri } from '../identity/totp.js';
import type { UserDirectory } from '../identity/user-directory.js';
import type { StateStore } from '../state/store.js';
import { security } from './auth-routes.js';
import { sessionCookie } from './cookies.js';
import { authenticatorStep, deadLinkPage, localDisabledPage, passwordStep } from './pages/enrol-page.js';

export interface EnrolRouteDeps {
  readonly users: UserDirectory;
  readonly sessions: SessionService;
  readonly store: StateStore;
  readonly audit: Audit;
  readonly cookieName: string;
  readonly clock: () => number;
  /** auth.local: false: no link opens (it would set a local password or authenticator no sign-in accepts). */
  readonly local?: boolean;
}

/** Wrong codes one enrolment may try before the link is locked (the admin sends a new one). */
const MAX_CODE_ATTEMPTS = 10;
const REPLAY_TTL_MS = 120_000;

type TokenRequest = FastifyRequest<{ Params: { token: string } }>;

function html(reply: FastifyReply, status: number, body: string): FastifyReply {
  return security(reply).code(status).type('text/html; charset=utf-8').send(body);
}

export async function qrSvg(uri: string): Promise<string> {
  return QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 4, width: 240 });
}

export async function enrolRoutes(app: FastifyInstance, deps: EnrolRouteDeps): Promise<void> {
  const audit = (req: FastifyRequest, decision: 'allow' | 'deny', reason: string, principal?: string): void => {
    deps.audit.record({ event: 'auth.enrol', decision, reason, source: req.ip, requestId: req.id, ...(principal === undefined ? {} : { principal }) });
  };
  /** The invite of the request's token, or the dead-link page already sent. */
  const invite = async (req: TokenRequest, reply: FastifyReply) => {
    if (deps.local === false) {
      // Before the token is looked up: nothing about the link is read or changed.
      audit(req, 'deny', 'local-login-disabled');
      await html(reply, 403, localDisabledPage());
      return undefined;
    }
    const found = await findInvite(deps.users, req.params.token, deps.clock());
    if ('problem' in found) {
      audit(req, 'deny', found.problem);
      await html(reply, 410, deadLinkPage());
      return undefined;
    }
    return found.user;
  };

  const showAuthenticator = async (reply: FastifyReply, token: string, user: { username: string; totpSecret: string }, status = 200, error?: string) =>
    html(reply, status, authenticatorStep({
      action: `/enrol/${token}/confirm`, username: user.username, qrSvg: await qrSvg(totpUri(user.totpSecret, user.username)), secret: user.totpSecret,
      ...(error === undefined ? {} : { error }),
    }));

  app.get<{ Params: { token: string } }>('/enrol/:token', async (req, reply) => {
    const user = await invite(req, reply);
    if (user === undefined) return reply;
    audit(req, 'allow', user.invite.passwordChosen === true ? 'invite-opened:authenticator' : 'invite-opened', user.username);
    if (user.invite.passwordChosen === true) return showAuthenticator(reply, req.params.token, user);
    return html(reply, 200, passwordStep({ token: req.params.token, username: user.username, minLength: MIN_PASSWORD_LENGTH }));
  });

  app.post<{ Params: { token: string } }>('/enrol/:token/password', async (req, reply) => {
    const user = await invite(req, reply);
    if (user === undefined) return reply;
    const body = (req.body ?? {}) as Record<string, unknown>;
    const password = typeof body['password'] === 'string' ? body['password'] : '';
    const again = typeof body['password2'] === 'string' ? body['password2'] : '';
    const refuse = (why: string) => {
      audit(req, 'deny', 'password-refused', user.username);
      return html(reply, 400, passwordStep({ token: req.params.token, username: user.username, minLength: MIN_PASSWORD_LENGTH, error: why }));
    };
    if (password !== again) return refuse('The two passwords differ; type the same password twice.');
    try {
      await choosePassword(deps.users, user, password);
    } catch (err) {
      if (isGatewayError(err, 'ERR_PASSWORD_WEAK')) return refuse(`This password cannot be used: ${err.message}.`);
      throw err;
    }
    audit(req, 'allow', 'password-chosen', user.username);
    return reply.redirect(`/enrol/${req.params.token}`, 303);
  });

  app.post<{ Params: { token: string } }>('/enrol/:token/confirm', async (req, reply) => {
    const user = await invite(req, reply);
    if (user === undefined) return reply;
    if (user.invite.passwordChosen !== true) return reply.redirect(`/enrol/${req.params.token}`, 303);
    const attempts = await deps.store.increment(`enrol-attempts:${user.invite.tokenHash}`, 72 * 3_600_000);
    if (attempts > MAX_CODE_ATTEMPTS) {
      audit(req, 'deny', 'code-attempts-exhausted', user.username);
      return html(reply, 429, deadLinkPage());
    }
    const body = (req.body ?? {}) as Record<string, unknown>;
    const code = typeof body['totp'] === 'string' ? body['totp'] : '';
    const done = await confirmEnrolment(deps.users, user, code, deps.clock());
    if (done === undefined) {
      audit(req, 'deny', 'code-refused', user.username);
      return showAuthenticator(reply, req.params.token, user, 400, `That code did not match. Check the time on your phone, wait for a new code and try again (${MAX_CODE_ATTEMPTS - attempts} attempts left).`);
    }
    // One sign-in per link: of confirms racing on it (each read it open), only the first goes on.
    if ((await deps.store.increment(`enrol-confirmed:${user.invite.tokenHash}`, 72 * 3_600_000)) > 1) {
      audit(req, 'deny', 'invite-used', user.username);
      return html(reply, 410, deadLinkPage());
    }
    // The code is used: it cannot sign in again (the login's replay mark).
    await deps.store.setIfGreater(`totp-used:${user.username}`, done.step, REPLAY_TTL_MS);
    const issued = await deps.sessions.create(done.user, req.ip);
    audit(req, 'allow', 'enrolled', user.username);
    // The enrolment ends in a sign-in: the login trail (and ATNA's User Authentication) has it too.
    deps.audit.record({ event: 'auth.login', decision: 'allow', reason: 'enrolment-confirmed', principal: user.username, method: 'password+totp', source: req.ip, channel: 'http', requestId: req.id });
    reply.header('set-cookie', sessionCookie(deps.cookieName, issued.token, (issued.expiresAt - deps.clock()) / 1000));
    return reply.redirect('/account?m=enrolled', 303);
  });
}
