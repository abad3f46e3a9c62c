// HTTP/2 with a device certificate: the TLS socket's client certificate authenticates DICOMweb
// streams as it does HTTP/1.1 requests (curl --http2 and node's http2 client); a revoked one is refused.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { certsOk, issueClient, prepareCa, type IssuedClient } from '../helpers/certs.js';
import { startGateway } from '../helpers/gateway.js';
import { h2Session } from '../helpers/h2.js';
import { startOrthanc } from '../helpers/orthanc.js';
import { run, waitFor } from '../helpers/tools.js';

t.test('a device certificate over HTTP/2', async (t) => {
  const orthanc = await startOrthanc();
  t.teardown(() => orthanc.stop());
  const gw = await startGateway({ orthanc, prepare: prepareCa, config: { tls: { autoGenerate: false } } });
  t.teardown(() => gw.stop());
  const ca = join(gw.dir, 'certs/ca.crt');
  const curl = (c: IssuedClient | undefined, path: string) => run('curl', [
    '-s', '--http2', '-o', '/dev/null', '-w', '%{http_version} %{http_code}', '--resolve', `localhost:${gw.httpsPort}:127.0.0.1`, '--cacert', ca,
    ...(c === undefined ? [] : ['--cert', c.files.cert, '--key', c.files.key]), `https://localhost:${gw.httpsPort}${path}`,
  ], { timeoutMs: 20_000 });
  const reader = await issueClient(gw.dir, 'reading-ws', 'viewer', []);
  await waitFor(async () => (await curl(reader, '/dicom-web/studies')).stdout === '2 200', 15_000);

  const pem = (c: IssuedClient) => ({ cert: readFileSync(c.files.cert, 'utf8'), key: readFileSync(c.files.key, 'utf8') });
  const h2 = await h2Session(gw.httpsPort, readFileSync(ca, 'utf8'), pem(reader));
  t.teardown(() => h2.close());
  const q = await h2.request('GET', '/dicom-web/studies');
  t.equal(q.status, 200, 'node http2 client with the device certificate');
  const allowed = gw.auditEvents('authz.http').at(-1);
  t.match(allowed, { decision: 'allow', principal: 'reading-ws', method: 'mtls' });
  t.equal((await curl(undefined, '/dicom-web/studies')).stdout, '2 401', 'no certificate, no credentials: 401 over h2');

  const rev = await issueClient(gw.dir, 'ws-2', 'viewer', []);
  await waitFor(async () => (await curl(rev, '/dicom-web/studies')).stdout === '2 200', 10_000);
  await certsOk(gw.dir, ['revoke', 'ws-2']);
  await waitFor(async () => (await curl(rev, '/dicom-web/studies')).stdout === '2 403', 10_000);
  const before = await orthanc.httpRequests();
  const revoked = await h2Session(gw.httpsPort, readFileSync(ca, 'utf8'), pem(rev));
  t.teardown(() => revoked.close());
  t.equal((await revoked.request('GET', '/dicom-web/studies')).status, 403, 'revoked: 403 on a new h2 connection');
  t.same(await orthanc.httpRequests(), before, 'the revoked device reached nothing');
  t.equal((await curl(reader, '/dicom-web/studies')).stdout, '2 200', 'reading-ws keeps working');
});
