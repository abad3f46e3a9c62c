// The HTTPS edge on the wire: hand-written requests over raw TLS sockets to a real gateway in front of
// a real Orthanc. Keep-alive and pipelining across the control plane and DICOMweb, smuggling attempts
// (refused, connection closed, nothing reaches Orthanc), limits, HTTP/1.0, STOW-RS with Content-Length
// and chunked bodies (stored byte for byte), Expect: 100-continue, HEAD, clients that go away
// mid-download, and the headers on every answer.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket as NetSocket } from 'node:net';
import { PassThrough, Writable, type Duplex } from 'node:stream';
import { join } from 'node:path';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { dicomwebMounts, type GuardDeps } from '../../src/http/dicomweb-guard.js';
import { createEdgeServer } from '../../src/http/edge/edge-server.js';
import { Exchange, type ExchangeOutcome } from '../../src/http/edge/exchange.js';
import { UpstreamPool, type Lease } from '../../src/http/edge/upstream-pool.js';
import { slabsInUse } from '../../src/util/slab-pool.js';
import { SessionService } from '../../src/identity/sessions.js';
import { MemoryStore } from '../../src/state/memory-store.js';
import { startGateway } from '../helpers/gateway.js';
import { datasetAfterMeta, makeInstance, randomUid } from '../helpers/instances.js';
import { getInstanceFile, orthancFetch, startOrthanc, uploadInstance } from '../helpers/orthanc.js';
import { Raw, request, type RawResponse } from '../helpers/raw-http.js';

const CRLFCRLF = Buffer.from('\r\n\r\n');

