// /account: who you are, your sessions, your DICOM tokens, password and authenticator (local accounts;
// an IdP's user is told they are the IdP's), sign out.

import type { DimseTokenInfo, SessionRecord } from '../../identity/sessions.js';
import { errorBox, escapeHtml, noticeBox, page, when } from './layout.js';

export interface AccountView {
  readonly username: string;
  readonly role: string;
  readonly method: string;
  /** Set when the hospital's identity provider signed the user in (auth.oidc): its display name. */
  readonly idp?: { readonly name: string };
  readonly session: SessionRecord;
  readonly idleMinutes: number;
  readonly sessions: readonly SessionRecord[];
  readonly tokens: readonly DimseTokenInfo[];
  /** The gateway's DICOM port and AE title, for the storescu line. */
  readonly dicom: { readonly host: string; readonly port: number };
  readonly notice?: string;
  readonly error?: string;
  /** Which form the error belongs to (the error is shown there). */
  readonly errorAt?: 'password' | 'authenticator' | 'tokens' | 'sessions' | 'credentials';
  /** A token just created: shown once. */
  readonly newToken?: { readonly token: string; readonly id: string; readonly expiresAt: number };
}

const METHODS: Readonly<Record<string, string>> = { 'session-cookie': 'password and authenticator code (browser session)', 'bearer-token': 'password and authenticator code (bearer token)' };

/** An IdP user's password and authenticator section: they are the IdP's, nothing to change here. */
function managedByIdp(name: string, error: string): string {
  return `<h2>Password and authenticator</h2>${error}
<p id="managed-by-idp">Your password and authenticator (multi-factor authentication) are managed by your hospital's identity provider, ${escapeHtml(name)}; change them there.</p>`;
}

export function accountPage(v: AccountView): string {
  const err = (at: NonNullable<AccountView['errorAt']>) => (v.errorAt === at ? errorBox(`${at}-error`, v.error) : '');
  const sessions = v.sessions.map((s) => `<tr><td>${escapeHtml(when(s.createdAt))}${s.sid === v.session.sid ? ' <strong>(this one)</strong>' : ''}</td><td>${escapeHtml(s.source)}</td><td>${escapeHtml(when(s.lastSeen))}</td></tr>`).join('');
  const tokens = v.tokens.length === 0
    ? '<p id="no-tokens">You have no DICOM tokens.</p>'
    : `<table id="tokens"><caption class="note">Your DICOM tokens</caption><thead><tr><th scope="col">Created</th><th scope="col">Expires</th><th scope="col"><span class="note">Action</span></th></tr></thead><tbody>${v.tokens.map((t) => `<tr><td>${escapeHtml(when(t.createdAt))}</td><td>${escapeHtml(when(t.expiresAt))}</td><td><form method="post" action="/account/dimse-tokens/${escapeHtml(t.id)}/revoke" class="inline"><button type="submit" class="small secondary" id="revoke-${escapeHtml(t.id)}" aria-label="Revoke the token created ${escapeHtml(when(t.createdAt))}">Revoke</button></form></td></tr>`).join('')}</tbody></table>`;
  const fresh = v.newToken === undefined ? '' : `<div id="new-token-box" role="status"><p><strong>Your new DICOM token</strong> (shown only now; it works until ${escapeHtml(when(v.newToken.expiresAt))} and never past this session):</p>
<pre id="new-token">${escapeHtml(v.newToken.token)}</pre><button type="button" class="small secondary" data-copy="new-token" hidden>Copy token</button>
<p>Save it in a file (for example <code>token.jwt</code>) and send DICOM with it over TLS, for example:</p><pre id="storescu-line">storescu +tla +cf gateway-ca.crt --jwt token.jwt -aec GATEWAY ${escapeHtml(v.dicom.host)} ${v.dicom.port} FILE.dcm</pre>
<button type="button" class="small secondary" data-copy="storescu-line" hidden>Copy command</button></div>`;
  return page('Your account', `<h1>Your account</h1>${noticeBox('account-notice', v.notice)}
<p id="who">Signed in as <strong>${escapeHtml(v.username)}</strong> (role <code>${escapeHtml(v.role)}</code>).</p>
<dl><dt>Signed in with</dt><dd id="method">${v.idp === undefined ? escapeHtml(METHODS[v.method] ?? v.method) : `your hospital's identity provider, <span id="idp">${escapeHtml(v.idp.name)}</span> (OpenID Connect, with multi-factor authentication)`}</dd>
<dt>Session ends</dt><dd id="session-end">${escapeHtml(when(v.session.expiresAt))} at the latest, or after ${v.idleMinutes} minutes without activity</dd></dl>
<form method="post" action="/auth/logout"><button type="submit" id="logout">Sign out</button></form>

<h2 id="sessions-heading">Your active sessions</h2>${err('sessions')}
<table id="sessions" aria-labelledby="sessions-heading"><thead><tr><th scope="col">Signed in</th><th scope="col">From</th><th scope="col">Last active</th></tr></thead><tbody>${sessions}</tbody></table>
<form method="post" action="/account/sessions/others"><button type="submit" class="secondary" id="sign-out-others"${v.sessions.length <= 1 ? ' disabled' : ''}>Sign out everywhere else</button></form>

<h2>DICOM access</h2>${err('tokens')}
<p class="note">A DICOM token lets a DICOM program (storescu, a workstation) act as you. DICOM web access in the browser needs none.</p>
${fresh}
<form method="post" action="/account/dimse-tokens"><button type="submit" id="create-token">Create a DICOM token</button></form>
${tokens}

${v.idp !== undefined ? managedByIdp(v.idp.name, err('credentials')) : `<h2>Change your password</h2>${err('password')}
<form method="post" action="/account/password">
<input type="hidden" name="username" autocomplete="username" value="${escapeHtml(v.username)}">
<label for="current-password">Current password</label><input id="current-password" name="current" type="password" autocomplete="current-password" required maxlength="1024">
<label for="new-password">New password</label><input id="new-password" name="password" type="password" autocomplete="new-password" required minlength="8" maxlength="1024">
<label for="new-password2">Repeat the new password</label><input id="new-password2" name="password2" type="password" autocomplete="new-password" required maxlength="1024">
<label for="password-totp">Authenticator code</label><input id="password-totp" name="totp" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" autocomplete="one-time-code" required>
<button type="submit" id="change-password">Change password</button></form>
<p class="note">Changing it signs you out everywhere else.</p>

<h2>Authenticator app</h2>${err('authenticator')}
<p>New phone? Set up the authenticator again: you get a new QR code, and the old app entry stops working.</p>
<form method="post" action="/account/authenticator">
<input type="hidden" name="username" autocomplete="username" value="${escapeHtml(v.username)}">
<label for="reenrol-password">Password</label><input id="reenrol-password" name="current" type="password" autocomplete="current-password" required maxlength="1024">
<label for="reenrol-totp">Current authenticator code</label><input id="reenrol-totp" name="totp" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" autocomplete="one-time-code" required>
<button type="submit" class="secondary" id="reenrol">Set up the authenticator again</button></form>`}`, { scripts: ['account.js'], wide: true });
}
