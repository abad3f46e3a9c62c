// The HTML pages a browser user sees: the login form and a small signed-in landing page.

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

const STYLE = `body{font-family:system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem;color:#1b1f24}
h1{font-size:1.4rem}label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}
button{margin-top:1.2rem;padding:.6rem 1.2rem;font-size:1rem}.error{background:#fde8e8;border:1px solid #e0a0a0;padding:.6rem;border-radius:4px}
.note{color:#555;font-size:.9rem}code{background:#f2f2f2;padding:0 .2rem}.sso{display:inline-block;margin-top:1rem;padding:.6rem 1.2rem;border:1px solid #1b1f24;border-radius:4px;text-decoration:none;color:#1b1f24}`;

export function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)} · PACS gateway</title><style>${STYLE}</style></head><body>${body}</body></html>`;
}

/** The "Sign in with <name>" button of auth.oidc: a link, or why it cannot be used now. */
export interface OidcButton { readonly name: string; readonly reachable: boolean }

function oidcBlock(b: OidcButton): string {
  return b.reachable
    ? `<p><a id="oidc-sign-in" class="sso" href="/auth/oidc/start">Sign in with ${escapeHtml(b.name)}</a></p>`
    : `<p class="error" id="oidc-unavailable" role="status">Sign in with ${escapeHtml(b.name)} is unavailable: the identity provider cannot be reached. Try again later or call the IT service desk.</p>`;
}

/** The login form; `error` is shown above it (already a user-facing sentence). `local: false` leaves only the OIDC button. */
export function loginPage(options: { error?: string; username?: string; oidc?: OidcButton; local?: boolean } = {}): string {
  const err = options.error === undefined ? '' : `<p class="error" role="alert" id="login-error">${escapeHtml(options.error)}</p>`;
  const sso = options.oidc === undefined ? '' : oidcBlock(options.oidc);
  if (options.local === false) return page('Sign in', `<h1>Sign in to the PACS gateway</h1>${err}${sso}`);
  return page('Sign in', `<h1>Sign in to the PACS gateway</h1>${err}${sso}${sso === '' ? '' : '<p class="note">or with a gateway account:</p>'}
<form method="post" action="/auth/login" autocomplete="off">
<label for="username">Username</label><input id="username" name="username" autocomplete="username" required maxlength="64" value="${escapeHtml(options.username ?? '')}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024">
<label for="totp">Authenticator code</label><input id="totp" name="totp" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" autocomplete="one-time-code" required>
<button type="submit">Sign in</button></form>
<p class="note">Use the 6-digit code from the authenticator app you enrolled with your administrator.</p>`);
}

/** The page after login: who you are, when the session ends, links to DICOMweb and logout. */
export function homePage(options: { username: string; role: string; expiresAt: number; idleMinutes: number }): string {
  return page('Signed in', `<h1>Signed in</h1>
<p id="who">Signed in as <strong>${escapeHtml(options.username)}</strong> (role <code>${escapeHtml(options.role)}</code>).</p>
<p class="note">The session ends at ${new Date(options.expiresAt).toISOString()} or after ${options.idleMinutes} minutes without activity.</p>
<p>DICOMweb root for your viewer: <code>/dicom-web/</code> — e.g. <a href="/dicom-web/studies" id="studies">list studies</a>.</p>
<form method="post" action="/auth/logout"><button type="submit" id="logout">Sign out</button></form>`);
}
