// The login form (the signed-in user's page is /account: ./pages/account-page.ts), with the OIDC button of auth.oidc.

import { errorBox, escapeHtml, noticeBox, page } from './pages/layout.js';

export { escapeHtml, page };

/** The "Sign in with <name>" button of auth.oidc: a link, or why it cannot be used now. */
export interface OidcButton { readonly name: string; readonly reachable: boolean }

function oidcBlock(b: OidcButton): string {
  return b.reachable
    ? `<p><a id="oidc-sign-in" class="sso" href="/auth/oidc/start">Sign in with ${escapeHtml(b.name)}</a></p>`
    : `<p class="error" id="oidc-unavailable" role="status">Sign in with ${escapeHtml(b.name)} is unavailable: the identity provider cannot be reached. Try again later or call the IT service desk.</p>`;
}

export interface LoginPageOptions {
  /** Shown above the form (already a user-facing sentence). */
  readonly error?: string;
  readonly notice?: string;
  readonly username?: string;
  /** The local path a form sign-in goes to afterwards (already checked by localNext). */
  readonly next?: string;
  readonly oidc?: OidcButton;
  /** false (auth.local: false): only the OIDC button. */
  readonly local?: boolean;
}

/** The login form. */
export function loginPage(options: LoginPageOptions = {}): string {
  const err = errorBox('login-error', options.error) + noticeBox('login-notice', options.notice);
  const sso = options.oidc === undefined ? '' : oidcBlock(options.oidc);
  if (options.local === false) return page('Sign in', `<h1>Sign in to the PACS gateway</h1>${err}${sso}`);
  return page('Sign in', `<h1>Sign in to the PACS gateway</h1>${err}${sso}${sso === '' ? '' : '<p class="note">or with a gateway account:</p>'}
<form method="post" action="/auth/login" autocomplete="off">${options.next === undefined ? '' : `<input type="hidden" name="next" value="${escapeHtml(options.next)}">`}
<label for="username">Username</label><input id="username" name="username" autocomplete="username" required maxlength="64" value="${escapeHtml(options.username ?? '')}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024">
<label for="totp">Authenticator code</label><input id="totp" name="totp" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" autocomplete="one-time-code" required>
<button type="submit">Sign in</button></form>
<p class="note">Use the 6-digit code from the authenticator app you set up when you enrolled.</p>`);
}
