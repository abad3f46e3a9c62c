// CLI-issued certificates on both TLS listeners: dcmtk, curl and openssl s_client; revocation, expiry, AE binding, TLS profile.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { issueCertificate } from '../../src/tls/issue.js';
import { certsOk, issueClient, prepareCa, sClient, type IssuedClient } from '../helpers/certs.js';
import { startGateway } from '../helpers/gateway.js';
import { datasetAfterMeta, makeInstance, writeInstance } from '../helpers/instances.js';
import { getInstanceFile, startOrthanc } from '../helpers/orthanc.js';
import { RawAssociation } from '../helpers/raw-association.js';
import { run, waitFor } from '../helpers/tools.js';

const VERIFICATION = '1.2.840.10008.1.1';
const IMPLICIT_LE = '1.2.840.10008.1.2';

t.test('certificates from "pacs-gateway certs" on the DICOM and HTTPS listeners', async (t) => {
  const orthanc = await startOrthanc();
  t.teardown(() => orthanc.stop());
  const gw = await startGateway({
    orthanc, dicom: true, prepare: prepareCa,
    config: {
      tls: { autoGenerate: false },
      roles: { modality: ['echo', 'store', 'search'], viewer: ['search', 'retrieve'], radiologist: ['echo', 'search', 'retrieve', 'move'] },
    },
  });
  t.teardown(() => gw.stop());
  const ca = join(gw.dir, 'certs/ca.crt');
  const dicom = ['127.0.0.1', String(gw.dicomPort)];
  const tls = (c: IssuedClient): string[] => ['+tls', c.files.key, c.files.cert, '+cf', ca];
  const echo = (c: IssuedClient, ae: string, extra: string[] = []) => run('echoscu', [...tls(c), ...extra, '-aet', ae, '-aec', 'GATEWAY', ...dicom], { timeoutMs: 20_000 });
  const curl = (c: IssuedClient | undefined, path: string, extra: string[] = []) => run('curl', [
    '-s', '-o', '/dev/null', '-w', '%{http_code}', '--resolve', `localhost:${gw.httpsPort}:127.0.0.1`, '--cacert', ca,
    ...(c === undefined ? [] : ['--cert', c.files.cert, '--key', c.files.key]), ...extra, `https://localhost:${gw.httpsPort}${path}`,
  ], { timeoutMs: 20_000 });

  const ct = await issueClient(gw.dir, 'ct-1', 'modality', ['CT1']);
  const mr = await issueClient(gw.dir, 'mr-1', 'modality', ['MR1']);
  const reader = await issueClient(gw.dir, 'reading-ws', 'viewer', []);
  // No SIGHUP: the gateway sees the devices file change by itself.
  // Wait until the registry in force has the last device written (reading-ws) as well.
  await waitFor(async () => (await echo(mr, 'MR1')).code === 0 && (await curl(reader, '/dicom-web/studies')).stdout === '200', 15_000);

  await t.test('dcmtk with a CLI-issued device certificate: echoscu and storescu, BCP 195 profiles +py and +px', async (t) => {
    const py = await echo(ct, 'CT1', ['+py']);
    t.equal(py.code, 0, `echoscu +py: ${py.stderr}`);
    const inst = makeInstance({ pixelBytes: 64 * 1024 });
    const store = await run('storescu', [...tls(ct), '+px', '-aet', 'CT1', '-aec', 'GATEWAY', ...dicom, await writeInstance(gw.dir, inst)]);
    t.equal(store.code, 0, `storescu +px: ${store.stderr}`);
    const stored = await getInstanceFile(orthanc, inst.sopInstanceUid);
    t.ok(stored !== undefined && datasetAfterMeta(stored).equals(datasetAfterMeta(inst.buffer)), 'stored byte for byte');
    const allowed = gw.auditEvents('dicom.association').filter((e) => e.decision === 'allow' && e.principal === 'ct-1');
    t.match(allowed.map((e) => e.tlsVersion), ['TLSv1.3', 'TLSv1.3'], 'both profiles negotiate TLS 1.3 with the gateway (TLS 1.2 is checked with s_client below)');
    const retired = await echo(ct, 'CT1', ['+pa']);
    t.not(retired.code, 0, 'the retired AES profile (TLS_RSA_WITH_AES_128_CBC_SHA, no AEAD, no forward secrecy) is refused');
  });

  await t.test('a device certificate with a calling AE title not registered for it is refused', async (t) => {
    const r = await echo(ct, 'MR1');
    t.not(r.code, 0);
    t.match(r.stdout + r.stderr, /Association Rejected[\s\S]*Calling AE Title Not Recognized/i);
    t.match(gw.auditEvents('dicom.association').at(-1), { decision: 'deny', reason: 'calling-ae-not-allowed', callingAe: 'MR1', certFingerprint: ct.fingerprint });
    const none = await echo(reader, 'READER');
    t.not(none.code, 0, 'a device with no AE titles opens no associations');
  });

  await t.test('HTTPS: curl with a device certificate (mTLS) on DICOMweb', async (t) => {
    const q = await curl(reader, '/dicom-web/studies');
    t.equal(q.stdout, '200', q.stderr);
    t.match(gw.auditEvents('authz.http').at(-1), { decision: 'allow', principal: 'reading-ws', method: 'mtls', action: 'search' });
    t.equal((await curl(undefined, '/dicom-web/studies')).stdout, '401', 'no certificate, no session: 401');
    t.equal((await curl(ct, '/dicom-web/studies/1.2.3/series')).stdout, '200', 'modality may search');
    t.equal((await curl(ct, '/dicom-web/studies/1.2.3/metadata')).stdout, '403', 'but not retrieve');
  });

  await t.test('TLS profile on both listeners: 1.2 and 1.3 with AEAD accepted; TLS 1.1 and CBC suites refused', async (t) => {
    for (const [name, port] of [['DICOM', gw.dicomPort], ['HTTPS', gw.httpsPort]] as const) {
      const v13 = await sClient(port, ['-tls1_3', '-CAfile', ca]);
      t.match(v13, { connected: true, protocol: 'TLSv1.3' }, `${name}: TLS 1.3`);
      const v12 = await sClient(port, ['-tls1_2', '-CAfile', ca]);
      t.match(v12, { connected: true, protocol: 'TLSv1.2', cipher: /GCM|CHACHA20/ }, `${name}: TLS 1.2 with an AEAD suite`);
      // OpenSSL 3 itself refuses TLS 1.1 at security level 1; level 0 makes the client offer it, so the server decides.
      const v11 = await sClient(port, ['-tls1_1', '-cipher', 'DEFAULT:@SECLEVEL=0']);
      t.equal(v11.connected, false, `${name}: TLS 1.1 refused`);
      t.match(v11.output, /alert protocol version|unsupported protocol/, `${name}: by the server (protocol_version alert)`);
      for (const cipher of ['AES128-SHA256', 'ECDHE-RSA-AES128-SHA256', 'ECDHE-RSA-AES256-SHA']) {
        const cbc = await sClient(port, ['-tls1_2', '-cipher', cipher]);
        t.equal(cbc.connected, false, `${name}: ${cipher} (not AEAD) refused`);
        t.match(cbc.output, /handshake failure/, `${name}: ${cipher}: handshake_failure alert from the server`);
      }
      const mutual = await sClient(port, ['-tls1_3', '-CAfile', ca, '-cert', ct.files.cert, '-key', ct.files.key]);
      t.equal(mutual.connected, true, `${name}: openssl s_client with the device certificate`);
    }
    const curl12 = await curl(reader, '/dicom-web/studies', ['--tlsv1.2', '--tls-max', '1.2']);
    t.equal(curl12.stdout, '200', 'curl over TLS 1.2');
  });

  await t.test('expired and foreign certificates are refused on both listeners', async (t) => {
    const caPem = readFileSync(ca, 'utf8');
    const caKey = readFileSync(join(gw.dir, 'certs/ca.key'), 'utf8');
    const old = issueCertificate({ certPem: caPem, keyPem: caKey }, { commonName: 'ct-1', usage: 'client', days: 1, now: Date.now() - 10 * 86_400_000 });
    const expired: IssuedClient = { ...ct, files: { ...ct.files, cert: join(gw.dir, 'expired.crt'), key: join(gw.dir, 'expired.key') } };
    writeFileSync(expired.files.cert, old.certPem);
    writeFileSync(expired.files.key, old.keyPem);
    const r = await echo(expired, 'CT1');
    t.not(r.code, 0);
    t.match(r.stdout + r.stderr, /Association Rejected/);
    t.match(gw.auditEvents('dicom.association').at(-1), { decision: 'deny', reason: 'certificate-not-verified', detail: 'CERT_HAS_EXPIRED' });
    t.equal((await curl(expired, '/dicom-web/studies')).stdout, '403');
    t.match(gw.auditEvents('authz.http').at(-1), { decision: 'deny', reason: 'ERR_CERT_REFUSED', detail: { certificateError: 'CERT_HAS_EXPIRED' } });
    t.ok(gw.logs.some((l) => l['alert']?.name === 'cert.expired-presented' && l['alert'].channel === 'https'), 'HTTPS raises an alert for an expired certificate');
  });

  await t.test('revoke: the device is refused on its next association and request, the others keep working', async (t) => {
    const held = await RawAssociation.open({
      port: gw.dicomPort, key: readFileSync(mr.files.key, 'utf8'), cert: readFileSync(mr.files.cert, 'utf8'), ca: readFileSync(ca, 'utf8'),
      callingAe: 'MR1', contexts: [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }],
    });
    t.equal(await held.echo(1, 1), 0, 'an association mr-1 opened before the revocation');
    const out = await certsOk(gw.dir, ['revoke', 'mr-1', '--reason', 'key-compromise']);
    t.match(out, /Device mr-1 disabled/);
    await waitFor(() => gw.auditEvents('config.reload').some((e) => e.reason === 'tls-material-replaced' && e.changed.includes('crl')), 10_000);
    const refused = await echo(mr, 'MR1');
    t.not(refused.code, 0, 'mr-1 refused');
    t.match(refused.stdout + refused.stderr, /Association Rejected/);
    t.match(gw.auditEvents('dicom.association').at(-1), { decision: 'deny', reason: 'certificate-not-verified', detail: 'CERT_REVOKED' });
    t.ok(gw.logs.some((l) => l['alert']?.name === 'cert.revoked-presented' && l['alert'].certFingerprint === mr.fingerprint), 'DICOM: alert cert.revoked-presented');
    t.equal((await echo(ct, 'CT1')).code, 0, 'ct-1 keeps working');

    const rev = await issueClient(gw.dir, 'ws-2', 'viewer', []);
    await waitFor(async () => (await curl(rev, '/dicom-web/studies')).stdout === '200', 10_000);
    await certsOk(gw.dir, ['revoke', 'ws-2']);
    // First the registry refuses it (disabled), then, once the new CRL is loaded, the TLS layer (CERT_REVOKED): keep asking until the latter.
    await waitFor(async () => (await curl(rev, '/dicom-web/studies')).stdout === '403'
      && gw.auditEvents('authz.http').at(-1)?.detail?.certificateError === 'CERT_REVOKED', 10_000);
    t.ok(gw.logs.some((l) => l['alert']?.name === 'cert.revoked-presented' && l['alert'].channel === 'https' && l['alert'].subject === 'ws-2'), 'HTTPS: alert cert.revoked-presented');
    t.equal((await curl(reader, '/dicom-web/studies')).stdout, '200', 'reading-ws keeps working');

    // The association mr-1 held open is ended by the guard's periodic re-check (10 s).
    await waitFor(async () => {
      try {
        await held.next(500);
        return false;
      } catch (e) {
        return /closed/.test((e as Error).message);
      }
    }, 20_000, 200);
    t.pass('the open association of the revoked device was ended');
    held.destroy();
  });
});
