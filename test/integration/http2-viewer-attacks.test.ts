// Review of the HTTP/2 edge's viewer-file answers (edge/h2/h2-viewer.ts), as an attacker: every
// request below is sent over HTTP/2 (where the edge may answer from its record) and the same request
// over HTTP/1.1 (always the control plane); the two must agree on status, representation, body and
// headers. Credentials that are not a live session must never get a recorded file; nothing but a
// 200 sent from memory may be recorded; rapid reset of viewer streams must end in GOAWAY.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { issueClient, prepareCa } from '../helpers/certs.js';
import { startGateway, type HttpAnswer, type TestGateway } from '../helpers/gateway.js';
import { FLAG, FRAME, frame, getHeaders, h2Session, hpack, rawH2, type H2Answer } from '../helpers/h2.js';
import { SESSION_COOKIE, startOidcEnv } from '../helpers/oidc-env.js';
import { startRedis } from '../helpers/redis.js';
import { GATEWAY_BIN } from '../helpers/replica.js';
import { run } from '../helpers/tools.js';
import { viewerBuild } from '../helpers/viewer.js';
import type { Test } from 'tap';

const COOKIE = '__Host-pacs-session';

function edgeTotal(gw: TestGateway): number {
  return gw.logs.filter((l) => l.msg === 'viewer file answered by the edge').length;
}

/** Headers that are per connection or per answer (Date) and may differ between HTTP/1.1 and HTTP/2. */
const PER_ANSWER = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding']);

function comparable(a: H2Answer | HttpAnswer): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(a.headers)) if (!k.startsWith(':') && !PER_ANSWER.has(k)) out[k] = v;
  return out;
}

