// The viewer's files over HTTP/2, answered by the edge itself once the control plane has sent them
// from memory (edge/h2/h2-viewer.ts): the same answer, byte for byte and header for header, and the
// same session check on every request. The attacks: a file someone with a session loaded must not
// reach a client without one (no cookie, a forged one, a session ended by logout or timed out), and
// paths the router would read differently must not be answered from the record.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { MAX_FILE_BYTES } from '../../src/http/viewer/viewer-cache.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { h2Session, type H2Answer } from '../helpers/h2.js';
import { Raw } from '../helpers/raw-http.js';
import { viewerBuild } from '../helpers/viewer.js';

const COOKIE = '__Host-pacs-session';

function edgeAnswers(gw: TestGateway, path: string): number {
  return gw.logs.filter((l) => l.msg === 'viewer file answered by the edge' && l.path === path).length;
}

/** The headers that must be equal between two answers of the same file (everything but Date). */
function comparable(a: H2Answer): Record<string, unknown> {
  const { date: _date, ...rest } = a.headers;
  return rest;
}

t.test('viewer files over HTTP/2 from the edge', async (t) => {
  const root = viewerBuild();
  const gw = await startGateway({ config: { viewer: { path: root } } });
  t.teardown(() => gw.stop());
  const nina = await gw.addUser('nina', 'viewer');
  const h2 = await h2Session(gw.httpsPort, gw.caPem);
  t.teardown(() => h2.close());

  const index = await gw.request('GET', '/viewer/', { headers: { cookie: `${COOKIE}=${await gw.login(nina)}` } });
  gw.clock.advance(30_000);
  const bundle = /src="\/viewer\/(app\.bundle\.[0-9a-f]+\.js)"/.exec(index.text)?.[1] ?? '';
  t.ok(bundle, 'index.html names the app bundle');
  const file = `/viewer/${bundle}`;
  // A content-hashed chunk the memory cache keeps, with a gzip copy.
  const small = readdirSync(root).find((f) => /^\d+\.bundle\.[0-9a-f]{16}\.js$/.test(f) && statSync(join(root, f)).size > 10_000 && statSync(join(root, f)).size < MAX_FILE_BYTES && existsSync(join(root, `${f}.gz`))) ?? '';
  t.ok(small, 'the build has a chunk of moderate size');

  t.test('no session before anyone loaded the file: to /login', async (t) => {
    const r = await h2.request('GET', file, { headers: { 'accept-encoding': 'gzip' } });
    t.equal(r.status, 302);
    t.match(r.headers.location, /^\/login\?next=/);
  });

  const token = await gw.login(nina);
  gw.clock.advance(30_000);
  const session = { cookie: `${COOKIE}=${token}`, 'accept-encoding': 'gzip, deflate, br' };

  t.test('the second request of a file is the edge\'s, and the same answer as the control plane\'s', async (t) => {
    const first = await h2.request('GET', file, { headers: session });
    t.equal(first.status, 200);
    t.equal(first.headers['content-encoding'], 'gzip');
    t.equal(edgeAnswers(gw, file), 0, 'the first went through the control plane');
    const second = await h2.request('GET', file, { headers: session });
    t.equal(second.status, 200);
    t.equal(edgeAnswers(gw, file), 1, 'the second was answered by the edge');
    t.ok(second.body.equals(first.body), 'the same bytes');
    t.same(comparable(second), comparable(first), 'the same headers (but Date)');
    t.ok(second.headers.date, 'with a Date of its own');
    // What the control plane's hooks and the viewer's route set, all kept (helmet, root onSend, CSP, caching).
    t.equal(second.headers['strict-transport-security'], first.headers['strict-transport-security']);
    t.equal(second.headers['x-content-type-options'], 'nosniff');
    t.match(second.headers['content-security-policy'], /script-src 'self' 'wasm-unsafe-eval'/);
    t.equal(second.headers['cache-control'], 'private, max-age=31536000, immutable');
    t.equal(second.headers['x-frame-options'], 'DENY');
    t.equal(second.headers['content-length'], String(second.body.length));

    // A file above the memory cache's size limit is streamed by the control plane, never recorded: the plain app bundle (~9 MB).
    const plain = await h2.request('GET', file, { headers: { cookie: session.cookie } });
    t.equal(plain.headers['content-encoding'], undefined);
    t.ok(plain.body.length > MAX_FILE_BYTES, 'the plain bundle is larger than a cached file may be');
    await h2.request('GET', file, { headers: { cookie: session.cookie } });
    t.equal(edgeAnswers(gw, file), 1, 'so it stays the control plane\'s');

    // Each representation is a record of its own: a smaller file, plain then gzip.
    const chunk = `/viewer/${small}`;
    const p1 = await h2.request('GET', chunk, { headers: { cookie: session.cookie } });
    const p2 = await h2.request('GET', chunk, { headers: { cookie: session.cookie } });
    const g1 = await h2.request('GET', chunk, { headers: session });
    t.equal(edgeAnswers(gw, chunk), 1, 'the gzip copy was not in the record yet');
    const g2 = await h2.request('GET', chunk, { headers: session });
    t.equal(edgeAnswers(gw, chunk), 2);
    t.ok(p2.body.equals(readFileSync(join(root, small))), 'the plain file, from the edge');
    t.equal(p2.headers['content-encoding'], undefined);
    t.ok(g2.body.equals(g1.body) && g2.headers['content-encoding'] === 'gzip', 'the gzip copy, from the edge');
    t.same(comparable(p2), comparable(p1));
    t.same(comparable(g2), comparable(g1));
  });

  t.test('revalidation and HEAD from the edge', async (t) => {
    const before = edgeAnswers(gw, file);
    const full = await h2.request('GET', file, { headers: session });
    const etag = full.headers.etag as string;
    const again = await h2.request('GET', file, { headers: { ...session, 'if-none-match': etag } });
    t.equal(again.status, 304);
    t.equal(again.body.length, 0);
    const other = await h2.request('GET', file, { headers: { ...session, 'if-none-match': '"something-else"' } });
    t.equal(other.status, 200);
    const head = await h2.request('HEAD', file, { headers: session });
    t.equal(head.status, 200);
    t.equal(head.body.length, 0);
    t.equal(head.headers['content-length'], String(full.body.length));
    t.equal(edgeAnswers(gw, file), before + 4, 'all four by the edge');
  });

  t.test('attack: the recorded file without a valid session', async (t) => {
    const before = edgeAnswers(gw, file);
    const none = await h2.request('GET', file, { headers: { 'accept-encoding': 'gzip' } });
    t.equal(none.status, 302, 'no cookie: to /login');
    t.equal(none.body.includes(Buffer.from('webpack')), false);
    const forged = await h2.request('GET', file, { headers: { cookie: `${COOKIE}=${token.slice(0, -4)}AAAA`, 'accept-encoding': 'gzip' } });
    t.equal(forged.status, 302, 'a forged cookie: to /login');
    const bearerForged = await h2.request('GET', file, { headers: { authorization: 'Bearer a.b.c', 'accept-encoding': 'gzip' } });
    t.equal(bearerForged.status, 302, 'a bad bearer token: to /login');
    t.equal(edgeAnswers(gw, file), before, 'none answered with the file');

    // A session that ends: by timeout, then by logout, is refused on the very next request.
    const other = await gw.login(nina);
    gw.clock.advance(30_000);
    const cookie = { cookie: `${COOKIE}=${other}`, 'accept-encoding': 'gzip' };
    t.equal((await h2.request('GET', file, { headers: cookie })).status, 200, 'a fresh session: the file');
    t.equal((await gw.request('POST', '/auth/logout', { headers: { cookie: cookie.cookie, origin: gw.url } })).status, 200, 'logged out');
    t.equal((await h2.request('GET', file, { headers: cookie })).status, 302, 'after logout: to /login');
    t.equal((await h2.request('GET', file, { headers: session })).status, 200, 'the other session still has it');
    gw.clock.advance(31 * 60_000);
    t.equal((await h2.request('GET', file, { headers: session })).status, 302, 'after the idle timeout: to /login');
  });

  t.test('over HTTP/1.1 too: the same answer, the same check, pipelined requests in order', async (t) => {
    const fresh = await gw.login(nina);
    gw.clock.advance(30_000);
    const cookie = `${COOKIE}=${fresh}`;
    const chunk = `/viewer/${small}`;
    const total = (): number => gw.logs.filter((l) => l.msg === 'viewer file answered by the edge').length;
    // Recorded by now (the HTTP/2 requests above): HTTP/1.1 is answered by the edge at once.
    const before = total();
    const viaH1 = await gw.request('GET', chunk, { headers: { cookie, 'accept-encoding': 'gzip' } });
    t.equal(viaH1.status, 200);
    t.equal(total(), before + 1, 'answered by the edge');
    const viaH2 = await h2.request('GET', chunk, { headers: { cookie, 'accept-encoding': 'gzip' } });
    t.ok(viaH1.body.equals(viaH2.body), 'the same bytes as over HTTP/2');
    for (const name of ['content-type', 'content-encoding', 'content-length', 'etag', 'last-modified', 'vary', 'cache-control', 'content-security-policy', 'strict-transport-security', 'x-content-type-options', 'x-frame-options', 'referrer-policy', 'cross-origin-opener-policy', 'cross-origin-resource-policy']) {
      t.equal(viaH1.headers[name], viaH2.headers[name] as string | undefined, `${name} as over HTTP/2`);
    }
    const afterH2 = total();
    const none = await gw.request('GET', chunk, { headers: { 'accept-encoding': 'gzip' } });
    t.equal(none.status, 302, 'without a session: to /login');
    t.equal(total(), afterH2, 'not the edge\'s');

    // Raw bytes: three requests in one write (GET, HEAD, a conditional GET), answered in order on one connection.
    const raw = await Raw.open(gw.httpsPort);
    t.teardown(() => raw.destroy());
    const req = (method: string, extra = ''): string => `${method} ${chunk} HTTP/1.1\r\nhost: localhost\r\ncookie: ${cookie}\r\naccept-encoding: gzip\r\n${extra}\r\n`;
    await raw.write(req('GET') + req('HEAD') + req('GET', `if-none-match: ${String(viaH1.headers.etag)}\r\n`));
    const r1 = await raw.response();
    const r2 = await raw.response({ headOnly: true });
    const r3 = await raw.response({ headOnly: true });
    t.same([r1.status, r2.status, r3.status], [200, 200, 304]);
    t.ok(r1.body.equals(viaH1.body), 'the file');
    t.equal(r2.get('content-length'), String(viaH1.body.length), 'HEAD: the length, no body');
    t.equal(r3.get('etag'), viaH1.headers.etag);
    t.equal(total(), afterH2 + 3, 'all three by the edge');
    // Connection: close is honoured.
    await raw.write(req('GET', 'connection: close\r\n'));
    const last = await raw.response();
    t.equal(last.status, 200);
    t.equal(last.get('connection'), 'close');
    await raw.untilClosed();
  });

  t.test('paths the router reads its own way go to the control plane', async (t) => {
    const fresh = await gw.login(nina);
    gw.clock.advance(30_000);
    const cookie = { cookie: `${COOKIE}=${fresh}`, 'accept-encoding': 'gzip' };
    const total = (): number => gw.logs.filter((l) => l.msg === 'viewer file answered by the edge').length;
    const before = total();
    const encoded = `/viewer/${bundle.replace('app', '%61pp')}`;
    for (const path of [`${file}?v=1`, encoded, `/viewer/./${bundle}`, `/viewer//${bundle}`, `/viewer/../viewer/${bundle}`, `/Viewer/${bundle}`]) {
      const viaH2 = await h2.request('GET', path, { headers: cookie });
      const viaH1 = await gw.request('GET', path, { headers: cookie });
      t.equal(viaH2.status, viaH1.status, `${path}: the same status as over HTTP/1.1 (${viaH1.status})`);
    }
    t.equal(total() - before, 0, 'none answered by the edge');
  });
});