function stowBody(parts: Buffer[], boundary = 'pgw-edge-boundary-4c2a'): { body: Buffer; contentType: string } {
  const chunks: Buffer[] = [];
  for (const p of parts) chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), p, Buffer.from('\r\n'));
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/related; type="application/dicom"; boundary=${boundary}` };
}

/**
 * `body` as a chunked body in pieces of uneven sizes. No chunk extensions and no trailers: the edge
 * refuses both in request bodies (a PACS that does not parse them could take their bytes for a request).
 */
function chunked(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  let n = 0;
  while (i < body.length) {
    const size = Math.min(body.length - i, [1, 7, 4096, 65_536, 333, 16_385][n % 6] ?? 1);
    out.push(Buffer.from(`${size.toString(16)}\r\n`), body.subarray(i, i + size), Buffer.from('\r\n'));
    i += size;
    n++;
  }
  out.push(Buffer.from('0\r\n\r\n'));
  return out;
}

const STS = 'max-age=31536000';

function securityHeaders(t: Test, r: RawResponse, what: string): void {
  t.same(r.all('strict-transport-security'), [STS], `${what}: one strict-transport-security`);
  t.same(r.all('x-content-type-options'), ['nosniff'], `${what}: one x-content-type-options`);
  t.same(r.all('set-cookie'), [], `${what}: no set-cookie`);
}

t.test('the HTTPS edge on the wire', async (t) => {
  const orthanc = await startOrthanc();
  t.teardown(() => orthanc.stop());
  const gw = await startGateway({ orthanc });
  t.teardown(() => gw.stop());
  const port = gw.httpsPort;
  const a = makeInstance({ pixelBytes: 16 * 1024 });
  const b = makeInstance({ pixelBytes: 16 * 1024 });
  await uploadInstance(orthanc, a.buffer);
  await uploadInstance(orthanc, b.buffer);
  const [rita, theo, vera] = await Promise.all([gw.addUser('rita', 'radiologist'), gw.addUser('theo', 'technologist'), gw.addUser('vera', 'viewer')]);
  const tokens = { rita: await gw.login(rita), theo: await gw.login(theo), vera: await gw.login(vera) };
  const as = (who: keyof typeof tokens, extra: Record<string, string> = {}) => ({ Authorization: `Bearer ${tokens[who]}`, ...extra });
  const instancePath = (i: typeof a) => `/dicom-web/studies/${i.studyUid}/series/${i.seriesUid}/instances/${i.sopInstanceUid}`;
  const conns: Raw[] = [];
  const open = async () => { const c = await Raw.open(port); conns.push(c); return c; };
  t.teardown(() => { for (const c of conns) c.destroy(); });

  /** Orthanc's requests after `before`, once a marker request sent afterwards has arrived (so that nothing is still on its way). */
  const seenSince = async (before: string[]): Promise<string[]> => {
    const marker = await gw.request('GET', `/dicom-web/studies/${a.studyUid}/series/${a.seriesUid}/metadata`, { headers: { authorization: `Bearer ${tokens.rita}` } });
    if (marker.status !== 200) throw new Error(`marker request failed: ${marker.status}`);
    const after = await orthanc.httpRequests();
    const tail = after.slice(before.length);
    // Every complete request before the marker is listed before it. A request the gateway cut off
    // mid-body (its PACS connection closed) is listed when Orthanc notices the close, which can be
    // after the marker under load: it is kept, wherever it stands.
    const at = tail.lastIndexOf(`GET /dicom-web/studies/${a.studyUid}/series/${a.seriesUid}/metadata`);
    if (at < 0) throw new Error(`marker not seen: ${JSON.stringify(tail)}`);
    return [...tail.slice(0, at), ...tail.slice(at + 1)];
  };

  await t.test('keep-alive: control plane and DICOMweb requests on one connection', async (t) => {
    const before = await orthanc.httpRequests();
    const c = await open();
    await c.write(request('GET', '/healthz'));
    const h1 = await c.response();
    t.equal(h1.status, 200);
    t.same(JSON.parse(h1.text()), { status: 'ok' });
    await c.write(request('GET', `${instancePath(a)}/metadata`, as('rita')));
    const m = await c.response();
    t.equal(m.status, 200, m.text().slice(0, 200));
    t.equal(JSON.parse(m.text())[0]['00080018'].Value[0], a.sopInstanceUid);
    await c.write(request('GET', '/login'));
    const login = await c.response();
    t.equal(login.status, 200);
    t.match(login.get('content-type'), /^text\/html/);
    await c.write(request('GET', '/dicom-web/studies?PatientID=PGW-TEST', as('vera', { Accept: 'application/dicom+json' })));
    const q = await c.response();
    t.equal(q.status, 200);
    t.ok((JSON.parse(q.text()) as { '0020000D': { Value: string[] } }[]).some((s) => s['0020000D'].Value[0] === b.studyUid), 'QIDO answer');
    await c.write(request('GET', '/healthz'));
    t.equal((await c.response()).status, 200, 'the control plane again after DICOMweb');
    await c.write(request('GET', `${instancePath(b)}/metadata`, as('rita')));
    t.equal(JSON.parse((await c.response()).text())[0]['00080018'].Value[0], b.sopInstanceUid);
    t.notOk(c.closed, 'still open after six exchanges');
    t.same(await seenSince(before), [`GET ${instancePath(a)}/metadata`, 'GET /dicom-web/studies', `GET ${instancePath(b)}/metadata`], 'Orthanc saw the DICOMweb requests, in order');
    // Connection: close is honoured on the DICOMweb path.
    await c.write(request('GET', `${instancePath(a)}/metadata`, as('rita', { Connection: 'close' })));
    const last = await c.response();
    t.equal(last.status, 200);
    t.equal(last.get('connection'), 'close');
    await c.untilClosed();
    t.pass('closed after Connection: close');
  });

  await t.test('pipelined requests are answered in order', async (t) => {
    const before = await orthanc.httpRequests();
    const fresh = makeInstance({ pixelBytes: 40 * 1024 });
    const stow = stowBody([fresh.buffer]);
    const c = await open();
    // Five requests in one write, one with a body larger than the head limit in the middle.
    await c.write(Buffer.concat([
      request('GET', `${instancePath(a)}/metadata`, as('rita')),
      request('GET', '/healthz'),
      request('GET', `${instancePath(b)}/metadata`, as('rita')),
      request('POST', '/dicom-web/studies', as('theo', { 'Content-Type': stow.contentType, Accept: 'application/dicom+json' }), stow.body),
      request('GET', '/dicom-web/studies/1.2.3/archive', as('rita')),
      request('GET', '/auth/session'),
      request('GET', `${instancePath(a)}/metadata`, as('vera')),
    ]));
    const r1 = await c.response();
    t.equal(r1.status, 200);
    t.match(r1.text(), a.sopInstanceUid);
    t.notMatch(r1.text(), b.sopInstanceUid);
    const r2 = await c.response();
    t.same(JSON.parse(r2.text()), { status: 'ok' }, 'then /healthz');
    const r3 = await c.response();
    t.match(r3.text(), b.sopInstanceUid, 'then b');
    t.notMatch(r3.text(), a.sopInstanceUid);
    const r4 = await c.response();
    t.equal(r4.status, 200, `then the STOW: ${r4.text().slice(0, 200)}`);
    t.match(r4.text(), fresh.sopInstanceUid);
    const r5 = await c.response();
    t.equal(r5.status, 404, 'then a refused route');
    const r6 = await c.response();
    t.equal(r6.status, 401, 'then /auth/session without a session');
    const r7 = await c.response();
    t.equal(r7.status, 200);
    t.match(r7.text(), a.sopInstanceUid);
    t.notOk(c.closed);
    t.same(await seenSince(before), [`GET ${instancePath(a)}/metadata`, `GET ${instancePath(b)}/metadata`, 'POST /dicom-web/studies', `GET ${instancePath(a)}/metadata`]);
    const stored = await getInstanceFile(orthanc, fresh.sopInstanceUid);
    t.ok(stored !== undefined && datasetAfterMeta(stored).equals(datasetAfterMeta(fresh.buffer)), 'the pipelined STOW was stored byte for byte');
  });

  await t.test('request smuggling attempts: 400, connection closed, nothing reaches Orthanc', async (t) => {
    const smuggledUid = randomUid();
    const smuggled = `GET /dicom-web/studies/${smuggledUid}/series HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${tokens.rita}\r\n\r\n`;
    const stowHead = (fields: string) => `POST /dicom-web/studies HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${tokens.theo}\r\nContent-Type: multipart/related; type="application/dicom"; boundary=x\r\n${fields}\r\n`;
    const getHead = (fields: string) => `GET /dicom-web/studies HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${tokens.rita}\r\n${fields}\r\n`;
    const zeroChunk = '0\r\n\r\n';
    const attacks: [string, string, number][] = [
      ['CL.TE', `${stowHead(`Content-Length: ${zeroChunk.length + smuggled.length}\r\nTransfer-Encoding: chunked\r\n`)}${zeroChunk}${smuggled}`, 400],
      ['TE.CL', `${stowHead(`Transfer-Encoding: chunked\r\nContent-Length: 4\r\n`)}${(smuggled.length).toString(16)}\r\n${smuggled}\r\n${zeroChunk}`, 400],
      ['TE folded (obs-fold)', `${stowHead('Content-Length: 5\r\nTransfer-Encoding:\r\n chunked\r\n')}${zeroChunk}${smuggled}`, 400],
      ['TE continued by obs-fold', `${stowHead('Transfer-Encoding: identity\r\n chunked\r\n')}${zeroChunk}${smuggled}`, 400],
      ['space before colon', `${stowHead('Transfer-Encoding : chunked\r\nContent-Length: 5\r\n')}${zeroChunk}${smuggled}`, 400],
      ['conflicting Content-Length', `${stowHead(`Content-Length: 0\r\nContent-Length: ${smuggled.length}\r\n`)}${smuggled}`, 400],
      ['Content-Length list', `${stowHead(`Content-Length: 0, ${smuggled.length}\r\n`)}${smuggled}`, 400],
      ['bare LF between fields', `${getHead('Transfer-Encoding: chunked\nX-Padding: 1\r\n')}${zeroChunk}${smuggled}`, 400],
      ['bare LF in the request line', `GET /dicom-web/studies HTTP/1.1\nHost: localhost\r\nAuthorization: Bearer ${tokens.rita}\r\n\r\n${smuggled}`, 400],
      ['two Hosts', `${getHead('Host: pacs.internal\r\n')}${smuggled}`, 400],
      ['absolute-form', `GET http://127.0.0.1:${orthanc.httpPort}/system HTTP/1.1\r\nHost: localhost\r\n\r\n${smuggled}`, 400],
      ['TE gzip, chunked', `${stowHead('Transfer-Encoding: gzip, chunked\r\n')}${zeroChunk}${smuggled}`, 501],
      ['duplicate TE', `${stowHead('Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n')}${zeroChunk}${smuggled}`, 400],
    ];
    const before = await orthanc.httpRequests();
    for (const [name, bytes, status] of attacks) {
      const c = await open();
      await c.write(bytes);
      const r = await c.response();
      t.equal(r.status, status, `${name}: ${r.status} ${r.text()}`);
      t.equal(r.get('connection'), 'close', `${name}: connection: close`);
      t.match(JSON.parse(r.text()), { error: 'ERR_BAD_REQUEST', message: /malformed HTTP request/ }, name);
      securityHeaders(t, r, name);
      await c.untilClosed();
      t.equal(c.pending.length, 0, `${name}: nothing after the refusal`);
    }
    t.same(await seenSince(before), [], 'Orthanc saw none of them');
    t.notOk(gw.auditEvents('authz.http').some((e) => String(e.path).includes(smuggledUid)), 'the smuggled request was never even guarded');
  });

  await t.test('framing fields named in Connection still frame the request to the PACS', async (t) => {
    // A client may list any field in Connection (RFC 9110 §7.6.1) and the edge drops the nominated fields
    // when it forwards the head. If Content-Length or Transfer-Encoding is dropped while the body is still
    // forwarded, the PACS reads the body as a request of its own, unguarded: the edge must either refuse
    // such a request or keep the framing. Behaviour we must have, whatever the fix.
    const inner = 'GET /system HTTP/1.1\r\nHost: pacs\r\n\r\n';
    const cases: [string, string, string][] = [
      ['Connection: content-length', `GET /dicom-web/studies HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${tokens.vera}\r\nConnection: content-length\r\nContent-Length: ${inner.length}\r\n\r\n${inner}`, 'content-length'],
      ['Connection: transfer-encoding', `GET /dicom-web/studies HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${tokens.vera}\r\nConnection: keep-alive, Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n${inner.length.toString(16)}\r\n${inner}\r\n0\r\n\r\n`, 'transfer-encoding'],
    ];
    for (const [name, bytes, field] of cases) {
      const before = (await orthanc.httpRequestDetails()).length;
      const c = await open();
      await c.write(bytes);
      const r = await c.response();
      t.ok(r.status === 200 || r.status === 400, `${name}: forwarded with its framing, or refused (${r.status})`);
      await new Promise((res) => setTimeout(res, 300));
      c.destroy();
      await seenSince([]);
      const seen = (await orthanc.httpRequestDetails()).slice(before).slice(0, -1);
      t.notOk(seen.some((s) => s.uri === '/system'), `${name}: the body never reached Orthanc as a request; Orthanc saw ${JSON.stringify(seen.map((s) => `${s.method} ${s.uri}`))}`);
      const forwarded = seen.filter((s) => s.uri === '/dicom-web/studies');
      t.ok(forwarded.every((s) => s.headers[field] !== undefined), `${name}: a forwarded request keeps its ${field} (${JSON.stringify(forwarded.map((s) => s.headers))})`);
    }
  });

  await t.test('a malformed chunked body: 400, closed, the bytes after it are never a request', async (t) => {
    const smuggledUid = randomUid();
    const smuggled = `GET /dicom-web/studies/${smuggledUid}/series HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${tokens.rita}\r\n\r\n`;
    const before = await orthanc.httpRequests();
    for (const body of [`5\r\nhelloXX\r\n0\r\n\r\n${smuggled}`, `5\nhello\r\n0\r\n\r\n${smuggled}`, `${'1'.repeat(20)}\r\n${smuggled}`]) {
      const c = await open();
      await c.write(`POST /dicom-web/studies HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${tokens.theo}\r\nContent-Type: multipart/related; type="application/dicom"; boundary=x\r\nTransfer-Encoding: chunked\r\n\r\n${body}`);
      const r = await c.response();
      t.equal(r.status, 400, `${JSON.stringify(body.slice(0, 12))}: ${r.text()}`);
      t.match(r.text(), /malformed request body/);
      t.equal(r.get('connection'), 'close');
      await c.untilClosed();
    }
    const seen = await seenSince(before);
    t.notOk(seen.some((s) => s.includes(smuggledUid)), `the bytes after the bad chunk never reached Orthanc as a request: ${JSON.stringify(seen)}`);
    t.ok(seen.every((s) => s === 'POST /dicom-web/studies'), 'at most the (cut-off) POST itself went up');
  });

  await t.test('limits: a head over 16 KiB → 431; too many fields → 431; a long target → 414', async (t) => {
    const before = await orthanc.httpRequests();
    const big = await open();
    await big.write(request('GET', '/dicom-web/studies', as('rita', { 'X-Big': 'a'.repeat(17 * 1024) })));
    const r = await big.response();
    t.equal(r.status, 431);
    t.equal(r.get('connection'), 'close');
    securityHeaders(t, r, '431');
    await big.untilClosed();
    // A head that never ends is refused as soon as it passes the limit, not after a timeout.
    const endless = await open();
    await endless.write(`GET /dicom-web/studies HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${tokens.rita}\r\nX-Big: ${'b'.repeat(17 * 1024)}`);
    const r2 = await endless.response({ timeoutMs: 3000 });
    t.equal(r2.status, 431, 'an unfinished head over the limit');
    await endless.untilClosed();
    const just = await open();
    // 16 KiB head exactly (CRLFCRLF included) is accepted.
    const base = request('GET', '/healthz', { 'X-Pad': '' }).length;
    await just.write(request('GET', '/healthz', { 'X-Pad': 'p'.repeat(16 * 1024 - base) }));
    const r3 = await just.response();
    t.equal(r3.status, 200, 'a head of exactly 16 KiB is accepted');
    const many = await open();
    const fields: Record<string, string> = {};
    for (let i = 0; i < 101; i++) fields[`X-F${i}`] = '1';
    await many.write(request('GET', '/dicom-web/studies', { ...as('rita'), ...fields }));
    t.equal((await many.response()).status, 431, '102 fields');
    await many.untilClosed();
    const long = await open();
    await long.write(request('GET', `/dicom-web/studies?PatientID=${'x'.repeat(9000)}`, as('rita')));
    t.equal((await long.response()).status, 414);
    await long.untilClosed();
    t.same(await seenSince(before), [], 'Orthanc saw none of them');
  });

  await t.test('HTTP/1.0: DICOMweb → 505; the control plane answers and closes', async (t) => {
    const before = await orthanc.httpRequests();
    const c = await open();
    await c.write(request('GET', '/dicom-web/studies', as('rita'), undefined, '1.0'));
    const r = await c.response();
    t.equal(r.status, 505);
    t.match(JSON.parse(r.text()), { message: /HTTP\/1\.1/ });
    securityHeaders(t, r, '505');
    await c.untilClosed();
    const h = await open();
    await h.write(request('GET', '/healthz', {}, undefined, '1.0'));
    const hr = await h.response();
    t.equal(hr.status, 200);
    await h.untilClosed();
    t.pass('an HTTP/1.0 connection is closed after its answer');
    t.same(await seenSince(before), []);
  });

  await t.test('STOW-RS with Content-Length and chunked: stored byte for byte, the connection goes on', async (t) => {
    const c = await open();
    const one = makeInstance({ pixelBytes: 300 * 1024 });
    const s1 = stowBody([one.buffer]);
    await c.write(request('POST', '/dicom-web/studies', as('theo', { 'Content-Type': s1.contentType, Accept: 'application/dicom+json' }), s1.body));
    const r1 = await c.response();
    t.equal(r1.status, 200, r1.text().slice(0, 300));
    const stored1 = await getInstanceFile(orthanc, one.sopInstanceUid);
    t.ok(stored1 !== undefined && datasetAfterMeta(stored1).equals(datasetAfterMeta(one.buffer)), 'Content-Length upload stored byte for byte');

    const two = makeInstance({ pixelBytes: 300 * 1024 });
    const s2 = stowBody([two.buffer]);
    await c.write(`POST /dicom-web/studies HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${tokens.theo}\r\nContent-Type: ${s2.contentType}\r\nAccept: application/dicom+json\r\nTransfer-Encoding: chunked\r\n\r\n`);
    // Many small writes, each its own TLS record: the framer sees sizes, data and CRLFs split anywhere.
    const pieces = chunked(s2.body);
    for (let i = 0; i < pieces.length; i += 3) {
      await c.write(Buffer.concat(pieces.slice(i, i + 3)));
      if (i % 30 === 0) await new Promise((r) => setImmediate(r));
    }
    const r2 = await c.response();
    t.equal(r2.status, 200, r2.text().slice(0, 300));
    const stored2 = await getInstanceFile(orthanc, two.sopInstanceUid);
    t.ok(stored2 !== undefined && datasetAfterMeta(stored2).equals(datasetAfterMeta(two.buffer)), 'chunked upload stored byte for byte');
    // The body ended exactly at the last chunk: the next request on the connection is read as one.
    await c.write(request('GET', '/healthz'));
    const h = await c.response();
    t.equal(h.status, 200, 'the connection is still in step after the chunked upload');
  });

  await t.test('Expect: 100-continue', async (t) => {
    const inst = makeInstance({ pixelBytes: 32 * 1024 });
    const s = stowBody([inst.buffer]);
    const c = await open();
    const head = request('POST', '/dicom-web/studies', as('theo', { 'Content-Type': s.contentType, 'Content-Length': String(s.body.length), Expect: '100-continue' }));
    await c.write(head);
    // No body sent yet: the 100 must come first.
    const cont = await c.response({ timeoutMs: 5000 });
    t.equal(cont.status, 100, 'HTTP/1.1 100 Continue before the body is sent');
    t.equal(cont.head, 'HTTP/1.1 100 Continue');
    await c.write(s.body);
    const fin = await c.response();
    t.equal(fin.status, 200, fin.text().slice(0, 300));
    const stored = await getInstanceFile(orthanc, inst.sopInstanceUid);
    t.ok(stored !== undefined && datasetAfterMeta(stored).equals(datasetAfterMeta(inst.buffer)), 'stored byte for byte');
    await c.write(request('GET', '/healthz'));
    t.equal((await c.response()).status, 200, 'keep-alive after an Expect upload');

    const before = await orthanc.httpRequests();
    const noAuthInst = makeInstance();
    const s2 = stowBody([noAuthInst.buffer]);
    for (const [who, status] of [[undefined, 401], ['vera', 403]] as const) {
      const d = await open();
      const headers = { 'Content-Type': s2.contentType, 'Content-Length': String(s2.body.length), Expect: '100-continue' };
      await d.write(request('POST', '/dicom-web/studies', who === undefined ? headers : as(who, headers)));
      const r = await d.response({ timeoutMs: 5000 });
      t.equal(r.status, status, `${who ?? 'no credentials'}: ${status}, and no 100 Continue before it`);
      if (status === 401) t.match(r.get('www-authenticate'), /^Bearer realm="pacs-gateway"/);
      t.equal(r.get('connection'), 'close', 'the unread body ends the connection');
      await d.untilClosed();
    }
    t.same(await seenSince(before), [], 'Orthanc saw nothing');
    t.equal(await getInstanceFile(orthanc, noAuthInst.sopInstanceUid), undefined);
  });

  await t.test('HEAD: headers and no body', async (t) => {
    // Orthanc 1.10 answers HEAD on DICOMweb routes itself (404, no body); the edge must relay that answer as it is.
    const direct = await orthancFetch(orthanc, `${instancePath(a)}/metadata`, { method: 'HEAD' });
    const c = await open();
    await c.write(request('HEAD', `${instancePath(a)}/metadata`, as('rita')));
    const h = await c.response({ headOnly: true });
    t.equal(h.status, direct.status, `the PACS's status: ${h.head}`);
    securityHeaders(t, h, 'forwarded HEAD');
    t.ok(await c.quietFor(300), 'no body bytes after the HEAD answer');
    t.equal(c.pending.length, 0);
    await c.write(request('HEAD', '/dicom-web/studies'));
    const u = await c.response({ headOnly: true });
    t.equal(u.status, 401, 'a refused HEAD');
    t.ok(Number(u.get('content-length')) > 0, 'with the length of the body it would have');
    securityHeaders(t, u, 'refused HEAD');
    t.ok(await c.quietFor(300), 'and no body');
    t.notOk(c.closed, 'a refused HEAD keeps the connection');
    await c.write(request('GET', '/healthz'));
    const next = await c.response();
    t.equal(next.status, 200, 'the next answer on the connection is intact');
    t.same(JSON.parse(next.text()), { status: 'ok' });
  });

  await t.test('clients that go away mid-download do not break the gateway', async (t) => {
    const large = makeInstance({ pixelBytes: 8 * 1024 * 1024 });
    await uploadInstance(orthanc, large.buffer);
    const path = instancePath(large);
    const accept = { Accept: 'multipart/related; type="application/dicom"' };
    await Promise.all([0, 1, 2, 3].map(async () => {
      const c = await open();
      await c.write(request('GET', path, as('rita', accept)));
      const deadline = Date.now() + 15_000;
      while (c.pending.indexOf(CRLFCRLF) < 0 || c.pending.length < 256 * 1024) {
        if (Date.now() > deadline || c.closed) throw new Error('the download did not start');
        await new Promise((r) => setTimeout(r, 5));
      }
      t.match(c.pending.toString('latin1', 0, 20), /^HTTP\/1\.1 200 /);
      c.destroy();
    }));
    // The same connection pool and process keep serving, including the same large answer in full.
    const c = await open();
    await c.write(request('GET', path, as('rita', accept)));
    const full = await c.response({ timeoutMs: 30_000 });
    t.equal(full.status, 200);
    t.ok(full.body.includes(datasetAfterMeta(large.buffer).subarray(-65_536)), 'the full answer arrives');
    for (let i = 0; i < 5; i++) {
      await c.write(request('GET', `${instancePath(a)}/metadata`, as('rita')));
      const r = await c.response();
      t.equal(r.status, 200, `request ${i} after the disconnects`);
    }
    t.equal((await gw.request('GET', '/healthz')).status, 200);
  });

  await t.test('a slow and a fast reader at once get the PACS answer byte for byte (real TLS, shared upstream read buffer)', async (t) => {
    // The edge reads PACS connections into one shared buffer and writes views of it to the client
    // when the client's socket takes them at once, copies otherwise. Loopback socket buffers are
    // large, so the queueing case itself is forced in the Exchange test further down.
    const large = makeInstance({ pixelBytes: 6 * 1024 * 1024 });
    await uploadInstance(orthanc, large.buffer);
    const path = instancePath(large);
    const accept = { Accept: 'multipart/related; type="application/dicom"' };
    const direct = await fetch(`${orthanc.dicomwebUrl}${path.slice('/dicom-web'.length)}`, { headers: accept });
    const expected = Buffer.from(await direct.arrayBuffer());
    t.equal(direct.status, 200);
    const c = await open();
    // Two at once on the same answer path: one slow reader, one fast (they share the read buffer).
    const fast = await open();
    c.socket.pause();
    await c.write(request('GET', path, as('rita', accept)));
    await fast.write(request('GET', path, as('rita', accept)));
    const quick = await fast.response({ timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 300));
    // Read in small sips so that the gateway keeps meeting a full socket.
    const sipper = setInterval(() => { c.socket.resume(); setTimeout(() => c.socket.pause(), 2); }, 10);
    let slow;
    try {
      slow = await c.response({ timeoutMs: 60_000 });
    } finally {
      clearInterval(sipper);
      c.socket.resume();
    }
    t.equal(slow.status, 200);
    t.equal(quick.status, 200);
    // Orthanc picks a new multipart boundary per answer: compare the DICOM part inside.
    const part = (body: Buffer, contentType: string | undefined | null): Buffer => {
      const boundary = /boundary="?([^";]+)"?/.exec(contentType ?? '')?.[1];
      if (boundary === undefined) throw new Error(`no boundary in ${String(contentType)}`);
      const start = body.indexOf(CRLFCRLF) + 4;
      return body.subarray(start, body.indexOf(Buffer.from(`\r\n--${boundary}--`), start));
    };
    const want = part(expected, direct.headers.get('content-type'));
    t.ok(want.length > 6 * 1024 * 1024, 'the DICOM part is found in the direct answer');
    t.ok(part(slow.body, slow.get('content-type')).equals(want), 'the slow reader\'s DICOM part is the PACS\'s, byte for byte');
    t.ok(part(quick.body, quick.get('content-type')).equals(want), 'so is the fast reader\'s');
  });

  await t.test('security headers on forwarded, refused and control-plane answers', async (t) => {
    const c = await open();
    const cases: [string, Buffer, number][] = [
      ['forwarded QIDO', request('GET', '/dicom-web/studies', as('rita')), 200],
      ['forwarded WADO-RS', request('GET', `${instancePath(a)}/metadata`, as('rita')), 200],
      ['401', request('GET', '/dicom-web/studies'), 401],
      ['403', request('GET', '/dicom-web/studies', as('theo')), 403],
      ['404 route', request('GET', '/dicom-web/servers', as('rita')), 404],
      ['405 method', request('PUT', '/dicom-web/studies', as('rita')), 405],
      ['400 path', request('GET', '/dicom-web/studies/%2e%2e/system', as('rita')), 400],
      ['control plane', request('GET', '/healthz'), 200],
      ['control plane 404', request('GET', '/system'), 404],
    ];
    for (const [name, bytes, status] of cases) {
      await c.write(bytes);
      const r = await c.response();
      t.equal(r.status, status, name);
      securityHeaders(t, r, name);
    }
  });
});