t.test('attacks on the HTTP/2 edge\'s viewer files', async (t) => {
  const root = viewerBuild();
  const gw = await startGateway({ prepare: prepareCa, config: { tls: { autoGenerate: false }, viewer: { path: root } } });
  t.teardown(() => gw.stop());
  const ca = readFileSync(join(gw.dir, 'certs/ca.crt'), 'utf8');
  const nina = await gw.addUser('nina', 'viewer');
  const h2 = await h2Session(gw.httpsPort, ca);
  t.teardown(() => h2.close());
  const token = await gw.login(nina);
  gw.clock.advance(30_000);
  const cookie = `${COOKIE}=${token}`;

  // Record the files: the plain and gzip copy of a small file, index.html through an app route (never by its name).
  const files = readdirSync(root).sort();
  const small = files.find((f) => /^\d+\.bundle\.[0-9a-f]{16}\.js$/.test(f)) ?? '';
  t.ok(small, 'a content-hashed chunk');
  const chunk = `/viewer/${small}`;
  for (const ae of [undefined, 'gzip']) {
    const r = await h2.request('GET', chunk, { headers: { cookie, ...(ae === undefined ? {} : { 'accept-encoding': ae }) } });
    t.equal(r.status, 200);
  }
  t.equal((await h2.request('GET', '/viewer/studies', { headers: { cookie, 'accept-encoding': 'gzip' } })).status, 200, 'an app route: index.html');
  const before = edgeTotal(gw);
  t.equal((await h2.request('GET', chunk, { headers: { cookie } })).status, 200);
  t.equal(edgeTotal(gw), before + 1, 'recorded: the next request is the edge\'s');

  /** The request over HTTP/2 and over HTTP/1.1; whether the edge answered it. */
  async function both(method: string, path: string, h2Headers: Record<string, string | string[]>, h1Headers: Record<string, string> = joined(h2Headers)): Promise<{ v2: H2Answer; v1: HttpAnswer; edge: boolean }> {
    const n = edgeTotal(gw);
    const v2 = await h2.request(method, path, { headers: h2Headers });
    const edge = edgeTotal(gw) > n;
    const v1 = await gw.request(method, path, { headers: h1Headers });
    return { v2, v1, edge };
  }

  function same(t: Test, r: { v2: H2Answer; v1: HttpAnswer }, what: string): void {
    t.equal(r.v2.status, r.v1.status, `${what}: status ${r.v1.status}`);
    t.equal(r.v2.headers['content-encoding'], r.v1.headers['content-encoding'], `${what}: the same representation`);
    t.ok(r.v2.body.equals(r.v1.body), `${what}: the same body`);
    // A 304 to HEAD: the control plane adds Content-Length: 0 (node's HTTP/1.1 server), the edge none; both carry no body.
    const c1 = comparable(r.v1);
    if (r.v1.status === 304) delete c1['content-length'];
    t.same(comparable(r.v2), c1, `${what}: the same headers`);
  }

  t.test('credentials that are not a live session never get a recorded file', async (t) => {
    const n = edgeTotal(gw);
    const refused = async (what: string, headers: Record<string, string | string[]>, client = h2): Promise<void> => {
      const r = await client.request('GET', chunk, { headers });
      t.equal(r.status, 302, `${what}: to /login`);
      t.equal(r.body.includes(Buffer.from('webpack')), false, `${what}: none of the file`);
    };
    await refused('no credentials', {});
    await refused('a cookie of another name', { cookie: `pacs-session=${token}` });
    await refused('the session cookie twice (valid + forged): ambiguous', { cookie: [cookie, `${COOKIE}=x.y.z`] });
    await refused('a forged signature', { cookie: `${COOKIE}=${token.slice(0, token.lastIndexOf('.'))}.AAAA` });
    await refused('a bearer token that is not a JWT', { authorization: 'Bearer nope', cookie });
    // Two Authorization fields (node's client sends one only: by hand). The edge leaves them to the control plane.
    const m = edgeTotal(gw);
    const twoAuth = await rawRequest(gw, ca, chunk, [['authorization', 'Bearer a.b.c'], ['authorization', `Bearer ${token}`]]);
    t.equal(edgeTotal(gw), m, 'two Authorization fields: the control plane\'s');
    t.not(twoAuth.status, 200, `two Authorization fields, the first forged: not the file (${String(twoAuth.status)})`);

    // A DIMSE token (audience pacs-gateway/dimse) instead of a session, as a bearer token and as the cookie.
    const issued = await gw.request('POST', '/auth/dimse-token', { headers: { authorization: `Bearer ${token}` } });
    t.equal(issued.status, 200, 'a DIMSE token');
    const dimse = issued.json().token as string;
    await refused('a DIMSE token as a bearer token', { authorization: `Bearer ${dimse}` });
    await refused('a DIMSE token as the session cookie', { cookie: `${COOKIE}=${dimse}` });

    // A client certificate only: a device authenticates DICOMweb, not the viewer (no session).
    const device = await issueClient(gw.dir, 'ws-viewer', 'viewer', []);
    await gw.gateway.reload();
    const pem = { cert: readFileSync(device.files.cert, 'utf8'), key: readFileSync(device.files.key, 'utf8') };
    const withCert = await h2Session(gw.httpsPort, ca, pem);
    t.teardown(() => withCert.close());
    t.equal((await withCert.request('GET', '/dicom-web/studies')).status === 401, false, 'the certificate itself is accepted');
    await refused('a device certificate and no session', {}, withCert);

    // A disabled user: the session it holds ends on the next request.
    const dora = await gw.addUser('dora', 'viewer');
    const doraCookie = `${COOKIE}=${await gw.login(dora)}`;
    gw.clock.advance(30_000);
    t.equal((await h2.request('GET', chunk, { headers: { cookie: doraCookie } })).status, 200, 'dora, before');
    const cli = await run(process.execPath, [GATEWAY_BIN, 'users', 'disable', 'dora', '--config', gw.configFile], { cwd: gw.dir, timeoutMs: 60_000 });
    t.equal(cli.code, 0, cli.stderr);
    await gw.gateway.reload();
    await refused('a disabled user\'s session', { cookie: doraCookie });
    t.equal(edgeTotal(gw) - n, 1, 'only dora\'s request before she was disabled was the edge\'s');
  });

  t.test('Accept-Encoding, If-None-Match, Cookie fields, HEAD: the edge agrees with the control plane', async (t) => {
    const g = await h2.request('GET', chunk, { headers: { cookie, 'accept-encoding': 'gzip' } });
    const p = await h2.request('GET', chunk, { headers: { cookie } });
    const etag = g.headers.etag as string;
    const plainEtag = p.headers.etag as string;
    t.not(etag, plainEtag, 'each representation its own validator');
    const cases: [string, string, Record<string, string | string[]>, boolean][] = [
      ['plain', 'GET', { cookie }, true],
      ['gzip', 'GET', { cookie, 'accept-encoding': 'gzip' }, true],
      ['gzip;q=0', 'GET', { cookie, 'accept-encoding': 'gzip;q=0' }, true],
      ['gzip; q=0.000', 'GET', { cookie, 'accept-encoding': 'gzip; q=0.000' }, true],
      ['GZIP upper-case', 'GET', { cookie, 'accept-encoding': 'GZIP' }, true],
      ['*', 'GET', { cookie, 'accept-encoding': '*' }, true],
      ['*;q=0, identity', 'GET', { cookie, 'accept-encoding': '*;q=0, identity' }, true],
      ['br only', 'GET', { cookie, 'accept-encoding': 'br' }, true],
      ['gzip;q=junk', 'GET', { cookie, 'accept-encoding': 'gzip;q=junk' }, true],
      ['Accept-Encoding in two fields', 'GET', { cookie, 'accept-encoding': ['br', 'gzip'] }, true],
      ['Cookie in two fields', 'GET', { cookie: ['theme=dark', cookie] }, true],
      ['If-None-Match: the gzip validator', 'GET', { cookie, 'accept-encoding': 'gzip', 'if-none-match': etag }, true],
      ['If-None-Match: the plain validator, gzip asked (no match)', 'GET', { cookie, 'accept-encoding': 'gzip', 'if-none-match': plainEtag }, true],
      ['If-None-Match: weak', 'GET', { cookie, 'accept-encoding': 'gzip', 'if-none-match': `W/${etag}` }, true],
      ['If-None-Match: *', 'GET', { cookie, 'if-none-match': '*' }, true],
      ['HEAD', 'HEAD', { cookie, 'accept-encoding': 'gzip' }, true],
      ['HEAD with If-None-Match', 'HEAD', { cookie, 'if-none-match': plainEtag }, true],
      ['index.html by its name (recorded through an app route)', 'GET', { cookie, 'accept-encoding': 'gzip' }, true],
    ];
    for (const [what, method, headers, byEdge] of cases) {
      const path = what.startsWith('index.html') ? '/viewer/index.html' : chunk;
      const r = await both(method, path, headers);
      same(t, r, what);
      t.equal(r.edge, byEdge, `${what}: ${byEdge ? 'answered by the edge' : 'the control plane\'s'}`);
    }
  });

  t.test('If-None-Match in two fields (by hand: node\'s client sends one)', async (t) => {
    const g = await h2.request('GET', chunk, { headers: { cookie, 'accept-encoding': 'gzip' } });
    const n = edgeTotal(gw);
    const r = await rawRequest(gw, ca, chunk, [['cookie', cookie], ['accept-encoding', 'gzip'], ['if-none-match', '"other"'], ['if-none-match', g.headers.etag as string]]);
    t.equal(edgeTotal(gw), n + 1, 'the edge\'s');
    const v1 = await gw.request('GET', chunk, { headers: { cookie, 'accept-encoding': 'gzip', 'if-none-match': `"other", ${g.headers.etag as string}` } });
    t.equal(r.status, v1.status, `the same status as the control plane's for the joined value (${v1.status})`);
    t.equal(r.dataBytes, 0);
  });

  t.test('paths, methods and bodies the edge must leave to the control plane', async (t) => {
    const edgeWanted = (p: string): boolean => p === chunk;
    const paths = [
      chunk, `${chunk}.`, `${chunk}/`, `${chunk}?`, `${chunk}?x=1`, `${chunk}#x`, `${chunk};x`, chunk.toUpperCase(), chunk.replace('/viewer/', '/viewer/%2e/'),
      chunk.replace('.js', '%2ejs'), `${chunk}%00`, chunk.replace('/viewer/', '/viewer//'), chunk.replace('/viewer/', '/viewer/x/../'),
      '/viewer/app-config.js', '/viewer/index.html.', '/viewer/nothing.js', '/viewer/studies', '/viewer/', '/viewer',
    ];
    for (const path of paths) {
      const r = await both('GET', path, { cookie, 'accept-encoding': 'gzip' });
      t.equal(r.v2.status, r.v1.status, `${path}: the same status (${r.v1.status})`);
      t.ok(r.v2.body.equals(r.v1.body), `${path}: the same body`);
      if (!edgeWanted(path)) t.equal(r.edge, false, `${path}: the control plane's`);
    }
    // Twice: a second request is not the edge's either (nothing was recorded for those answers).
    for (const path of ['/viewer/app-config.js', '/viewer/nothing.js', '/viewer/studies']) {
      const r = await both('GET', path, { cookie, 'accept-encoding': 'gzip' });
      t.equal(r.edge, false, `${path} again: the control plane's`);
    }
    // A gzip copy asked by its name: not a file the route serves (404), never recorded.
    // A file in a subdirectory (kept): recorded, and the edge's answer is the control plane's.
    for (const [path, byEdge] of [[`${chunk}.gz`, false], ['/viewer/assets/android-chrome-144x144.png', true]] as const) {
      await h2.request('GET', path, { headers: { cookie, 'accept-encoding': 'gzip' } });
      const r = await both('GET', path, { cookie, 'accept-encoding': 'gzip' });
      t.equal(r.v1.status, byEdge ? 200 : 404, `${path}: ${byEdge ? 'a file of the build' : 'not a file the route serves'}`);
      same(t, r, path);
      t.equal(r.edge, byEdge, `${path}: ${byEdge ? 'the edge\'s' : 'the control plane\'s'}`);
    }
    // Methods other than GET/HEAD, and a GET with a body.
    for (const method of ['POST', 'OPTIONS', 'DELETE', 'get']) {
      const n = edgeTotal(gw);
      const r = await h2.request(method, chunk, { headers: { cookie, origin: gw.url } });
      t.not(r.status, 200, `${method}: not the file (${r.status})`);
      t.equal(edgeTotal(gw), n, `${method}: the control plane's`);
    }
    const n = edgeTotal(gw);
    const withBody = await h2.request('GET', chunk, { headers: { cookie }, body: 'x' });
    t.equal(edgeTotal(gw), n, 'a GET with a body: the control plane\'s');
    t.ok(withBody.status > 0);
  });

  t.test('only a 200 sent from memory is recorded: not a 304, not a redirect, not a Set-Cookie', async (t) => {
    // A file no one has fetched yet, first asked with If-None-Match: * (a 304 from the control plane).
    const other = files.find((f) => /^\d+\.bundle\.[0-9a-f]{16}\.js$/.test(f) && f !== small) ?? '';
    const path = `/viewer/${other}`;
    t.equal((await h2.request('GET', path, { headers: { cookie, 'if-none-match': '*' } })).status, 304);
    t.equal((await h2.request('GET', path, { headers: {} })).status, 302, 'without a session: a redirect');
    const n = edgeTotal(gw);
    const first = await h2.request('GET', path, { headers: { cookie } });
    t.equal(first.status, 200);
    t.equal(edgeTotal(gw), n, 'neither the 304 nor the redirect was recorded: the first 200 is the control plane\'s');
    const second = await h2.request('GET', path, { headers: { cookie } });
    t.equal(edgeTotal(gw), n + 1);
    t.equal(second.headers['set-cookie'], undefined, 'no Set-Cookie replayed');
    t.same(comparable(second), comparable(first));

    // A file first asked with HEAD through the control plane: whatever that records, a later GET from the edge is the whole file.
    const third = files.filter((f) => /^\d+\.bundle\.[0-9a-f]{16}\.js$/.test(f) && f !== small && f !== other)[0] ?? '';
    const p3 = `/viewer/${third}`;
    const head = await h2.request('HEAD', p3, { headers: { cookie } });
    t.equal(head.status, 200);
    t.equal(head.body.length, 0);
    const m = edgeTotal(gw);
    const get = await h2.request('GET', p3, { headers: { cookie } });
    const v1 = await gw.request('GET', p3, { headers: { cookie } });
    t.comment(`after HEAD, the GET was ${edgeTotal(gw) > m ? 'the edge\'s' : 'the control plane\'s'}`);
    t.equal(get.status, 200);
    t.ok(get.body.equals(readFileSync(join(root, third))), 'the whole file');
    t.ok(get.body.equals(v1.body));
    t.same(comparable(get), comparable(v1), 'the same headers as HTTP/1.1');
    t.equal(head.headers['content-length'], String(get.body.length), 'HEAD: the GET\'s Content-Length');
  });

  t.test('rapid reset of viewer streams (memory store: the session check ends before the RST is read)', async (t) => {
    const r = await rapidReset(gw, ca, chunk, cookie);
    // The edge answers each stream before nghttp2 reads its RST_STREAM (microtasks run between frames), so these
    // count as answered, not abandoned: the edge's own bound does not trip; nghttp2's stream-reset rate limit
    // (burst 1000) ends the connection with GOAWAY INTERNAL_ERROR. Either way the connection ends.
    t.comment(`GOAWAY ${String(r.code)} after ${String(r.streams)} streams, ${String(r.answered)} answered by the edge; log lines: ${JSON.stringify([...new Set(gw.logs.map((l) => String(l.msg)).filter((m) => /HTTP\/2|GOAWAY/.test(m)))])}`);
    t.ok(r.code === 0xb || r.code === 0x2, `GOAWAY with an error (${String(r.code)})`);
    t.ok(r.streams < 3000, 'before the attacker ran out of streams to send');
    const fresh = await h2Session(gw.httpsPort, ca);
    t.teardown(() => fresh.close());
    t.equal((await fresh.request('GET', chunk, { headers: { cookie } })).status, 200, 'another connection still gets the file');
  });
});

