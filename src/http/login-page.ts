// The login form (the signed-in user's page is /account: ./pages/account-page.ts).

import { errorBox, escapeHtml, noticeBox, page } from './pages/layout.js';

/** The login form; `error` is shown above it (already a user-facing sentence). */
export function loginPage(options: { error?: string; username?: string; next?: string; notice?: string } = {}): string {
  const err = errorBox('login-error', options.error) + noticeBox('login-notice', options.notice);
  return page('Sign in', `<h1>Sign in to the PACS gateway</h1>${err}
<form method="post" action="/auth/login" autocomplete="off">${options.next === undefined ? '' : `<input type="hidden" name="next" value="${escapeHtml(options.next)}">`}
<label for="username">Username</label><input id="username" name="username" autocomplete="username" required maxlength="64" value="${escapeHtml(options.username ?? '')}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024">
<label for="totp">Authenticator code</label><input id="totp" name="totp" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" autocomplete="one-time-code" required>
<button type="submit">Sign in</button></form>
<p class="note">Use the 6-digit code from the authenticator app you set up when you enrolled.</p>`);
}