t.test('PACS response headers the client never sees', async (t) => {
  // Orthanc sends no cookies nor security headers, so a PACS that does is an HTTP server of the test's own.
  let seen: Record<string, string | string[] | undefined> = {};
  const pacs = createHttpServer((req, res) => {
    if (req.method === 'HEAD') {
      // What a PACS that implements HEAD sends: the GET answer's fields, a length, no body.
      res.writeHead(200, { 'Content-Type': 'multipart/related; type="application/dicom"', 'Content-Length': '1000', 'Set-Cookie': 'h=1' });
      res.end();
      return;
    }
    seen = req.headers;
    res.writeHead(200, {
      'Content-Type': 'application/dicom+json',
      'Set-Cookie': ['pacs-session=secret; Path=/', 'other=1'],
      'Strict-Transport-Security': 'max-age=0',
      'X-Content-Type-Options': 'sniff-away',
      Connection: 'X-Hop-Secret',
      'X-Hop-Secret': 'internal',
      'X-Pacs-Version': '1.0',
    });
    res.end('[]');
  });
  await new Promise<void>((r) => pacs.listen(0, '127.0.0.1', r));
  t.teardown(() => { pacs.closeAllConnections(); pacs.close(); });
  const p = (pacs.address() as AddressInfo).port;
  const gw = await startGateway({ orthanc: { dicomwebUrl: `http://127.0.0.1:${p}/dicom-web`, wadoUrl: `http://127.0.0.1:${p}/wado`, dicomPort: 9, aeTitle: 'ORTHANC' } });
  t.teardown(() => gw.stop());
  const token = await gw.login(await gw.addUser('vera', 'viewer'));
  const c = await Raw.open(gw.httpsPort);
  t.teardown(() => c.destroy());
  await c.write(request('GET', '/dicom-web/studies', { Authorization: `Bearer ${token}`, Cookie: 'a=b', Connection: 'X-Client-Hop', 'X-Client-Hop': '1', 'X-Keep': 'yes', Accept: 'application/dicom+json' }));
  const r = await c.response();
  t.equal(r.status, 200);
  t.equal(r.text(), '[]');
  securityHeaders(t, r, 'PACS answer');
  t.same(r.all('x-hop-secret'), [], 'a header the PACS named in Connection is dropped');
  t.equal(r.get('x-pacs-version'), '1.0', 'other PACS headers pass');
  t.equal(seen['accept'], 'application/dicom+json', 'allow-listed client headers pass');
  t.equal(seen['x-keep'], undefined, 'other client headers do not (an allow-list, not a deny-list)');
  t.equal(seen['x-client-hop'], undefined, 'a header the client named in Connection is not forwarded');
  t.equal(seen['authorization'], undefined);
  t.equal(seen['cookie'], undefined);

  // HEAD: the PACS says Content-Length: 1000 and sends no body; the edge must not wait for one.
  await c.write(request('HEAD', '/dicom-web/studies/1.2.3/series/4.5.6/instances/7.8.9', { Authorization: `Bearer ${token}` }));
  const h = await c.response({ headOnly: true, timeoutMs: 3000 });
  t.equal(h.status, 200);
  t.equal(h.get('content-length'), '1000', 'the length of the body a GET would get');
  t.match(h.get('content-type'), /^multipart\/related/);
  securityHeaders(t, h, 'HEAD answer');
  t.ok(await c.quietFor(200), 'no body');
  await c.write(request('GET', '/dicom-web/studies', { Authorization: `Bearer ${token}` }));
  const after = await c.response({ timeoutMs: 3000 });
  t.equal(after.status, 200, 'the connection is in step after the HEAD');
  t.equal(after.text(), '[]');
});