t.test('rapid reset of viewer streams while the session check waits for Redis: GOAWAY ENHANCE_YOUR_CALM', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.destroy());
  const root = viewerBuild();
  const gw = await startGateway({ redis, config: { viewer: { path: root } } });
  t.teardown(() => gw.stop());
  const nina = await gw.addUser('nina', 'viewer');
  const cookie = `${COOKIE}=${await gw.login(nina)}`;
  gw.clock.advance(30_000);
  const small = readdirSync(root).sort().find((f) => /^\d+\.bundle\.[0-9a-f]{16}\.js$/.test(f)) ?? '';
  const chunk = `/viewer/${small}`;
  const h2 = await h2Session(gw.httpsPort, gw.caPem);
  t.teardown(() => h2.close());
  t.equal((await h2.request('GET', chunk, { headers: { cookie, 'accept-encoding': 'gzip' } })).status, 200, 'recorded');
  const n = edgeTotal(gw);
  t.equal((await h2.request('GET', chunk, { headers: { cookie, 'accept-encoding': 'gzip' } })).status, 200);
  t.equal(edgeTotal(gw), n + 1, 'the edge answers it');
  const r = await rapidReset(gw, gw.caPem, chunk, cookie);
  t.comment(`GOAWAY ${String(r.code)} after ${String(r.streams)} streams, ${String(r.answered)} answered by the edge`);
  t.equal(r.code, 0xb, 'ENHANCE_YOUR_CALM');
  t.ok(gw.logs.some((l) => /rapid reset|too much HTTP\/2 work/.test(String(l.msg))), 'a log line says why');
  const fresh = await h2Session(gw.httpsPort, gw.caPem);
  t.teardown(() => fresh.close());
  t.equal((await fresh.request('GET', chunk, { headers: { cookie } })).status, 200, 'another connection still gets the file');
});

