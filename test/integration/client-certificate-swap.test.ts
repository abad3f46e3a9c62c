// Regressions (issue 12 §1): a client certificate swapped after verification, by TLS 1.2 renegotiation or by
// another CA in tls.clientCa issuing a certificate with a subjectCn device's name, on both listeners.

import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parse, stringify } from 'yaml';
import { buildAssociateRq } from '../../src/dicom/associate-build.js';
import { PduType } from '../../src/dicom/constants.js';
import { buildCrl } from '../../src/tls/crl-build.js';
import { toPem } from '../../src/tls/der.js';
import { createCa, issueCertificate } from '../../src/tls/issue.js';
import { certsOk, issueClient, prepareCa } from '../helpers/certs.js';
import { startGateway } from '../helpers/gateway.js';
import { startOrthanc } from '../helpers/orthanc.js';
import { RawAssociation } from '../helpers/raw-association.js';
import { renegotiate, type CertFiles } from '../helpers/renegotiate.js';
import { waitFor } from '../helpers/tools.js';

const VERIFICATION = '1.2.840.10008.1.1';
const IMPLICIT_LE = '1.2.840.10008.1.2';
const DAY = 86_400_000;

t.test('renegotiating with another certificate never changes who the client is', async (t) => {
  const orthanc = await startOrthanc();
  t.teardown(() => orthanc.stop());
  const gw = await startGateway({ orthanc, dicom: true, prepare: prepareCa, config: { tls: { autoGenerate: false } } });
  t.teardown(() => gw.stop());

  const viewer = (await issueClient(gw.dir, 'view-1', 'viewer', ['VIEW1'])).files;
  // A more privileged device bound by its subject CN; the attacker holds none of its keys.
  const devicesFile = join(gw.dir, 'config/devices.yaml');
  const doc = parse(readFileSync(devicesFile, 'utf8')) as { devices: Record<string, unknown> };
  doc.devices['tech-1'] = { role: 'technologist', subjectCn: 'tech-1', aeTitles: ['TECH1'] };
  writeFileSync(devicesFile, stringify(doc));
  await gw.gateway.reload();

  // What the attacker swaps in: a self-signed certificate with tech-1's CN, and an expired one the gateway's CA once issued to tech-1.
  const write = (name: string, c: { certPem: string; keyPem: string }): CertFiles => {
    writeFileSync(join(gw.dir, `${name}.crt`), c.certPem);
    writeFileSync(join(gw.dir, `${name}.key`), c.keyPem);
    return { cert: join(gw.dir, `${name}.crt`), key: join(gw.dir, `${name}.key`) };
  };
  const ca = { certPem: gw.caPem, keyPem: readFileSync(join(gw.dir, 'certs/ca.key'), 'utf8') };
  const swaps: readonly [string, CertFiles][] = [
    ['a self-signed certificate', write('self-signed', createCa({ commonName: 'tech-1' }))],
    ['an expired certificate from the gateway CA', write('expired', issueCertificate(ca, { commonName: 'tech-1', usage: 'client', days: 1, now: Date.now() - 10 * DAY }))],
  ];
  const stow = Buffer.from('POST /dicom-web/studies HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/related; type="application/dicom"; boundary=x\r\nContent-Length: 0\r\n\r\n');
  const associateRq = buildAssociateRq({ calledAe: 'GATEWAY', callingAe: 'TECH1', maxPduLength: 16_384, presentationContexts: [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }] });

  for (const [what, swap] of swaps) {
    await t.test(`HTTPS: a viewer device renegotiates presenting ${what} with a technologist's CN, then stores`, async (t) => {
      const r = await renegotiate(gw.httpsPort, viewer, { swap, send: stow });
      t.equal(r.renegotiations, 0, 'the server does not renegotiate');
      t.equal(r.response, undefined, `no answer to the request (got ${r.response?.toString('latin1').split('\r\n')[0] ?? 'none'})`);
      t.ok(r.peerClosed, 'the server closed the connection');
      t.notOk(gw.auditEvents('authz.http').some((e) => e.principal === 'tech-1'), 'nothing was decided as tech-1');
    });

    await t.test(`DICOM: a viewer device renegotiates presenting ${what} with a technologist's CN, then associates`, async (t) => {
      const r = await renegotiate(gw.dicomPort, viewer, { swap, send: associateRq });
      t.equal(r.renegotiations, 0, 'the server does not renegotiate');
      t.not(r.response?.[0], PduType.AssociateAc, 'no A-ASSOCIATE-AC');
      t.ok(r.peerClosed, 'the server closed the connection');
      t.notOk(gw.auditEvents('dicom.association').some((e) => e.principal === 'tech-1'), 'no association as tech-1');
      // Closed because of the TLS error, not later by ARTIM for want of an A-ASSOCIATE-RQ.
      t.notOk(gw.auditEvents('dicom.association').some((e) => e.reason === 'artim-timeout'), 'not left to ARTIM');
      t.ok(gw.logs.some((l) => l['msg'] === 'client socket error; closing the connection' && /^ERR_SSL_/.test(l['err']?.code)), 'the TLS error is logged');
    });
  }

  await t.test('renegotiation is not unbounded: the first attempt ends the connection, on both ports', async (t) => {
    for (const [name, port] of [['HTTPS', gw.httpsPort], ['DICOM', gw.dicomPort]] as const) {
      const r = await renegotiate(port, viewer, { times: 10 });
      t.equal(r.renegotiations, 0, `${name}: no renegotiation completed`);
      t.ok(r.peerClosed, `${name}: the connection was ended`);
    }
  });

  await t.test('after a certificate hot reload both listeners still refuse to renegotiate', async (t) => {
    const before = gw.auditEvents('config.reload').length;
    await certsOk(gw.dir, ['issue-server', '--dns', 'localhost', '--ip', '127.0.0.1']);
    await gw.gateway.reload();
    await waitFor(() => gw.auditEvents('config.reload').slice(before).some((e) => e.reason === 'tls-material-replaced'), 10_000);
    for (const [name, port] of [['HTTPS', gw.httpsPort], ['DICOM', gw.dicomPort]] as const) {
      const r = await renegotiate(port, viewer, { swap: swaps[0]?.[1] });
      t.equal(r.renegotiations, 0, `${name}: no renegotiation with the new context`);
      t.ok(r.peerClosed, `${name}: the connection was ended`);
    }
  });

  await t.test('subjectCn matches only certificates the gateway CA issued, not another CA in tls.clientCa', async (t) => {
    // A second trusted CA (a hospital PKI, say) in the bundle, with its CRL (every CA needs one once a CRL is in force).
    const hospital = createCa({ commonName: 'hospital CA' });
    const now = Date.now();
    appendFileSync(join(gw.dir, 'certs/ca.crt'), hospital.certPem);
    appendFileSync(join(gw.dir, 'certs/ca.crl'), toPem(buildCrl({ caCertPem: hospital.certPem, caKeyPem: hospital.keyPem, entries: [], number: 1, thisUpdate: new Date(now - 60_000), nextUpdate: new Date(now + 30 * DAY) }), 'X509 CRL'));
    const before = gw.auditEvents('config.reload').length;
    await gw.gateway.reload();
    await waitFor(() => gw.auditEvents('config.reload').slice(before).some((e) => e.reason === 'tls-material-replaced' && e.changed.includes('client-ca')), 10_000);

    const foreign = write('foreign', issueCertificate(hospital, { commonName: 'tech-1', usage: 'client' }));
    const own = write('own', issueCertificate(ca, { commonName: 'tech-1', usage: 'client' }));
    const pem = (f: CertFiles) => ({ cert: readFileSync(f.cert, 'utf8'), key: readFileSync(f.key, 'utf8') });
    const stowAs = (f: CertFiles) => gw.request('POST', '/dicom-web/studies', { cert: pem(f), headers: { 'content-type': 'multipart/related; type="application/dicom"; boundary=x' }, body: '' });

    const refused = await stowAs(foreign);
    t.equal(refused.status, 403, 'HTTPS: a verified certificate from the other CA with the CN tech-1 is not tech-1');
    t.match(gw.auditEvents('authz.http').at(-1), { decision: 'deny', reason: 'ERR_CERT_REFUSED', detail: { refusal: 'certificate-unknown' } });
    const echo = { callingAe: 'TECH1', contexts: [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }] };
    await t.rejects(RawAssociation.open({ port: gw.dicomPort, ...pem(foreign), ca: gw.caPem, ...echo }), /not accepted: PDU type 3/, 'DICOM: A-ASSOCIATE-RJ');
    t.match(gw.auditEvents('dicom.association').at(-1), { decision: 'deny', reason: 'certificate-unknown', callingAe: 'TECH1' });
    t.notOk(gw.auditEvents().some((e) => e.principal === 'tech-1'), 'nothing was decided as tech-1');

    await stowAs(own);
    t.match(gw.auditEvents('authz.http').at(-1), { decision: 'allow', principal: 'tech-1', action: 'store' }, 'HTTPS: the gateway CA\'s certificate with that CN is tech-1');
    const a = await RawAssociation.open({ port: gw.dicomPort, ...pem(own), ca: gw.caPem, ...echo });
    t.equal(await a.echo(1, 1), 0, 'DICOM: and may echo as TECH1');
    a.destroy();
  });

  await t.test('without renegotiation the same TLS 1.2 client is the viewer device on both ports', async (t) => {
    const http = await renegotiate(gw.httpsPort, viewer, { times: 0, send: Buffer.from('GET /dicom-web/studies HTTP/1.1\r\nHost: localhost\r\n\r\n') });
    t.match(http.response?.toString('latin1'), /^HTTP\/1\.1 200/);
    t.match(gw.auditEvents('authz.http').at(-1), { principal: 'view-1', decision: 'allow', action: 'search' });
    const dicom = await renegotiate(gw.dicomPort, viewer, { times: 0, send: associateRq });
    t.equal(dicom.response?.[0], PduType.AssociateRj, 'the viewer device may not use TECH1');
    t.match(gw.auditEvents('dicom.association').at(-1), { decision: 'deny', reason: 'calling-ae-not-allowed', callingAe: 'TECH1' });
  });
});