t.test('an upstream connection reused many times does not collect listeners', async (t) => {
  // Each use of a kept-alive PACS connection adds a 'timeout' listener (the exchange's, or the pool's
  // idle watch) and must remove it again. A stale listener would keep its Exchange (and that exchange's
  // client socket) alive for as long as the PACS connection lives, and a stale pool `drop` would fire on
  // the next timeout of the connection whoever uses it then. At most one listener may be left.
  const pacs = createHttpServer((_req, res) => { res.end('ok'); });
  await new Promise<void>((r) => pacs.listen(0, '127.0.0.1', r));
  t.teardown(() => { pacs.closeAllConnections(); pacs.close(); });
  const pool = new UpstreamPool({ host: '127.0.0.1', port: (pacs.address() as AddressInfo).port, maxConnections: 1, timeoutMs: 10_000 });
  t.teardown(() => pool.close());
  const sockets = new Set<unknown>();
  let lease: Lease | undefined;
  for (let i = 0; i < 20; i++) {
    lease = await new Promise<Lease>((resolve, reject) => pool.acquire(false, (err, l) => (l === undefined ? reject(err) : resolve(l))));
    sockets.add(lease.socket);
    const client = new PassThrough();
    client.resume();
    const upstream = lease.socket;
    const outcome = await new Promise<ExchangeOutcome>((resolve) => {
      new Exchange({
        client, upstream, head: 'GET / HTTP/1.1\r\nhost: pacs\r\n\r\n', method: 'GET', body: { kind: 'none' }, clientKeepAlive: true,
        responseHead: (_res, raw) => raw, onEnd: resolve, holdClient: () => undefined,
      });
    });
    t.equal(outcome.kind, 'done');
    pool.release(upstream, outcome.kind === 'done' && outcome.upstreamReusable);
  }
  t.equal(sockets.size, 1, 'one PACS connection served all twenty exchanges');
  t.ok((lease?.socket.listenerCount('timeout') ?? 0) <= 1, `'timeout' listeners on the PACS connection after 20 exchanges: ${String(lease?.socket.listenerCount('timeout'))}`);
});