t.test('an identity provider\'s user: the edge refuses the file once the IdP ends the session (back-channel logout)', async (t) => {
  const root = viewerBuild();
  const o = await startOidcEnv({ config: { viewer: { path: root } } });
  t.teardown(() => o.stop());
  const { gw } = o.env;
  const carol = await o.signIn('u-carol');
  t.ok(carol.session, 'carol signed in through the IdP');
  const cookie = `${SESSION_COOKIE}=${carol.session ?? ''}`;
  const small = readdirSync(root).sort().find((f) => /^\d+\.bundle\.[0-9a-f]{16}\.js$/.test(f)) ?? '';
  const chunk = `/viewer/${small}`;
  const h2 = await h2Session(gw.httpsPort, gw.caPem);
  t.teardown(() => h2.close());
  t.equal((await h2.request('GET', chunk, { headers: { cookie } })).status, 200, 'recorded');
  const n = edgeTotal(gw);
  t.equal((await h2.request('GET', chunk, { headers: { cookie } })).status, 200);
  t.equal(edgeTotal(gw), n + 1, 'the edge answers carol');
  await o.idp.endSession();
  t.match(gw.auditEvents('auth.logout').at(-1), { decision: 'allow', reason: 'backchannel-logout' });
  const after = await h2.request('GET', chunk, { headers: { cookie } });
  t.equal(after.status, 302, 'after the back-channel logout: to /login');
  t.equal(edgeTotal(gw), n + 1, 'not the edge\'s');
});

