// The IdP cannot be reached: the login page's button says so, /auth/oidc/start refuses with a clear
// message, and nothing weaker is offered in its place. auth.local: false leaves only the IdP.

import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { freePort } from '../helpers/ports.js';

const oidc = (issuerPort: number, gwPort: number) => ({
  name: 'St. Elsewhere SSO', issuer: `https://localhost:${issuerPort}`, clientId: 'pacs-gateway', clientSecret: 'a-client-secret-of-some-length',
  redirectUrl: `https://127.0.0.1:${gwPort}/auth/oidc/callback`, requireMfa: { amr: ['mfa'] }, roleClaim: 'groups', roleMap: { 'pacs-viewers': 'viewer' },
  timeoutMs: 1000,
});

t.test('IdP unreachable, local sign-in still on', async (t) => {
  const [idpPort, gwPort] = [await freePort(), await freePort()]; // nothing listens on idpPort
  const gw = await startGateway({ config: { listen: { https: { port: gwPort } }, auth: { oidc: oidc(idpPort, gwPort) } } });
  t.teardown(() => gw.stop());
  const page = await gw.request('GET', '/login');
  t.equal(page.status, 200);
  t.match(page.text, /id="oidc-unavailable"[^>]*>Sign in with St\. Elsewhere SSO is unavailable: the identity provider cannot be reached/);
  t.notMatch(page.text, /href="\/auth\/oidc\/start"/, 'no button that leads nowhere');
  t.match(page.text, /action="\/auth\/login"/, 'the local form is there because auth.local is true, not as a fallback');
  const start = await gw.request('GET', '/auth/oidc/start');
  t.equal(start.status, 503);
  t.equal(start.headers.location, undefined, 'no redirect');
  t.equal(start.headers['set-cookie'], undefined, 'no pending sign-in');
  t.match(start.text, /the identity provider cannot be reached\. No other way in is offered instead/);
  t.match(gw.auditEvents('auth.login').at(-1), { decision: 'deny', reason: 'idp-unavailable', method: 'oidc', detail: /ECONNREFUSED/ });
});

t.test('auth.local: false: only the IdP button; the password login is refused', async (t) => {
  const [idpPort, gwPort] = [await freePort(), await freePort()];
  const gw = await startGateway({ config: { listen: { https: { port: gwPort } }, auth: { local: false, oidc: oidc(idpPort, gwPort) } } });
  t.teardown(() => gw.stop());
  const nina = await gw.addUser('nina', 'viewer');
  const page = await gw.request('GET', '/login');
  t.notMatch(page.text, /action="\/auth\/login"/, 'no password form');
  t.match(page.text, /St\. Elsewhere SSO/);
  const login = await gw.request('POST', '/auth/login', {
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'nina', password: nina.password, totp: await gw.code(nina) }),
  });
  t.equal(login.status, 403);
  t.match(login.json(), { error: 'ERR_LOCAL_LOGIN_DISABLED' });
  t.match(gw.auditEvents('auth.login').at(-1), { decision: 'deny', reason: 'local-login-disabled' });
});
