// DICOMweb through the gateway against a real Orthanc: roles, streaming STOW/WADO, refused routes, headers, audit.

import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { datasetAfterMeta, makeInstance } from '../helpers/instances.js';
import { getInstanceFile, startOrthanc, uploadInstance } from '../helpers/orthanc.js';

function stowBody(parts: Buffer[], boundary = 'pgw-boundary-7d1f'): { body: Buffer; contentType: string } {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), p, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/related; type="application/dicom"; boundary=${boundary}` };
}

t.test('DICOMweb through the gateway', async (t) => {
  const orthanc = await startOrthanc();
  t.teardown(() => orthanc.stop());
  const gw = await startGateway({ orthanc });
  t.teardown(() => gw.stop());
  const existing = makeInstance({ pixelBytes: 64 * 1024 });
  await uploadInstance(orthanc, existing.buffer);
  const [radiologist, technologist, viewer] = await Promise.all([
    gw.addUser('rita', 'radiologist'), gw.addUser('theo', 'technologist'), gw.addUser('vera', 'viewer'),
  ]);
  const tokens = { rita: await gw.login(radiologist), theo: await gw.login(technologist), vera: await gw.login(viewer) };
  const as = (who: keyof typeof tokens, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${tokens[who]}`, ...extra });
  const studyPath = `/dicom-web/studies/${existing.studyUid}`;
  const instancePath = `${studyPath}/series/${existing.seriesUid}/instances/${existing.sopInstanceUid}`;

  await t.test('QIDO-RS search with a search role', async (t) => {
    const r = await gw.request('GET', '/dicom-web/studies?PatientID=PGW-TEST', { headers: as('vera', { accept: 'application/dicom+json' }) });
    t.equal(r.status, 200, r.text);
    const studies = r.json() as Record<string, { Value?: unknown[] }>[];
    t.ok(studies.some((s) => s['0020000D']?.Value?.[0] === existing.studyUid), 'the study is listed');
    const series = await gw.request('GET', `${studyPath}/series`, { headers: as('rita') });
    t.equal(series.status, 200);
  });

  await t.test('WADO-RS metadata and instance', async (t) => {
    const meta = await gw.request('GET', `${instancePath}/metadata`, { headers: as('vera') });
    t.equal(meta.status, 200);
    t.equal(meta.json()[0]['00080018'].Value[0], existing.sopInstanceUid);
    const inst = await gw.request('GET', instancePath, { headers: as('rita', { accept: 'multipart/related; type="application/dicom"' }) });
    t.equal(inst.status, 200);
    t.match(String(inst.headers['content-type']), /^multipart\/related/);
    t.ok(inst.body.includes(datasetAfterMeta(existing.buffer).subarray(-4096)), 'the instance bytes come through');
    const uri = await gw.request('GET', `/wado?requestType=WADO&studyUID=${existing.studyUid}&seriesUID=${existing.seriesUid}&objectUID=${existing.sopInstanceUid}&contentType=application/dicom`, { headers: as('vera') });
    t.equal(uri.status, 200, `WADO-URI query forwarded byte for byte (a proxy that re-encodes "/" as %2F gets 400 from Orthanc): ${uri.text.slice(0, 300)}`);
    t.ok(uri.body.subarray(128, 132).equals(Buffer.from('DICM')));
  });

  await t.test('STOW-RS with a store role; the stored instance is byte-identical', async (t) => {
    const fresh = makeInstance({ pixelBytes: 512 * 1024 });
    const { body, contentType } = stowBody([fresh.buffer]);
    const r = await gw.request('POST', '/dicom-web/studies', { headers: as('theo', { 'content-type': contentType, accept: 'application/dicom+json' }), body });
    t.equal(r.status, 200, r.text);
    const stored = await getInstanceFile(orthanc, fresh.sopInstanceUid);
    t.ok(stored !== undefined, 'Orthanc has it');
    t.ok(datasetAfterMeta(stored as Buffer).equals(datasetAfterMeta(fresh.buffer)), 'data set identical after group 0002');
  });

  await t.test('403 when the role lacks the action, saying which; nothing reaches Orthanc', async (t) => {
    const before = await orthanc.httpRequests();
    const fresh = makeInstance();
    const { body, contentType } = stowBody([fresh.buffer]);
    const stow = await gw.request('POST', '/dicom-web/studies', { headers: as('vera', { 'content-type': contentType }), body });
    t.equal(stow.status, 403);
    t.match(stow.json(), { error: 'ERR_FORBIDDEN', detail: { action: 'store' } });
    t.match(stow.json().message, /"store"/);
    const qido = await gw.request('GET', '/dicom-web/studies', { headers: as('theo') });
    t.equal(qido.status, 403);
    t.match(qido.json().detail, { action: 'search', role: 'technologist' });
    const del = await gw.request('DELETE', studyPath, { headers: as('rita') });
    t.equal(del.status, 403, 'delete: nobody by default');
    t.same(await orthanc.httpRequests(), before);
    t.equal(await getInstanceFile(orthanc, fresh.sopInstanceUid), undefined);
  });

  await t.test('401 with WWW-Authenticate without a session; nothing reaches Orthanc', async (t) => {
    const before = await orthanc.httpRequests();
    const r = await gw.request('GET', '/dicom-web/studies');
    t.equal(r.status, 401);
    t.match(String(r.headers['www-authenticate']), /^Bearer realm="pacs-gateway"/);
    t.equal((await gw.request('GET', '/dicom-web/studies', { headers: { cookie: '__Host-pacs-session=garbage' } })).status, 401);
    t.equal((await gw.request('GET', `/wado?requestType=WADO&studyUID=1&seriesUID=2&objectUID=3`)).status, 401);
    t.same(await orthanc.httpRequests(), before);
  });

  await t.test('path tricks and non-DICOMweb routes are refused and never reach Orthanc', async (t) => {
    const before = await orthanc.httpRequests();
    const tricks: [string, string, number[]][] = [
      ['GET', '/dicom-web/studies/%2e%2e/%2e%2e/system', [400]],
      ['GET', '/dicom-web/%2e%2e/patients', [400]],
      ['GET', '/dicom-web/../patients', [400, 404]],
      ['GET', '/dicom-web/studies/1.2%2f..%2f..%2fsystem', [400]],
      ['GET', '/dicom-web//studies', [400, 404]],
      ['GET', '/dicom-web/studies//series', [400]],
      ['GET', '/dicom-web/studies\\..\\system', [400]],
      ['GET', '/dicom-web/studies;jsessionid=1', [400]],
      ['GET', '/dicom-web/studies/1.2.3;x/metadata', [400]],
      ['GET', '/dicom-web/studies/1.2.3%00/metadata', [400]],
      ['GET', '/dicom-web/studies?PatientID=%00', [400]],
      ['GET', '/dicom-web/studies/not-a-uid', [404]],
      ['GET', '/dicom-web/studies/1.2.3/series/abc', [404]],
      ['GET', '/dicom-web/studies/01.2.3', [404]],
      ['GET', '/dicom-web/servers', [404]],
      ['GET', '/dicom-web/studies/1.2.3/archive', [404]],
      ['GET', '/system', [404]],
      ['GET', '/patients', [404]],
      ['GET', '/instances', [404]],
      ['GET', '/app/explorer.html', [404]],
      ['GET', '/ui/app/', [404]],
      ['POST', '/tools/execute-script', [404]],
      ['GET', '/wado/x?requestType=WADO', [404]],
      ['GET', '/wado?requestType=WADO&studyUID=1&seriesUID=2', [400]],
      ['PUT', '/dicom-web/studies', [405]],
      ['POST', '/dicom-web/studies/1.2.3/series', [405]],
    ];
    for (const [method, path, statuses] of tricks) {
      const r = await gw.request(method, path, { headers: as('rita') });
      t.ok(statuses.includes(r.status), `${method} ${path} → ${r.status}`);
    }
    t.same(await orthanc.httpRequests(), before, 'Orthanc saw none of them');
  });

  await t.test('the gateway owns Authorization, Cookie and X-Forwarded-*', async (t) => {
    const before = (await orthanc.httpRequestDetails()).length;
    const r = await gw.request('GET', '/dicom-web/studies', {
      headers: as('rita', { cookie: 'other=1', 'x-forwarded-for': '6.6.6.6', forwarded: 'for=6.6.6.6', 'x-real-ip': '6.6.6.6' }),
    });
    t.equal(r.status, 200);
    const seen = (await orthanc.httpRequestDetails()).slice(before);
    t.equal(seen.length, 1);
    const h = seen[0]?.headers ?? {};
    t.notOk('authorization' in h, 'no Authorization');
    t.notOk('cookie' in h, 'no Cookie');
    t.notOk('forwarded' in h);
    t.notOk('x-real-ip' in h);
    t.equal(h['x-forwarded-for'], '127.0.0.1', 'X-Forwarded-For is the gateway\'s own view');
    t.equal(h['x-forwarded-proto'], 'https');
  });

  await t.test('audit events for each decision, and no secret anywhere in the logs', async (t) => {
    const allow = gw.auditEvents('authz.http').find((e) => e.decision === 'allow' && e.instanceUid === existing.sopInstanceUid);
    t.ok(allow, 'an allow event carries the UIDs');
    t.match(allow, { principal: String, role: String, method: 'bearer-token', action: 'retrieve', studyUid: existing.studyUid, seriesUid: existing.seriesUid, source: '127.0.0.1', reason: 'role-allows' });
    const deny = gw.auditEvents('authz.http').find((e) => e.decision === 'deny' && e.reason === 'role-lacks-action');
    t.ok(deny);
    for (const line of gw.rawLogs) {
      t.ok(/"time":"\d{4}-\d\d-\d\dT[\d:.]+Z"/.test(line), 'UTC time');
    }
    const secrets = [radiologist, technologist, viewer].flatMap((u) => [u.password, u.totpSecret]).concat(Object.values(tokens));
    const all = gw.rawLogs.join('\n');
    for (const s of secrets) t.notOk(all.includes(s), 'a secret is not in the logs');
    t.notOk(/scrypt\$/.test(all), 'no password hash in the logs');
  });

  await t.test('upstream down: 502 with a clear message', async (t) => {
    await orthanc.stop();
    const r = await gw.request('GET', '/dicom-web/studies', { headers: as('rita') });
    t.equal(r.status, 502);
    t.match(r.json(), { error: 'ERR_UPSTREAM_UNAVAILABLE', message: /PACS is unreachable/ });
    const ready = await gw.request('GET', '/readyz');
    t.equal(ready.status, 503);
    t.match(ready.json().checks['upstream-dicomweb'], { status: 'down' });
    t.equal((await gw.request('GET', '/healthz')).status, 200);
  });
});
