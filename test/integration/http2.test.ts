// HTTP/2 on the HTTPS port against a real Orthanc: ALPN h2 with HTTP/1.1 fallback, DICOMweb through
// the same guard (roles, audit, nothing refused reaching Orthanc), byte-identical WADO-RS, STOW-RS
// streamed, the control plane (login, health) over h2, and curl --http2 as an independent client.

import { execFile } from 'node:child_process';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { h2Session } from '../helpers/h2.js';
import { datasetAfterMeta, makeInstance } from '../helpers/instances.js';
import { getInstanceFile, startOrthanc, uploadInstance } from '../helpers/orthanc.js';

const run = promisify(execFile);

function stowBody(parts: Buffer[], boundary = 'pgw-h2-boundary'): { body: Buffer; contentType: string } {
  const chunks: Buffer[] = [];
  for (const p of parts) chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), p, Buffer.from('\r\n'));
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/related; type="application/dicom"; boundary=${boundary}` };
}

async function alpnOf(port: number, caPem: string, offer: string[]): Promise<string | false> {
  const s = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: caPem, ALPNProtocols: offer });
  await new Promise<void>((resolve, reject) => { s.once('secureConnect', () => resolve()); s.once('error', reject); });
  const p = s.alpnProtocol;
  s.destroy();
  return p ?? false;
}

t.test('HTTP/2 on the HTTPS port', async (t) => {
  const orthanc = await startOrthanc();
  t.teardown(() => orthanc.stop());
  const gw = await startGateway({ orthanc });
  t.teardown(() => gw.stop());
  const existing = makeInstance({ pixelBytes: 256 * 1024 });
  await uploadInstance(orthanc, existing.buffer);
  const [technologist, viewer] = await Promise.all([gw.addUser('theo', 'technologist'), gw.addUser('vera', 'viewer')]);
  const tokens = { theo: await gw.login(technologist), vera: await gw.login(viewer) };
  const as = (who: keyof typeof tokens, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${tokens[who]}`, ...extra });
  const studyPath = `/dicom-web/studies/${existing.studyUid}`;
  const instancePath = `${studyPath}/series/${existing.seriesUid}/instances/${existing.sopInstanceUid}`;
  const h2 = await h2Session(gw.httpsPort, gw.caPem);
  t.teardown(() => h2.close());

  await t.test('ALPN: h2 when offered, http/1.1 as the fallback, HTTP/1.1 clients unaffected', async (t) => {
    t.equal(await alpnOf(gw.httpsPort, gw.caPem, ['h2', 'http/1.1']), 'h2');
    t.equal(await alpnOf(gw.httpsPort, gw.caPem, ['http/1.1']), 'http/1.1');
    t.equal(await alpnOf(gw.httpsPort, gw.caPem, []), false, 'no ALPN: no protocol chosen, HTTP/1.1 spoken');
    const r = await gw.request('GET', '/dicom-web/studies', { headers: as('vera') });
    t.equal(r.status, 200, 'HTTP/1.1 DICOMweb still works');
  });

  await t.test('QIDO-RS and WADO-RS over h2; the instance is byte-identical', async (t) => {
    const q = await h2.request('GET', '/dicom-web/studies?PatientID=PGW-TEST', { headers: as('vera', { accept: 'application/dicom+json' }) });
    t.equal(q.status, 200, q.text);
    t.ok((q.json() as Record<string, { Value?: unknown[] }>[]).some((s) => s['0020000D']?.Value?.[0] === existing.studyUid), 'the study is listed');
    t.equal(q.headers['strict-transport-security'], 'max-age=31536000');
    t.equal(q.headers['connection'], undefined, 'no connection-specific field');
    const file = await h2.request('GET', `/wado?requestType=WADO&studyUID=${existing.studyUid}&seriesUID=${existing.seriesUid}&objectUID=${existing.sopInstanceUid}&contentType=application/dicom`, { headers: as('vera') });
    t.equal(file.status, 200);
    const direct = await getInstanceFile(orthanc, existing.sopInstanceUid);
    t.ok(direct !== undefined && file.body.equals(direct), 'WADO-URI answer equals the file Orthanc holds, byte for byte');
    const inst = await h2.request('GET', instancePath, { headers: as('vera', { accept: 'multipart/related; type="application/dicom"' }) });
    t.equal(inst.status, 200);
    t.ok(inst.body.includes(datasetAfterMeta(existing.buffer)), 'WADO-RS part carries the whole data set');
    const meta = await h2.request('HEAD', `${instancePath}/metadata`, { headers: as('vera') });
    const metaH1 = await gw.request('HEAD', `${instancePath}/metadata`, { headers: as('vera') });
    t.equal(meta.status, metaH1.status, 'HEAD: the status HTTP/1.1 gets');
    t.equal(meta.body.length, 0, 'HEAD: no body');
  });

  await t.test('metrics count h2 requests as HTTP/1.1 ones', async (t) => {
    const count = async (): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${gw.metricsPort}/metrics`)).text();
      return Number(/pacs_gateway_http_requests_total\{service="qido-rs",decision="allow",status="200"\} (\d+)/.exec(text)?.[1] ?? 0);
    };
    const before = await count();
    t.equal((await h2.request('GET', '/dicom-web/studies', { headers: as('vera') })).status, 200);
    t.equal((await gw.request('GET', '/dicom-web/studies', { headers: as('vera') })).status, 200);
    t.equal(await count(), before + 2);
  });

  await t.test('many streams at once on one connection', async (t) => {
    const rs = await Promise.all(Array.from({ length: 40 }, () => h2.request('GET', `${instancePath}/metadata`, { headers: as('vera') })));
    t.same(rs.map((r) => r.status), rs.map(() => 200));
    t.ok(rs.every((r) => r.json()[0]['00080018'].Value[0] === existing.sopInstanceUid));
  });

  await t.test('STOW-RS over h2 with a store role; refused without it, nothing reaching Orthanc', async (t) => {
    const fresh = makeInstance({ pixelBytes: 1024 * 1024 });
    const { body, contentType } = stowBody([fresh.buffer]);
    const ok = await h2.request('POST', '/dicom-web/studies', { headers: as('theo', { 'content-type': contentType, accept: 'application/dicom+json', 'content-length': String(body.length) }), body });
    t.equal(ok.status, 200, ok.text);
    const stored = await getInstanceFile(orthanc, fresh.sopInstanceUid);
    t.ok(stored !== undefined && datasetAfterMeta(stored).equals(datasetAfterMeta(fresh.buffer)), 'stored byte-identical');
    // Without Content-Length (DATA frames only).
    const other = makeInstance();
    const b2 = stowBody([other.buffer]);
    const ok2 = await h2.request('POST', '/dicom-web/studies', { headers: as('theo', { 'content-type': b2.contentType }), body: b2.body });
    t.equal(ok2.status, 200, ok2.text);
    t.ok(await getInstanceFile(orthanc, other.sopInstanceUid) !== undefined);

    const before = await orthanc.httpRequests();
    const refusedOne = makeInstance();
    const b3 = stowBody([refusedOne.buffer]);
    const forbidden = await h2.request('POST', '/dicom-web/studies', { headers: as('vera', { 'content-type': b3.contentType }), body: b3.body });
    t.equal(forbidden.status, 403);
    t.match(forbidden.json(), { error: 'ERR_FORBIDDEN', detail: { action: 'store' } });
    const anonymous = await h2.request('GET', '/dicom-web/studies');
    t.equal(anonymous.status, 401);
    t.match(String(anonymous.headers['www-authenticate']), /^Bearer/);
    const badRoute = await h2.request('GET', '/dicom-web/studies/../../tools', { headers: as('vera') });
    t.ok(badRoute.status >= 400 && badRoute.status < 500, `refused: ${badRoute.status}`);
    const sessionDelete = await h2.request('DELETE', studyPath, { headers: as('vera') });
    t.equal(sessionDelete.status, 403);
    t.same(await orthanc.httpRequests(), before, 'no refused request reached Orthanc');
    t.equal(await getInstanceFile(orthanc, refusedOne.sopInstanceUid), undefined);
    const denied = gw.auditEvents('authz.http').filter((e) => e.decision === 'deny');
    t.ok(denied.some((e) => e.action === 'store' && e.principal === 'vera'), 'audit event for the refused STOW');
  });

  await t.test('streams the client cancels: a download cut off, an upload cut off and never stored', async (t) => {
    const big = makeInstance({ pixelBytes: 4 * 1024 * 1024 });
    await uploadInstance(orthanc, big.buffer);
    const bigPath = `/dicom-web/studies/${big.studyUid}/series/${big.seriesUid}/instances/${big.sopInstanceUid}`;
    await new Promise<void>((resolve) => {
      const s = h2.session.request({ ':method': 'GET', ':path': bigPath, ...as('vera') });
      s.once('data', () => { s.close(8); });
      s.on('error', () => undefined);
      s.once('close', () => resolve());
    });
    const after = await h2.request('GET', bigPath, { headers: as('vera') });
    t.equal(after.status, 200, 'the same session serves the next download');
    t.ok(after.body.includes(datasetAfterMeta(big.buffer).subarray(-65536)), 'in full');

    const upload = makeInstance({ pixelBytes: 2 * 1024 * 1024 });
    const { body, contentType } = stowBody([upload.buffer]);
    await new Promise<void>((resolve) => {
      const s = h2.session.request({ ':method': 'POST', ':path': '/dicom-web/studies', ...as('theo', { 'content-type': contentType, 'content-length': String(body.length) }) }, { endStream: false });
      s.on('error', () => undefined);
      s.once('close', () => resolve());
      s.write(body.subarray(0, body.length - 1024), () => { setImmediate(() => s.close(8)); });
    });
    const listed = await h2.request('GET', '/dicom-web/studies', { headers: as('vera') });
    t.equal(listed.status, 200, 'the session goes on');
    t.equal(await getInstanceFile(orthanc, upload.sopInstanceUid), undefined, 'the cut-off upload was not stored');
  });

  await t.test('control plane over h2: login with a cookie, health, the cookie authenticating DICOMweb', async (t) => {
    const health = await h2.request('GET', '/healthz');
    t.equal(health.status, 200, health.text);
    const code = await gw.code(viewer, 30_000);
    gw.clock.advance(30_000);
    const login = await h2.request('POST', '/auth/login', {
      headers: { 'content-type': 'application/json', origin: `https://localhost:${gw.httpsPort}` },
      body: JSON.stringify({ username: viewer.username, password: viewer.password, totp: code }),
    });
    t.equal(login.status, 200, login.text);
    const setCookie = login.headers['set-cookie'];
    const cookie = (Array.isArray(setCookie) ? setCookie[0] : setCookie)?.split(';')[0];
    t.ok(cookie !== undefined && cookie.includes('='), 'a session cookie');
    const q = await h2.request('GET', '/dicom-web/studies', { headers: { cookie: cookie as string } });
    t.equal(q.status, 200, 'the cookie works on DICOMweb over h2');
    const missing = await h2.request('GET', '/no-such-page');
    t.equal(missing.status, 404);
  });

  await t.test('curl --http2 as an independent client', async (t) => {
    const { stdout } = await run('curl', [
      '-sS', '--http2', '--cacert', `${gw.dir}/certs/ca.crt`, '--resolve', `localhost:${gw.httpsPort}:127.0.0.1`,
      '-H', `authorization: Bearer ${tokens.vera}`, '-o', '/dev/null', '-w', '%{http_version} %{http_code}',
      `https://localhost:${gw.httpsPort}/dicom-web/studies`,
    ]);
    t.equal(stdout, '2 200');
    const health = await run('curl', ['-sS', '--http2', '--cacert', `${gw.dir}/certs/ca.crt`, '--resolve', `localhost:${gw.httpsPort}:127.0.0.1`, '-o', '/dev/null', '-w', '%{http_version} %{http_code}', `https://localhost:${gw.httpsPort}/healthz`]);
    t.equal(health.stdout, '2 200');
  });
});
