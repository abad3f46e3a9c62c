// /viewer/ behind the session: redirects to /login and back (never off-site), the generated
// app-config.js, only the build's own files (gzip copies to browsers that accept them), and the config
// switches (off, missing build).

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import t from 'tap';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { viewerBuild } from '../helpers/viewer.js';

const COOKIE = '__Host-pacs-session';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

async function formLogin(gw: TestGateway, user: { username: string; password: string; totpSecret: string; role: string }, next: string) {
  const body = new URLSearchParams({ username: user.username, password: user.password, totp: await gw.code(user), next }).toString();
  const res = await gw.request('POST', '/auth/login', { headers: FORM, body });
  gw.clock.advance(30_000); // the next login needs a fresh TOTP step
  return res;
}

t.test('viewer behind the session', async (t) => {
  const root = viewerBuild();
  const gw = await startGateway({ config: { viewer: { path: root } } });
  t.teardown(() => gw.stop());
  const nina = await gw.addUser('nina', 'viewer');

  t.test('without a session: to /login and back', async (t) => {
    const res = await gw.request('GET', '/viewer/viewer?StudyInstanceUIDs=1.2.3');
    t.equal(res.status, 302);
    t.equal(res.headers.location, `/login?next=${encodeURIComponent('/viewer/viewer?StudyInstanceUIDs=1.2.3')}`);
    for (const path of ['/viewer/', '/viewer/app-config.js', '/viewer/index.html', '/viewer/nothing.js']) {
      const r = await gw.request('GET', path);
      t.equal(r.status, 302, `${path}: 302`);
      t.match(r.headers.location, /^\/login\?next=%2Fviewer%2F/, `${path}: to /login`);
    }
    const page = await gw.request('GET', res.headers.location as string);
    t.equal(page.status, 200);
    t.match(page.text, '<input type="hidden" name="next" value="/viewer/viewer?StudyInstanceUIDs=1.2.3">', 'the login form carries next');
    const login = await formLogin(gw, nina, '/viewer/viewer?StudyInstanceUIDs=1.2.3');
    t.equal(login.status, 303);
    t.equal(login.headers.location, '/viewer/viewer?StudyInstanceUIDs=1.2.3', 'back to the viewer after sign-in');
  });

  t.test('open redirects through next are refused', async (t) => {
    const attacks = ['//evil.com', '/\\evil.com', 'https://evil.com', '%2F%2Fevil.com', '/%2F%2Fevil.com', '\\\\evil.com', '/\t/evil.com', '/\r\nSet-Cookie: a=b', 'javascript:alert(1)'];
    for (const next of attacks) {
      const page = await gw.request('GET', `/login?next=${encodeURIComponent(next)}`);
      t.equal(page.status, 200);
      t.notMatch(page.text, 'name="next"', `login page drops ${JSON.stringify(next)}`);
      const login = await formLogin(gw, nina, next);
      t.equal(login.status, 303);
      t.equal(login.headers.location, '/', `sign-in with next=${JSON.stringify(next)} goes to /`);
    }
    const incomplete = await gw.request('POST', '/auth/login', { headers: FORM, body: 'username=nina&next=%2Fviewer%2F' });
    t.equal(incomplete.status, 400);
    t.match(incomplete.text, '<input type="hidden" name="next" value="/viewer/">', 'an incomplete form keeps next');
    const incompleteEvil = await gw.request('POST', '/auth/login', { headers: FORM, body: 'username=nina&next=%2F%2Fevil.com' });
    t.notMatch(incompleteEvil.text, 'name="next"', 'but not a foreign one');
    const raw = await gw.request('GET', '/login?next=//evil.com&next=/viewer/');
    t.notMatch(raw.text, 'name="next"', 'a repeated next is not a string: dropped');
  });

  t.test('with a session: the build and the gateway\'s app-config.js', async (t) => {
    const token = await gw.login(nina);
    gw.clock.advance(30_000);
    const cookie = { cookie: `${COOKIE}=${token}` };
    const index = await gw.request('GET', '/viewer/', { headers: cookie });
    t.equal(index.status, 200);
    t.match(index.headers['content-type'], /text\/html/);
    t.match(index.text, 'window.PUBLIC_URL="/viewer/"', 'the build is prepared for /viewer/');
    t.match(index.headers['content-security-policy'], /script-src 'self' 'wasm-unsafe-eval' 'sha256-/);
    t.notMatch(index.headers['content-security-policy'], /unsafe-inline'[^;]*;[^;]*style|script-src[^;]*unsafe-inline/, 'no unsafe-inline for scripts');
    t.equal(index.headers['cache-control'], 'private, no-cache');
    t.equal(index.headers['x-frame-options'], 'DENY');

    const route = await gw.request('GET', '/viewer/viewer?StudyInstanceUIDs=1.2.3', { headers: cookie });
    t.equal(route.status, 200, 'a viewer route gets the page');
    t.equal(route.text, index.text);

    const config = await gw.request('GET', '/viewer/app-config.js', { headers: cookie });
    t.equal(config.status, 200);
    t.equal(config.headers['cache-control'], 'private, no-cache');
    t.match(config.headers['content-type'], /javascript/);
    t.match(config.text, '"qidoRoot": "/dicom-web"');
    t.match(config.text, '"wadoRoot": "/dicom-web"');
    t.match(config.text, '"routerBasename": "/viewer"');
    t.notMatch(config.text, 'cloudfront', 'not the demo config');

    const bundle = /src="\/viewer\/(app\.bundle\.[0-9a-f]+\.js)"/.exec(index.text)?.[1];
    t.ok(bundle, 'index.html names the app bundle');
    const js = await gw.request('GET', `/viewer/${bundle}`, { headers: cookie });
    t.equal(js.status, 200);
    t.match(js.headers['content-type'], /javascript/);
    t.ok(js.body.length > 1_000_000, 'the bundle itself');
    t.equal(js.headers['content-encoding'], undefined, 'without Accept-Encoding: the file as it is');
    // Its name carries its content hash: kept by the browser (no request, no session check on the next open);
    // index.html, which names it, and app-config.js are revalidated every time (above, below).
    t.equal(js.headers['cache-control'], 'private, max-age=31536000, immutable', 'a content-hashed file is immutable');
    t.equal((await gw.request('GET', '/viewer/app.bundle.css', { headers: cookie })).headers['cache-control'], 'private, no-cache', 'a file without a hash in its name is revalidated');

    // A browser that accepts gzip gets the prepared gzip copy: the same bytes once unzipped, a fraction on the wire.
    const zipped = await gw.request('GET', `/viewer/${bundle}`, { headers: { ...cookie, 'accept-encoding': 'gzip, deflate, br' } });
    t.equal(zipped.status, 200);
    t.equal(zipped.headers['content-encoding'], 'gzip');
    t.match(zipped.headers['vary'], /accept-encoding/i);
    t.match(zipped.headers['content-type'], /javascript/);
    t.equal(zipped.headers['cache-control'], js.headers['cache-control'], 'the same headers as the plain file');
    t.ok(zipped.body.length < js.body.length / 2, `compressed: ${zipped.body.length} of ${js.body.length} bytes`);
    t.ok(gunzipSync(zipped.body).equals(js.body), 'unzipped, the file itself');
    const wasm = readdirSync(root).find((f) => f.endsWith('.wasm'));
    t.ok(wasm, 'the build has WebAssembly');
    const w = await gw.request('GET', `/viewer/${wasm ?? ''}`, { headers: { ...cookie, 'accept-encoding': 'gzip' } });
    t.equal(w.headers['content-encoding'], 'gzip', 'WebAssembly too');
    t.match(w.headers['content-type'], /application\/wasm/, 'still typed as WebAssembly (streaming compilation needs it)');
    t.ok(gunzipSync(w.body).equals(readFileSync(join(root, wasm ?? ''))), 'the .wasm file once unzipped');
    // Revalidation (files without a hash in their name, every open): 304 without a body for the browser's
    // current copy, per representation (the gzip copy has a validator of its own).
    const css = await gw.request('GET', '/viewer/app.bundle.css', { headers: { ...cookie, 'accept-encoding': 'gzip' } });
    t.equal(css.status, 200);
    t.equal(css.headers['content-encoding'], 'gzip');
    t.match(css.headers['content-type'], /text\/css/);
    const etag = String(css.headers['etag']);
    t.match(etag, /^"[A-Za-z0-9_-]{22}"$/, 'a strong validator');
    const again = await gw.request('GET', '/viewer/app.bundle.css', { headers: { ...cookie, 'accept-encoding': 'gzip', 'if-none-match': etag } });
    t.equal(again.status, 304, 'the browser\'s copy is current: 304');
    t.equal(again.body.length, 0, 'no body');
    const plainCss = await gw.request('GET', '/viewer/app.bundle.css', { headers: { ...cookie, 'if-none-match': etag } });
    t.equal(plainCss.status, 200, 'the gzip copy\'s validator does not match the plain file');
    t.not(plainCss.headers['etag'], etag);
    t.equal(gunzipSync(css.body).toString('utf8'), plainCss.text, 'the two representations hold the same file');
    const stale = await gw.request('GET', '/viewer/app.bundle.css', { headers: { 'if-none-match': etag } });
    t.equal(stale.status, 302, 'no session: to /login even with a current validator');
    // A file of a type the memory cache does not keep (a source map) is still served, streamed from disk.
    const map = 'ort/ort.min.js.map';
    const m = await gw.request('GET', `/viewer/${map}`, { headers: cookie });
    t.equal(m.status, 200);
    t.ok(m.body.equals(readFileSync(join(root, map))), 'the map file as it is');
    // Without a session the gzip copy is as closed as the file.
    const anon = await gw.request('GET', `/viewer/${bundle}`, { headers: { 'accept-encoding': 'gzip' } });
    t.equal(anon.status, 302, 'no session: to /login, compressed or not');

    for (const path of [`/viewer/${bundle ?? ''}.gz`, '/viewer/.pgw-viewer.json', '/viewer/nothing.js', '/viewer/../gateway.yaml', '/viewer/%2e%2e/gateway.yaml', '/viewer/assets/%2e%2e/%2e%2e/gateway.yaml']) {
      const r = await gw.request('GET', path, { headers: cookie });
      t.not(r.status, 200, `${path}: not served`);
      t.notMatch(r.text, 'listen:', `${path}: no config file`);
    }
    const dicomweb = await gw.request('GET', '/dicom-web/studies', { headers: cookie });
    t.not(dicomweb.status, 302, 'DICOMweb is not redirected: it answers in its own terms');
  });
});

t.test('viewer.enabled: false — no /viewer/', async (t) => {
  const gw = await startGateway({ config: { viewer: { enabled: false, path: viewerBuild() } } });
  t.teardown(() => gw.stop());
  const nina = await gw.addUser('nina', 'viewer');
  const token = await gw.login(nina);
  const res = await gw.request('GET', '/viewer/', { headers: { cookie: `${COOKIE}=${token}` } });
  t.equal(res.status, 404);
});

t.test('viewer.path without a build: 503 for a session, the gateway still runs', async (t) => {
  const gw = await startGateway({ config: { viewer: { path: 'no-such-viewer' } } });
  t.teardown(() => gw.stop());
  t.ok(gw.logs.some((l) => l.msg === 'viewer unavailable: /viewer/ answers 503' && /no-such-viewer is not a directory/.test(l.problem)), 'logged at start');
  const nina = await gw.addUser('nina', 'viewer');
  const anon = await gw.request('GET', '/viewer/');
  t.equal(anon.status, 302, 'no session: still to /login first');
  const token = await gw.login(nina);
  const res = await gw.request('GET', '/viewer/', { headers: { cookie: `${COOKIE}=${token}` } });
  t.equal(res.status, 503);
  t.match(res.text, 'The viewer is not installed on this gateway');
});

t.test('check-config warns about a missing viewer build, not about a disabled viewer', async (t) => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { run } = await import('../helpers/tools.js');
  const bin = join(process.cwd(), 'bin/pacs-gateway.js');
  const check = async (viewer: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'pgw-viewer-cli-'));
    writeFileSync(join(dir, 'gateway.yaml'), `tls: { autoGenerate: true }\nviewer: ${viewer}\n`);
    return run(process.execPath, [bin, 'check-config', '--config', 'gateway.yaml', '--offline'], { cwd: dir, timeoutMs: 60_000 });
  };
  const missing = await check('{ path: no-such-viewer }');
  t.equal(missing.code, 0, 'a warning, not an error');
  t.match(missing.stderr, /warning: viewer\.path .*no-such-viewer is not a directory \(run scripts\/fetch-viewer\.sh\): \/viewer\/ will answer 503/);
  const off = await check('{ enabled: false, path: no-such-viewer }');
  t.notMatch(off.stderr, /viewer\.path|\/viewer\/ will/);
  const present = await check(`{ path: ${JSON.stringify(viewerBuild())} }`);
  t.notMatch(present.stderr, /viewer\.path|\/viewer\/ will/);
});
