// Orthanc as the gateway's DICOM TLS client: a second Orthanc (a "remote site") with its own device
// certificate from the gateway's CA sends a study to the gateway's TLS port and queries it, so the
// guard is tested against a TLS SCU that is not dcmtk's command-line tools.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { issueCertificate } from '../../src/tls/issue.js';
import { datasetAfterMeta, makeInstance } from '../helpers/instances.js';
import { getInstanceFile, orthancFetch, startOrthanc, uploadInstance } from '../helpers/orthanc.js';
import { startDicomEnv } from '../dicom/helpers/dicom-env.js';

t.test('a remote Orthanc with DICOM TLS as the SCU of the gateway', async (t) => {
  const env = await startDicomEnv({
    roles: { 'remote-site': ['echo', 'store', 'search'], 'remote-reader': ['echo', 'search'] },
  });
  t.teardown(() => env.stop());
  const { orthanc: pacs, gw } = env;
  const site = await env.addDevice('remote-orthanc', { role: 'remote-site', aeTitles: ['REMOTE'] });
  const remote = await startOrthanc({
    aeTitle: 'REMOTE',
    modalities: { gateway: { AET: 'GATEWAY', Host: '127.0.0.1', Port: env.port, UseDicomTls: true } },
    config: {
      // Orthanc's own DICOM TLS identity (SCP and SCU): the device certificate the gateway's CA issued,
      // and the gateway's CA as the only trust anchor for the gateway's server certificate.
      DicomTlsEnabled: true,
      DicomTlsCertificate: site.certFile,
      DicomTlsPrivateKey: site.keyFile,
      DicomTlsTrustedCertificates: env.caFile,
      DicomTlsRemoteCertificateRequired: true,
    },
  });
  t.teardown(() => remote.stop());

  const inst = makeInstance({ pixelBytes: 32 * 1024 });
  const uploaded = await uploadInstance(remote, inst.buffer);

  await t.test('C-ECHO and C-STORE through the gateway land in the PACS', async (t) => {
    const echo = await orthancFetch(remote, '/modalities/gateway/echo', { method: 'POST', body: '{}' });
    t.equal(echo.status, 200, `echo: ${await echo.clone().text()}`);
    const store = await orthancFetch(remote, '/modalities/gateway/store', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ Resources: [uploaded.ParentStudy], Synchronous: true }),
    });
    const text = await store.text();
    t.equal(store.status, 200, `store: ${text}`);
    t.match(JSON.parse(text), { FailedInstancesCount: 0, InstancesCount: 1 });
    const stored = await getInstanceFile(pacs, inst.sopInstanceUid);
    t.ok(stored !== undefined && datasetAfterMeta(stored).equals(datasetAfterMeta(inst.buffer)), 'in the PACS, data set byte-identical after group 0002');
    const cmds = await pacs.dicomCommands();
    t.same(cmds.map((c) => `${c.type}:${c.callingAet}`), ['Echo:REMOTE', 'Store:REMOTE'], 'the PACS saw the remote site\'s requests, via the gateway');
    const assoc = gw.auditEvents('dicom.association').filter((e) => e.decision === 'allow');
    t.match(assoc.at(-1), { principal: 'remote-orthanc', kind: 'device', method: 'mtls', callingAe: 'REMOTE', certFingerprint: site.fingerprint, tlsVersion: /^TLSv1\.[23]$/ });
  });

  await t.test('C-FIND through the gateway answers from the PACS', async (t) => {
    const query = await orthancFetch(remote, '/modalities/gateway/query', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ Level: 'Study', Query: { StudyInstanceUID: inst.studyUid, PatientID: '' } }),
    });
    const q = await query.json() as { ID: string };
    t.equal(query.status, 200);
    const answers = await (await orthancFetch(remote, `/queries/${q.ID}/answers?expand&simplify`)).json() as Record<string, string>[];
    t.equal(answers.length, 1, 'one study found');
    t.equal(answers[0]?.['StudyInstanceUID'], inst.studyUid);
    t.equal(answers[0]?.['PatientID'], inst.patientId);
    t.match(gw.auditEvents('dicom.command').at(-1), { command: 'C-FIND-RQ', decision: 'allow', principal: 'remote-orthanc' });
  });

  await t.test('a remote Orthanc with a gateway-CA certificate that no device holds: refused, the PACS sees nothing', async (t) => {
    const issued = issueCertificate({ certPem: env.caPem, keyPem: readFileSync(join(gw.dir, 'certs/ca.key'), 'utf8') }, { commonName: 'stranger', usage: 'client' });
    writeFileSync(join(env.dir, 'stranger.crt'), issued.certPem);
    writeFileSync(join(env.dir, 'stranger.key'), issued.keyPem, { mode: 0o600 });
    const stranger = await startOrthanc({
      aeTitle: 'REMOTE',
      modalities: { gateway: { AET: 'GATEWAY', Host: '127.0.0.1', Port: env.port, UseDicomTls: true } },
      config: { DicomTlsEnabled: true, DicomTlsCertificate: join(env.dir, 'stranger.crt'), DicomTlsPrivateKey: join(env.dir, 'stranger.key'), DicomTlsTrustedCertificates: env.caFile },
    });
    t.teardown(() => stranger.stop());
    const other = makeInstance();
    const up = await uploadInstance(stranger, other.buffer);
    const before = await pacs.activity();
    const store = await orthancFetch(stranger, '/modalities/gateway/store', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ Resources: [up.ID], Synchronous: true }),
    });
    await store.arrayBuffer();
    t.not(store.status, 200, 'Orthanc reports the failure');
    t.equal(await getInstanceFile(pacs, other.sopInstanceUid), undefined, 'not in the PACS');
    t.same(await pacs.activity(), before, 'the PACS saw no connection');
    t.match(gw.auditEvents('dicom.association').at(-1), { decision: 'deny', reason: 'certificate-unknown', callingAe: 'REMOTE', certFingerprint: issued.fingerprint256 });
  });
});