t.test('a client that takes its time gets every byte: queued chunks are copies of the shared read buffer', async (t) => {
  // Two PACS answers of distinct, position-dependent bytes stream at once through two pooled
  // connections (which share one read buffer) to two clients. Like a TLS socket, each client takes
  // a chunk at once (copies it) but completes writes later, so node queues the next chunks: those
  // must not be views of the shared buffer, which the other connection's reads overwrite.
  const size = 3 * 1024 * 1024;
  const body = (seed: number): Buffer => { const b = Buffer.alloc(size); for (let i = 0; i < size; i++) b[i] = (i * 7 + seed * 13 + (i >> 12)) & 0xff; return b; };
  const bodies = [body(1), body(2)];
  let served = 0;
  const pacs = createHttpServer((_req, res) => { const b = bodies[served++ % 2] as Buffer; res.writeHead(200, { 'content-length': String(b.length) }); res.end(b); });
  await new Promise<void>((r) => pacs.listen(0, '127.0.0.1', r));
  t.teardown(() => { pacs.closeAllConnections(); pacs.close(); });
  const pool = new UpstreamPool({ host: '127.0.0.1', port: (pacs.address() as AddressInfo).port, maxConnections: 4, timeoutMs: 10_000 });
  t.teardown(() => pool.close());
  const exchange = async (): Promise<Buffer> => {
    const lease = await new Promise<Lease>((resolve, reject) => pool.acquire(true, (err, l) => (l === undefined ? reject(err) : resolve(l))));
    const got: Buffer[] = [];
    const client = new Writable({
      highWaterMark: 16 * 1024,
      write(chunk: Buffer, _enc, cb) { got.push(Buffer.from(chunk)); setTimeout(cb, 1); },
    });
    const outcome = await new Promise<ExchangeOutcome>((resolve) => {
      new Exchange({
        client: client as unknown as Duplex, upstream: lease.socket, head: 'GET / HTTP/1.1\r\nhost: pacs\r\n\r\n', method: 'GET',
        body: { kind: 'none' }, clientKeepAlive: true, responseHead: (_res, raw) => raw, onEnd: resolve, holdClient: () => undefined,
      });
    });
    pool.release(lease.socket, false);
    t.equal(outcome.kind, 'done');
    // The exchange is over once the last chunk is handed to the client; the client may still hold queued ones.
    await new Promise<void>((r) => client.end(r));
    const all = Buffer.concat(got);
    return all.subarray(all.indexOf(CRLFCRLF) + 4);
  };
  const [one, two] = await Promise.all([exchange(), exchange()]);
  const matches = (b: Buffer | undefined): boolean => b !== undefined && (b.equals(bodies[0] as Buffer) || b.equals(bodies[1] as Buffer));
  t.ok(matches(one) && matches(two) && !(one as Buffer).equals(two as Buffer), 'both clients got their answer byte for byte');
});

