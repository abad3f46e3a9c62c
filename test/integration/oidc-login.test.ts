// Sign-in through a real OpenID Provider (oidc-provider) over HTTP, without a browser: the redirect
// flow, MFA and role rules, the session it opens (DICOMweb, DIMSE token), replayed and tampered
// callbacks, back-channel logout.

import t from 'tap';
import { makeInstance } from '../helpers/instances.js';
import { cookieValue, PENDING_COOKIE, SESSION_COOKIE, startOidcEnv } from '../helpers/oidc-env.js';
import { uploadInstance } from '../helpers/orthanc.js';

t.test('OIDC sign-in against a real OpenID Provider', async (t) => {
  const o = await startOidcEnv();
  t.teardown(() => o.stop());
  const { gw, orthanc } = o.env;
  const inst = makeInstance();
  await uploadInstance(orthanc, inst.buffer);

  await t.test('the login page offers the IdP beside the local form', async (t) => {
    const page = await gw.request('GET', '/login');
    t.equal(page.status, 200);
    t.match(page.text, /<a id="oidc-sign-in"[^>]*href="\/auth\/oidc\/start">Sign in with Test Hospital IdP<\/a>/);
    t.match(page.text, /action="\/auth\/login"/, 'the local form is still there (auth.local defaults to true)');
  });

  await t.test('a user with MFA (amr otp) signs in; the session reads DICOMweb and gets a DIMSE token', async (t) => {
    const r = await o.signIn('u-alice');
    t.equal(r.start.status, 303);
    const authz = new URL(r.start.headers.location as string);
    t.equal(authz.origin, o.idp.issuer, 'sent to the IdP');
    t.equal(authz.searchParams.get('code_challenge_method'), 'S256', 'PKCE S256');
    t.ok((authz.searchParams.get('state') ?? '').length >= 32 && (authz.searchParams.get('nonce') ?? '').length >= 32, 'state and nonce');
    t.equal(authz.searchParams.get('max_age'), '3600', 'max_age');
    t.notMatch(authz.href, o.clientSecret, 'the secret never goes through the browser');
    t.match(String(r.start.headers['set-cookie']), /__Host-pacs-oidc=[A-Za-z0-9_-]{32}; Path=\/; Secure; HttpOnly; SameSite=Lax; Max-Age=600/);
    t.equal(r.callback.status, 200, r.callback.text.slice(-300));
    t.match(r.callback.text, /Signed in as <strong>alice<\/strong> \(role <code>radiologist<\/code>\)/);
    t.ok(r.session, 'a session cookie');
    t.match(String(r.callback.headers['set-cookie']), /__Host-pacs-session=[^;]+; Path=\/; Secure; HttpOnly; SameSite=Strict/);
    const cookie = `${SESSION_COOKIE}=${r.session}`;
    const who = await gw.request('GET', '/auth/session', { headers: { cookie } });
    t.equal(who.status, 200);
    t.match(who.json(), { principal: 'alice', kind: 'user', role: 'radiologist', method: 'session-cookie' });
    const studies = await gw.request('GET', '/dicom-web/studies', { headers: { cookie, accept: 'application/dicom+json' } });
    t.equal(studies.status, 200, 'QIDO-RS through the gateway');
    t.ok((studies.json() as any[]).some((s) => s['0020000D']?.Value?.[0] === inst.studyUid), 'the study through the gateway');
    const token = await gw.request('POST', '/auth/dimse-token', { headers: { cookie } });
    t.equal(token.status, 200, 'a DIMSE token');
    t.match(gw.auditEvents('auth.login').at(-1), { decision: 'allow', reason: 'oidc-sign-in', principal: 'alice', role: 'radiologist', method: 'oidc', amr: ['pwd', 'otp'], roleFrom: 'pacs-radiologists' });
    t.notMatch(gw.rawLogs.join('\n'), o.clientSecret, 'the client secret is never logged');
  });

  await t.test('/account works for an IdP user; its password and authenticator forms are refused (they are the IdP\'s)', async (t) => {
    const r = await o.signIn('u-alice');
    t.match(r.callback.text, /<meta http-equiv="refresh" content="0;url=\/account">/, 'the callback page moves on to /account');
    const cookie = `${SESSION_COOKIE}=${r.session}`;
    const home = await gw.request('GET', '/', { headers: { cookie } });
    t.equal(home.status, 303);
    t.equal(home.headers.location, '/account', '/ sends a signed-in IdP user to /account too');
    const account = await gw.request('GET', '/account', { headers: { cookie } });
    t.equal(account.status, 200, 'not sent back to /login: no local user record is needed');
    t.match(account.text, /<p id="who">Signed in as <strong>alice<\/strong> \(role <code>radiologist<\/code>\)/, 'username and the role from the IdP groups');
    t.match(account.text, /<dd id="method">your hospital's identity provider, <span id="idp">Test Hospital IdP<\/span> \(OpenID Connect/);
    t.match(account.text, /<dd id="session-end">/);
    t.match(account.text, /id="managed-by-idp">Your password and authenticator [^<]*are managed by your hospital's identity provider/);
    t.notMatch(account.text, /action="\/account\/(password|authenticator)"/, 'no password or authenticator form is offered');
    t.match(account.text, /action="\/account\/dimse-tokens"/);
    t.match(account.text, /action="\/account\/sessions\/others"/);
    t.match(account.text, /action="\/auth\/logout"/);

    const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
    const before = gw.auditEvents('auth.account').length;
    for (const path of ['/account/password', '/account/authenticator', '/account/authenticator/confirm']) {
      const refused = await gw.request('POST', path, { headers: { ...FORM, cookie }, body: 'current=x&password=Another-long-passphrase-9&password2=Another-long-passphrase-9&totp=123456' });
      t.equal(refused.status, 403, `${path}: refused`);
      t.match(refused.text, /id="credentials-error">[^<]*managed by your hospital(?:'|&#39;|&#x27;)s identity provider/, `${path}: the page says why`);
    }
    const denials = gw.auditEvents('auth.account').slice(before);
    t.equal(denials.length, 3);
    for (const e of denials) t.match(e, { decision: 'deny', reason: 'managed-by-idp', principal: 'alice', method: 'oidc' });
    t.equal((await gw.request('GET', '/account', { headers: { cookie } })).status, 200, 'the session lives on');

    // Another session of alice: "sign out everywhere else" ends it (and any other) and keeps this one; the audit says oidc.
    const sessionRows = async () => {
      const text = (await gw.request('GET', '/account', { headers: { cookie } })).text;
      return (/<table id="sessions"[^]*?<tbody>([^]*?)<\/tbody>/.exec(text)?.[1] ?? '').match(/<tr>/g)?.length ?? 0;
    };
    const listed = await sessionRows();
    const other = await o.signIn('u-alice');
    const otherCookie = `${SESSION_COOKIE}=${other.session}`;
    t.equal(await sessionRows(), listed + 1, 'the new session is listed');
    const signOut = await gw.request('POST', '/account/sessions/others', { headers: { ...FORM, cookie }, body: '' });
    t.equal(signOut.status, 303);
    t.match(gw.auditEvents('auth.account').at(-1), { decision: 'allow', reason: 'others-signed-out', principal: 'alice', method: 'oidc', sessionsEnded: listed });
    t.equal(await sessionRows(), 1, 'only this one is left');
    t.equal((await gw.request('GET', '/dicom-web/studies', { headers: { cookie: otherCookie } })).status, 401, 'the other session is over');
    t.equal((await gw.request('GET', '/account', { headers: { cookie } })).status, 200, 'this one is not');

    // DIMSE tokens from the page's forms: create (shown once), listed, revoked.
    const created = await gw.request('POST', '/account/dimse-tokens', { headers: { ...FORM, cookie }, body: '' });
    t.equal(created.status, 201);
    const id = /id="revoke-([A-Za-z0-9_-]+)"/.exec(created.text)?.[1];
    t.ok(id, 'the new token is listed');
    t.match(created.text, /<pre id="new-token">[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+<\/pre>/);
    const revoked = await gw.request('POST', `/account/dimse-tokens/${id}/revoke`, { headers: { ...FORM, cookie }, body: '' });
    t.equal(revoked.status, 303);
    t.match(gw.auditEvents('auth.token').at(-1), { decision: 'allow', reason: 'dimse-token-revoked', principal: 'alice', tokenId: id });
    t.match((await gw.request('GET', '/account', { headers: { cookie } })).text, /id="no-tokens"/);
  });

  await t.test('MFA by acr: accepted when acr is an accepted value, refused when it is not', async (t) => {
    const carol = await o.signIn('u-carol');
    t.equal(carol.callback.status, 200, carol.callback.text.slice(-300));
    t.ok(carol.session);
    const bea = await o.signIn('u-bea');
    t.equal(bea.callback.status, 403);
    t.equal(bea.session, undefined);
    t.match(bea.callback.text, /the hospital's identity provider must require MFA for this app/i);
  });

  await t.test('a user without MFA (amr pwd only) is refused with the MFA page, no session', async (t) => {
    const r = await o.signIn('u-bob');
    t.equal(r.callback.status, 403);
    t.equal(r.session, undefined);
    t.match(r.callback.text, /Multi-factor authentication required/);
    t.match(r.callback.text, /must require MFA for this app/);
    t.match(gw.auditEvents('auth.login').at(-1), { decision: 'deny', reason: 'mfa-not-proven', principal: 'bob', method: 'oidc', amr: ['pwd'] });
  });

  await t.test('a user whose groups map to no role is refused (never a default role)', async (t) => {
    const r = await o.signIn('u-dave');
    t.equal(r.callback.status, 403);
    t.equal(r.session, undefined);
    t.match(r.callback.text, /in no group that the gateway maps to a role/);
    t.match(gw.auditEvents('auth.login').at(-1), { decision: 'deny', reason: 'no-role-mapped', principal: 'dave', claimValues: ['kitchen'] });
  });

  await t.test('a replayed callback is refused', async (t) => {
    const r = await o.signIn('u-alice');
    t.equal(r.callback.status, 200);
    const u = new URL(r.callbackUrl);
    const again = await gw.request('GET', `${u.pathname}${u.search}`, { headers: { cookie: `${PENDING_COOKIE}=${r.pendingCookie}` } });
    t.equal(again.status, 400);
    t.equal(cookieValue(again, SESSION_COOKIE), undefined);
    t.match(again.text, /already used or has expired/);
    t.match(gw.auditEvents('auth.login').at(-1), { decision: 'deny', reason: 'oidc-no-pending-sign-in' });
  });

  await t.test('login CSRF: a callback without the browser\'s pending cookie, or with another sign-in\'s, is refused', async (t) => {
    // The attacker signs in at the IdP and hands the victim the callback URL with their own code.
    const start = await gw.request('GET', '/auth/oidc/start');
    const attackerCallback = new URL(await o.idp.signIn(start.headers.location as string, 'u-alice'));
    const path = `${attackerCallback.pathname}${attackerCallback.search}`;
    const none = await gw.request('GET', path);
    t.equal(none.status, 400);
    t.match(none.text, /not started in this browser/);
    // The victim has a sign-in of their own under way: its state does not match the attacker's.
    const victim = await gw.request('GET', '/auth/oidc/start');
    const mixed = await gw.request('GET', path, { headers: { cookie: `${PENDING_COOKIE}=${cookieValue(victim, PENDING_COOKIE)}` } });
    t.equal(mixed.status, 400);
    t.equal(cookieValue(mixed, SESSION_COOKIE), undefined);
    t.match(gw.auditEvents('auth.login').at(-1), { decision: 'deny', reason: 'oidc-state-mismatch' });
  });

  await t.test('a tampered state or code is refused', async (t) => {
    const start = await gw.request('GET', '/auth/oidc/start');
    const pending = cookieValue(start, PENDING_COOKIE);
    const back = new URL(await o.idp.signIn(start.headers.location as string, 'u-alice'));
    back.searchParams.set('state', `${back.searchParams.get('state')}x`);
    const tampered = await gw.request('GET', `${back.pathname}${back.search}`, { headers: { cookie: `${PENDING_COOKIE}=${pending}` } });
    t.equal(tampered.status, 400);
    t.match(gw.auditEvents('auth.login').at(-1), { decision: 'deny', reason: 'oidc-state-mismatch' });

    const start2 = await gw.request('GET', '/auth/oidc/start');
    const back2 = new URL(await o.idp.signIn(start2.headers.location as string, 'u-alice'));
    back2.searchParams.set('code', 'forged-code-value');
    const forged = await gw.request('GET', `${back2.pathname}${back2.search}`, { headers: { cookie: `${PENDING_COOKIE}=${cookieValue(start2, PENDING_COOKIE)}` } });
    t.equal(forged.status, 400);
    t.equal(cookieValue(forged, SESSION_COOKIE), undefined);
    t.match(gw.auditEvents('auth.login').at(-1), { decision: 'deny', reason: 'oidc-token-invalid' });
  });

  await t.test('a user whose username is a local account is refused', async (t) => {
    await gw.addUser('tess', 'technologist');
    const r = await o.signIn('u-tess');
    t.equal(r.callback.status, 400);
    t.match(r.callback.text, /belongs to a local gateway account/);
  });

  await t.test('back-channel logout from the IdP ends the gateway session: the next request gets 401', async (t) => {
    const r = await o.signIn('u-carol');
    t.equal(r.callback.status, 200);
    const cookie = `${SESSION_COOKIE}=${r.session}`;
    t.equal((await gw.request('GET', '/dicom-web/studies', { headers: { cookie } })).status, 200);
    // carol signed in earlier too (the acr test), in another IdP session: the logout token names this
    // IdP session (sid), so only the gateway session it opened ends (Back-Channel Logout 1.0 §2.7).
    const account = (await gw.request('GET', '/account', { headers: { cookie } })).text;
    const live = (/<table id="sessions"[^]*?<tbody>([^]*?)<\/tbody>/.exec(account)?.[1] ?? '').match(/<tr>/g)?.length ?? 0;
    t.ok(live >= 2, 'carol holds more than one session');
    await o.idp.endSession();
    const after = await gw.request('GET', '/dicom-web/studies', { headers: { cookie } });
    t.equal(after.status, 401);
    t.match(gw.auditEvents('auth.logout').at(-1), { decision: 'allow', reason: 'backchannel-logout', method: 'oidc', sessionsEnded: 1 });
  });

  await t.test('back-channel logout ends every gateway session of the IdP session, not only the last one opened', async (t) => {
    const first = await o.signIn('u-carol');
    const second = await o.signIn('u-carol', { sameBrowser: true });
    t.equal(first.callback.status, 200);
    t.equal(second.callback.status, 200);
    const sessions = [first.session, second.session].map((s) => `${SESSION_COOKIE}=${s}`);
    for (const cookie of sessions) t.equal((await gw.request('GET', '/auth/session', { headers: { cookie } })).status, 200, 'both sessions live');
    await o.idp.endSession();
    for (const [i, cookie] of sessions.entries()) t.equal((await gw.request('GET', '/auth/session', { headers: { cookie } })).status, 401, `session ${i + 1} ended`);
  });

  await t.test('one address cannot fill the state store with pending sign-ins', async (t) => {
    const from = { localAddress: '127.0.0.7' };
    let redirected = 0;
    for (let i = 0; i < 200; i++) if ((await gw.request('GET', '/auth/oidc/start', from)).status === 303) redirected++;
    t.equal(redirected, 200, '200 sign-ins started in ten minutes');
    const over = await gw.request('GET', '/auth/oidc/start', from);
    t.equal(over.status, 429);
    t.equal(over.headers['retry-after'], '600');
    t.match(over.text, /Too many sign-ins started from this address/);
    t.match(gw.auditEvents('auth.login').at(-1), { decision: 'deny', reason: 'oidc-too-many-starts', source: '127.0.0.7' });
    t.equal((await gw.request('GET', '/auth/oidc/start')).status, 303, 'another address is not affected');
  });

  await t.test('a forged or replayed logout token is refused', async (t) => {
    const forged = await gw.request('POST', '/auth/oidc/backchannel-logout', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'logout_token=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1LWFsaWNlIn0.',
    });
    t.equal(forged.status, 400);
    t.match(forged.json(), { error: 'invalid_request' });
    t.match(gw.auditEvents('auth.logout').at(-1), { decision: 'deny', reason: 'backchannel-logout-refused' });
    const sent = o.idp.sentLogoutTokens.at(-1);
    t.ok(sent, 'the IdP sent a logout token earlier');
    const replay = await gw.request('POST', '/auth/oidc/backchannel-logout', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ logout_token: sent ?? '' }).toString(),
    });
    t.equal(replay.status, 400);
    t.match(gw.auditEvents('auth.logout').at(-1), { decision: 'deny', reason: 'backchannel-logout-refused', detail: /replayed/ });
  });
});
