// Old PACSs that speak only TLS 1.0/1.1 (node's own TLS server at OpenSSL security level 0, as such a
// peer would): the version probe finds those versions for real, and the DICOM and HTTP probes run
// inside them, so an old PACS that admits anyone is `exposed`, not `unknown`.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';
import t from 'tap';
import { listenOnLoopback, openEchoScp, probeLoopback } from '../helpers/scan.js';
import { run } from '../helpers/tools.js';

const dir = mkdtempSync(join(tmpdir(), 'pgw-scan-tls-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const made = await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
  '-days', '1', '-subj', '/CN=legacy-pacs'], { timeoutMs: 30_000 });
if (made.code !== 0) throw new Error(made.stderr);
const cert = readFileSync(join(dir, 'cert.pem'));
const LEGACY: TlsOptions = {
  key: readFileSync(join(dir, 'key.pem')), cert,
  minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0',
};

const probe = (port: number) => probeLoopback(port);

t.test('a DICOM SCP on TLS 1.0/1.1 only, without client certificates: exposed, and the old versions named', async (t) => {
  const port = await listenOnLoopback(t, createTlsServer(LEGACY, (s) => openEchoScp(s)));
  const r = await probe(port);
  t.equal(r.service, 'dicom-tls');
  t.equal(r.verdict, 'exposed');
  const e = r.evidence.join('\n');
  t.match(e, /accepted over TLS without a client certificate\nC-ECHO without credentials: 0x0000 success/);
  t.match(e, /TLS versions accepted: TLS 1\.0 \(TLS_\w+\), TLS 1\.1 \(TLS_\w+\); refused: TLS 1\.2, TLS 1\.3/);
  t.match(e, /accepts TLS 1\.0 and TLS 1\.1, deprecated by RFC 8996/);
});

t.test('TLS 1.0/1.1 only, with a client certificate required: protected, versions still found', async (t) => {
  const port = await listenOnLoopback(t, createTlsServer({ ...LEGACY, requestCert: true, rejectUnauthorized: true, ca: [cert] }, (s) => openEchoScp(s)));
  const r = await probe(port);
  t.equal(r.service, 'dicom-tls');
  t.equal(r.verdict, 'protected');
  const e = r.evidence.join('\n');
  t.match(e, /a client certificate is required/);
  t.match(e, /TLS versions accepted: TLS 1\.0.*TLS 1\.1.*; refused: TLS 1\.2, TLS 1\.3/);
  t.match(e, /deprecated by RFC 8996/);
});

t.test('an Orthanc-like REST API on TLS 1.0/1.1 only: exposed', async (t) => {
  const port = await listenOnLoopback(t, createHttpsServer(LEGACY, (req, res) => {
    if (req.url !== '/system') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"DicomAet":"LEGACY","Version":"1.5.8"}');
  }));
  const r = await probe(port);
  t.equal(r.service, 'https');
  t.equal(r.verdict, 'exposed');
  t.match(r.evidence.join('\n'), /GET \/system → 200: Orthanc REST API answered without authentication \(Orthanc 1\.5\.8, AE LEGACY\)/);
  t.match(r.evidence.join('\n'), /accepts TLS 1\.0 and TLS 1\.1, deprecated by RFC 8996/);
});