/** Batches of 200 HEADERS + RST_STREAM for a recorded file, each followed by a PING, until GOAWAY or close. */
async function rapidReset(gw: TestGateway, ca: string, path: string, cookie: string): Promise<{ code: number | undefined; streams: number; answered: number }> {
  const before = edgeTotal(gw);
  const raw = await rawH2(gw.httpsPort, ca);
  try {
    let closed = false;
    void raw.closed.then(() => { closed = true; });
    const block = hpack(getHeaders(path, [['cookie', cookie], ['accept-encoding', 'gzip']]));
    let sent = 0;
    for (let batch = 0; batch < 15 && !closed && raw.goawayCode() === undefined; batch++) {
      const frames: Buffer[] = [];
      for (let i = 0; i < 200; i++) {
        const id = 1 + 2 * sent++;
        frames.push(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, id, block), frame(FRAME.RST_STREAM, 0, id, Buffer.from([0, 0, 0, 8])));
      }
      const ping = Buffer.alloc(8);
      ping.writeUInt32BE(batch + 1, 4);
      raw.send(...frames, frame(FRAME.PING, 0, 0, ping));
      await Promise.race([raw.closed, raw.waitFor((f) => f.type === FRAME.GOAWAY || (f.type === FRAME.PING && f.payload.equals(ping)))]);
    }
    await Promise.race([raw.closed, raw.waitFor((f) => f.type === FRAME.GOAWAY)]);
    return { code: raw.goawayCode(), streams: sent, answered: edgeTotal(gw) - before };
  } finally {
    raw.destroy();
  }
}