t.test('the answer head leaves with the first body bytes in one write; queued copies use reused slabs', async (t) => {
  // A small answer is one TLS record: head and body joined in one write (no cork, no writev). The
  // joined buffer and queued copies come from node's small-buffer pool or from the slab pool, and a
  // slab goes back only when its write completed; the bytes must still be the PACS's, byte for byte.
  const sizes = [1300, 30_000, 64 * 1024 - 100, 200_000];
  let next = 0;
  const bodyOf = (n: number): Buffer => { const b = Buffer.alloc(n); for (let i = 0; i < n; i++) b[i] = (i * 31 + n) & 0xff; return b; };
  // The PACS sends head and body in one write, so that a small answer arrives in one read.
  const pacsSockets = new Set<NetSocket>();
  const pacs = createNetServer((sock) => {
    pacsSockets.add(sock);
    sock.on('data', () => {
      const b = bodyOf(sizes[next++ % sizes.length] as number);
      sock.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\ncontent-length: ${String(b.length)}\r\n\r\n`), b]));
    });
  });
  await new Promise<void>((r) => pacs.listen(0, '127.0.0.1', r));
  t.teardown(() => { for (const sock of pacsSockets) sock.destroy(); pacs.close(); });
  const pool = new UpstreamPool({ host: '127.0.0.1', port: (pacs.address() as AddressInfo).port, maxConnections: 1, timeoutMs: 10_000 });
  t.teardown(() => pool.close());
  const inUseBefore = slabsInUse();
  for (const size of sizes) {
    const lease = await new Promise<Lease>((resolve, reject) => pool.acquire(false, (err, l) => (l === undefined ? reject(err) : resolve(l))));
    const writes: Buffer[] = [];
    // Like a TLS socket: takes each chunk at once, completes the write a little later (so later chunks queue).
    const client = new Writable({ highWaterMark: 16 * 1024, write(chunk: Buffer, _enc, cb) { writes.push(Buffer.from(chunk)); setTimeout(cb, 1); } });
    const outcome = await new Promise<ExchangeOutcome>((resolve) => {
      new Exchange({
        client: client as unknown as Duplex, upstream: lease.socket, head: 'GET / HTTP/1.1\r\nhost: pacs\r\n\r\n', method: 'GET',
        body: { kind: 'none' }, clientKeepAlive: true, responseHead: () => 'HTTP/1.1 200 OK\r\nx-head: joined\r\n\r\n', onEnd: resolve, holdClient: () => undefined,
      });
    });
    t.equal(outcome.kind, 'done', `${size} B: done`);
    pool.release(lease.socket, outcome.kind === 'done' && outcome.upstreamReusable);
    await new Promise<void>((r) => client.end(r));
    const all = Buffer.concat(writes);
    const head = 'HTTP/1.1 200 OK\r\nx-head: joined\r\n\r\n';
    t.equal(all.subarray(0, head.length).toString('latin1'), head, `${size} B: the head first`);
    t.ok(all.subarray(head.length).equals(bodyOf(size)), `${size} B: the body byte for byte`);
    if (size < 60_000) t.equal(writes.length, 1, `${size} B: head and body in one write`);
    else t.ok((writes[0] as Buffer).length > head.length, `${size} B: the first write carries body bytes too`);
  }
  t.equal(slabsInUse(), inUseBefore, 'every slab taken was given back');
});

t.test('a head that never completes → 408, an idle connection is closed (edge with a short keep-alive)', async (t) => {
  // The gateway's keep-alive is a fixed 30 s; the edge itself takes it as an option, so this runs one with 300 ms.
  const gw = await startGateway();
  t.teardown(() => gw.stop());
  const edge = createEdgeServer({
    tls: { cert: readFileSync(join(gw.dir, 'certs/server.crt')), key: readFileSync(join(gw.dir, 'certs/server.key')) },
    mounts: dicomwebMounts('http://127.0.0.1:9/dicom-web', 'http://127.0.0.1:9/wado'),
    guard: { audit: { record: () => undefined } } as unknown as GuardDeps,
    trustProxy: false,
    controlPlane: (s) => { s.destroy(); },
    logger: pino({ level: 'silent' }),
    upstreamTimeoutMs: 1000,
    keepAliveMs: 300,
    upstreamConnections: 2,
  });
  const addr = await edge.listen('127.0.0.1', 0);
  t.teardown(() => edge.close());

  const partial = await Raw.open(addr.port);
  t.teardown(() => partial.destroy());
  const started = Date.now();
  await partial.write('GET /dicom-web/studies HTTP/1.1\r\nHost: localhost\r\n');
  const r = await partial.response({ timeoutMs: 5000 });
  t.equal(r.status, 408);
  t.equal(r.get('connection'), 'close');
  securityHeaders(t, r, '408');
  t.ok(Date.now() - started >= 250, 'not before the keep-alive time');
  await partial.untilClosed();

  const idle = await Raw.open(addr.port);
  t.teardown(() => idle.destroy());
  await idle.untilClosed(3000);
  t.equal(idle.pending.length, 0, 'an idle connection is closed without an answer');

  // After an answer (a refused route needs no PACS), the connection is idle again and closed the same way.
  const after = await Raw.open(addr.port);
  t.teardown(() => after.destroy());
  await after.write(request('GET', '/dicom-web/servers'));
  t.equal((await after.response()).status, 404);
  t.notOk(after.closed);
  await after.untilClosed(3000);
  t.equal(after.pending.length, 0);
});

t.test('stalled uploads, a busy PACS pool, bodies on GET, trailers (edge with short timeouts and one PACS connection)', async (t) => {
  // A real guard (sessions in a memory store, one user allowed everything) in front of a stand-in
  // PACS that records what it gets and takes 3 s to answer /slow.
  const seen: string[] = [];
  const pacs = createHttpServer((req, res) => {
    seen.push(`${String(req.method)} ${String(req.url)}`);
    req.resume();
    req.on('end', () => {
      if (!String(req.url).includes('slow')) { res.end('[]'); return; }
      // A slow answer that keeps the connection busy (and active) for 3 s: a byte every 300 ms.
      res.writeHead(200, { 'content-length': '10' });
      let n = 0;
      const tick = setInterval(() => { res.write('x'); if (++n === 10) { clearInterval(tick); res.end(); } }, 300);
    });
  });
  await new Promise<void>((r) => pacs.listen(0, '127.0.0.1', r));
  t.teardown(() => { pacs.closeAllConnections(); pacs.close(); });
  const port = (pacs.address() as AddressInfo).port;
  const store = new MemoryStore();
  const sessions = new SessionService({ store, clock: Date.now, signingKey: randomBytes(32), idleMs: 600_000, maxMs: 3_600_000, dimseTokenMs: 60_000 });
  t.teardown(() => store.close());
  const uma = { username: 'uma', role: 'all', disabled: false, passwordHash: 'scrypt$stand-in', totpSecret: 'STANDIN' };
  const { token } = await sessions.create(uma, '127.0.0.1');
  const guard = {
    sessions, users: { get: async () => uma }, identity: {}, cookieName: 'pgw',
    audit: { record: () => undefined, alert: () => undefined }, roles: () => ({ all: { actions: ['search', 'retrieve', 'store', 'delete'], moveDestinations: [], storeSopClasses: [] } }),
  } as unknown as GuardDeps;
  const gw = await startGateway();
  t.teardown(() => gw.stop());
  const edge = createEdgeServer({
    tls: { cert: readFileSync(join(gw.dir, 'certs/server.crt')), key: readFileSync(join(gw.dir, 'certs/server.key')) },
    mounts: dicomwebMounts(`http://127.0.0.1:${port}/dicom-web`, `http://127.0.0.1:${port}/wado`),
    guard, trustProxy: false, controlPlane: (s) => { s.destroy(); }, logger: pino({ level: 'silent' }),
    upstreamTimeoutMs: 1000, keepAliveMs: 400, upstreamConnections: 1,
  });
  const addr = await edge.listen('127.0.0.1', 0);
  t.teardown(() => edge.close());
  const auth = { Authorization: `Bearer ${token}` };
  const open = async (): Promise<Raw> => { const c = await Raw.open(addr.port); t.teardown(() => c.destroy()); return c; };

  const ok = await open();
  await ok.write(request('GET', '/dicom-web/studies', auth));
  t.equal((await ok.response()).status, 200, 'the guard allows and the stand-in PACS answers');

  // An upload that stops after 10 of 1000 bytes: cut off after the keep-alive time, not held for ever.
  const stalled = await open();
  const started = Date.now();
  await stalled.write(request('POST', '/dicom-web/studies', { ...auth, 'Content-Type': 'multipart/related; type="application/dicom"; boundary=b', 'Content-Length': '1000' }, undefined).toString('latin1') + '0123456789');
  await stalled.untilClosed(5000);
  t.ok(Date.now() - started >= 350, `closed after the silence, not before (${Date.now() - started} ms)`);

  // Bodies on GET are refused: a PACS that does not read them would take them for the next request.
  const withBody = await open();
  const before = seen.length;
  await withBody.write(request('GET', '/dicom-web/studies', { ...auth, 'Content-Length': '37' }, 'GET /system HTTP/1.1\r\nHost: pacs\r\n\r\n'));
  const r400 = await withBody.response();
  t.equal(r400.status, 400, 'GET with a body → 400');
  t.match(r400.text(), /must not carry a body/);

  // Trailers (and chunk extensions) in a request body are refused; the PACS never gets a complete request.
  const trailer = await open();
  await trailer.write(request('POST', '/dicom-web/studies', { ...auth, 'Content-Type': 'application/dicom', 'Transfer-Encoding': 'chunked' }, '1\r\nA\r\n0\r\nX-Smuggled: GET /system HTTP/1.1\r\n\r\n'));
  const rTrailer = await trailer.response();
  t.equal(rTrailer.status, 400, 'a trailer → 400');
  t.match(rTrailer.text(), /trailers are not accepted/);
  const ext = await open();
  await ext.write(request('POST', '/dicom-web/studies', { ...auth, 'Content-Type': 'application/dicom', 'Transfer-Encoding': 'chunked' }, '1;name=value\r\nA\r\n0\r\n\r\n'));
  t.equal((await ext.response()).status, 400, 'a chunk extension → 400');
  await new Promise((r) => setTimeout(r, 200));
  t.same(seen.slice(before).filter((x) => !x.startsWith('POST')), [], 'none of them reached the PACS as a request of its own');

  // The only PACS connection is busy for 3 s with a slow answer; a second request waiting for a
  // connection is answered 504 after the upstream timeout, not left waiting.
  const slow = await open();
  const queued = await open();
  await slow.write(request('GET', '/dicom-web/studies?slow=1', auth));
  await new Promise((r) => setTimeout(r, 100));
  const t0 = Date.now();
  await queued.write(request('GET', '/dicom-web/studies?queued=1', auth));
  const rq = await queued.response({ timeoutMs: 5000 });
  t.equal(rq.status, 504, 'a request that finds no free PACS connection in time → 504');
  t.ok(Date.now() - t0 < 2500, 'answered before the busy connection freed up');
  const rs = await slow.response({ timeoutMs: 6000 });
  t.equal(rs.status, 200, 'the slow answer arrives in full');
  t.equal(rs.text(), 'xxxxxxxxxx');
});

t.test('http.trustProxy: the client is the address the load balancer appended, for the edge and the control plane alike', async (t) => {
  // Entries before the last X-Forwarded-For one come from the client itself: trusting them would let
  // anyone choose the address that per-address lockouts and the audit trail see.
  const forwarded: string[] = [];
  const pacs = createHttpServer((req, res) => { forwarded.push(String(req.headers['x-forwarded-for'])); res.end('[]'); });
  await new Promise<void>((r) => pacs.listen(0, '127.0.0.1', r));
  t.teardown(() => { pacs.closeAllConnections(); pacs.close(); });
  const base = `http://127.0.0.1:${(pacs.address() as AddressInfo).port}`;
  const gw = await startGateway({ orthanc: { dicomwebUrl: `${base}/dicom-web`, wadoUrl: `${base}/wado`, dicomPort: 1, aeTitle: 'PACS' }, config: { http: { trustProxy: true } } });
  t.teardown(() => gw.stop());
  const user = await gw.addUser('lb-user', 'radiologist');
  const token = await gw.login(user);
  const r = await gw.request('GET', '/dicom-web/studies', { headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': '6.6.6.6, 10.1.2.3' } });
  t.equal(r.status, 200);
  t.same(forwarded, ['10.1.2.3'], 'the PACS gets the address the load balancer saw');
  t.equal(gw.auditEvents('authz.http').at(-1)?.source, '10.1.2.3', 'so does the audit trail');
  const bad = await gw.request('POST', '/auth/login', { headers: { 'content-type': 'application/json', 'x-forwarded-for': '6.6.6.6, 10.1.2.4' }, body: JSON.stringify({ username: 'lb-user', password: 'wrong password here', totp: '000000' }) });
  t.equal(bad.status, 401);
  t.equal(gw.auditEvents('auth.login').at(-1)?.source, '10.1.2.4', 'the control plane (login, lockout) sees the same address');
});
