// Attacks on the control plane's edges where the new pages meet the old ones: the viewer's files
// without a session (HEAD, Range, encoded traversal), security headers on every error answer, and
// `next` pointing at the gateway's own state-changing or enrolment paths.

import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { viewerBuild } from '../helpers/viewer.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const JSON_TYPE = { 'content-type': 'application/json' };

const gw = await startGateway({ config: { viewer: { path: viewerBuild() } } });
t.teardown(() => gw.stop());

t.test('viewer files without a session: HEAD, Range and traversal never serve a byte', async (t) => {
  const probes: Array<[string, string, Record<string, string>]> = [
    ['HEAD', '/viewer/index.html', {}],
    ['GET', '/viewer/index.html', { range: 'bytes=0-10' }],
    ['GET', '/viewer/app-config.js', { range: 'bytes=0-' }],
    ['GET', '/viewer/..%2f..%2fpackage.json', {}],
    ['GET', '/viewer/%2e%2e/%2e%2e/package.json', {}],
    ['GET', '/viewer/..%5c..%5cpackage.json', {}],
    ['GET', '/viewer/%2e%2e%2f%2e%2e%2fconfig/users.yaml', {}],
  ];
  for (const [method, path, headers] of probes) {
    const r = await gw.request(method, path, { headers });
    t.ok(r.status === 302 || r.status === 400 || r.status === 404, `${method} ${path}: ${r.status}`);
    t.notMatch(r.text, /"name"|<html|pacs-gateway users|window\.config/i, `${method} ${path}: no file content`);
    t.not(r.status, 206, 'never a partial answer');
  }
});

t.test('viewer with a session: encoded traversal finds nothing outside the build', async (t) => {
  const nina = await gw.addUser('nina', 'viewer');
  const token = await gw.login(nina);
  const auth = { authorization: `Bearer ${token}` };
  for (const path of ['/viewer/..%2f..%2fpackage.json', '/viewer/%2e%2e/%2e%2e/package.json', '/viewer/..%5c..%5cpackage.json', '/viewer/.%2e/.%2e/config/gateway.yaml']) {
    const r = await gw.request('GET', path, { headers: auth });
    t.notMatch(r.text, /"dependencies"|signingKey|totpSecret/, `${path} (${r.status}): nothing outside the build`);
  }
});

t.test('security headers on error answers of the control plane', async (t) => {
  const answers = [
    ['GET /no-such-page', await gw.request('GET', '/no-such-page')],
    ['POST /auth/login malformed JSON', await gw.request('POST', '/auth/login', { headers: JSON_TYPE, body: '{"username":' })],
    ['POST /auth/login text/plain', await gw.request('POST', '/auth/login', { headers: { 'content-type': 'text/plain' }, body: 'x' })],
    ['POST /auth/login too large', await gw.request('POST', '/auth/login', { headers: JSON_TYPE, body: JSON.stringify({ username: 'x'.repeat(2_000_000) }) })],
    ['GET /enrol/<dead>', await gw.request('GET', '/enrol/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')],
    ['POST /account/password without a session', await gw.request('POST', '/account/password', { headers: FORM, body: 'x=1' })],
    ['GET /auth/session without a session', await gw.request('GET', '/auth/session')],
  ] as const;
  for (const [what, r] of answers) {
    t.ok(r.status >= 300, `${what}: ${r.status}`);
    t.match(r.headers['content-security-policy'], /frame-ancestors 'none'/, `${what}: CSP`);
    t.match(r.headers['strict-transport-security'], /max-age=\d+/, `${what}: HSTS`);
    t.equal(r.headers['x-content-type-options'], 'nosniff', `${what}: nosniff`);
  }
});

t.test('next pointing at the gateway\'s own paths: a GET there changes nothing', async (t) => {
  const ivo = await gw.addUser('ivo', 'viewer');
  for (const next of ['/auth/logout', '/auth%2Flogout', '/account/sessions/others', '/enrol/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA']) {
    const body = new URLSearchParams({ username: ivo.username, password: ivo.password, totp: await gw.code(ivo), next }).toString();
    const login = await gw.request('POST', '/auth/login', { headers: FORM, body });
    gw.clock.advance(30_000);
    t.equal(login.status, 303, `${next}: ${login.text.slice(0, 120)}`);
    const cookie = String(login.headers['set-cookie']).split(';')[0] ?? '';
    const location = String(login.headers.location);
    t.ok(location.startsWith('/') && !location.startsWith('//'), `${next} → ${location}: local`);
    const followed = await gw.request('GET', location, { headers: { cookie } });
    t.not(followed.status, 500, `GET ${location}: ${followed.status}`);
    t.equal((await gw.request('GET', '/auth/session', { headers: { cookie } })).status, 200, `the session lives after GET ${location}`);
  }
});