/**
 * One GET on a hand-written HTTP/2 connection (repeated fields node's client would refuse). The status
 * as nghttp2 encodes the common ones (static table: 0x88 200, 0x8b 304), else -1; the DATA bytes.
 */
async function rawRequest(gw: TestGateway, ca: string, path: string, extra: [string, string][]): Promise<{ status: number; dataBytes: number }> {
  const raw = await rawH2(gw.httpsPort, ca);
  try {
    raw.send(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, hpack(getHeaders(path, extra))));
    await raw.waitFor((f) => f.streamId === 1 && ((f.flags & FLAG.END_STREAM) !== 0 || f.type === FRAME.RST_STREAM));
    const head = raw.frames.find((f) => f.streamId === 1 && f.type === FRAME.HEADERS);
    const first = head?.payload[0];
    const status = first === 0x88 ? 200 : first === 0x8b ? 304 : -1;
    const dataBytes = raw.frames.filter((f) => f.streamId === 1 && f.type === FRAME.DATA).reduce((a, f) => a + f.payload.length, 0);
    return { status, dataBytes };
  } finally {
    raw.destroy();
  }
}

function joined(h: Record<string, string | string[]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) out[k] = Array.isArray(v) ? v.join(k === 'cookie' ? '; ' : ', ') : v;
  return out;
}
