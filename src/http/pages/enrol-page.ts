// The enrolment pages under /enrol/<token>: choose a password, scan the QR code, confirm a code.

import { errorBox, escapeHtml, page } from './layout.js';

export const DEAD_LINK_MESSAGE = 'This enrolment link cannot be used: it has already been used, has expired or was withdrawn. Ask your administrator for a new link.';

export function deadLinkPage(): string {
  return page('Enrolment link not valid', `<h1>Enrolment link not valid</h1><p class="error" role="alert" id="enrol-dead">${escapeHtml(DEAD_LINK_MESSAGE)}</p>
<p><a href="/login">Sign in</a> if you have already enrolled.</p>`);
}

/** auth.local: false: enrolment sets a gateway password and authenticator, and no sign-in here takes them. */
export function localDisabledPage(): string {
  return page('Enrolment not available', `<h1>Enrolment not available</h1><p class="error" role="alert" id="enrol-local-disabled">Sign-in with a gateway password is turned off here: this link cannot be used. Sign in through the hospital identity provider.</p>
<p><a href="/login">Sign in</a></p>`);
}

/** Step 1 of 2. `error` is the password policy's reason. */
export function passwordStep(o: { token: string; username: string; minLength: number; error?: string }): string {
  return page('Enrol: choose a password', `<h1>Welcome, ${escapeHtml(o.username)}</h1>
<p>Step 1 of 2: choose your password for the PACS gateway.</p>${errorBox('enrol-error', o.error)}
<form method="post" action="/enrol/${escapeHtml(o.token)}/password">
<input type="hidden" name="username" autocomplete="username" value="${escapeHtml(o.username)}">
<label for="password">New password</label><input id="password" name="password" type="password" autocomplete="new-password" required minlength="${o.minLength}" maxlength="1024" aria-describedby="password-rules">
<p class="note" id="password-rules">At least ${o.minLength} characters; not a common password and not containing your username. A passphrase of several words is good.</p>
<label for="password2">Repeat the password</label><input id="password2" name="password2" type="password" autocomplete="new-password" required maxlength="1024">
<button type="submit" id="enrol-password">Continue</button></form>`);
}

/** Step 2 of 2: the QR code (SVG drawn on the server), the manual key, and the code that confirms it. */
export function authenticatorStep(o: { action: string; username: string; qrSvg: string; secret: string; error?: string; heading?: string; intro?: string }): string {
  const grouped = o.secret.replace(/(.{4})/g, '$1 ').trim();
  return page('Enrol: set up your authenticator', `<h1>${escapeHtml(o.heading ?? 'Set up your authenticator')}</h1>
<p>${escapeHtml(o.intro ?? 'Step 2 of 2: scan this code with an authenticator app (for example FreeOTP, Google Authenticator or Microsoft Authenticator), then type the 6-digit code it shows.')}</p>
${errorBox('enrol-error', o.error)}
<div class="qr" id="qr" role="img" aria-label="QR code for your authenticator app">${o.qrSvg}</div>
<p>Cannot scan? Enter this key by hand (time-based, 6 digits, 30 seconds):<br><span class="secret" id="manual-key">${escapeHtml(grouped)}</span></p>
<form method="post" action="${escapeHtml(o.action)}">
<label for="totp">Code from the app</label><input id="totp" name="totp" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" autocomplete="one-time-code" required>
<button type="submit" id="enrol-confirm">Confirm</button></form>`);
}
