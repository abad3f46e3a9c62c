// `pacs-gateway scan` against real services on loopback: Orthanc directly (exposed), the same Orthanc
// behind the gateway in a /29 with one live host (protected), dcmtk storescp plain / TLS / TLS with
// a required client certificate, a closed port and a port that never answers.

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { makeInstance } from '../helpers/instances.js';
import { countInstances, startOrthanc, uploadInstance } from '../helpers/orthanc.js';
import { freePort } from '../helpers/ports.js';
import { pgw, resultFor, sarifErrors, silentPort, type ScanJson } from '../helpers/scan.js';
import { run, startProcess, waitForPort } from '../helpers/tools.js';

const VERSION = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

// One Orthanc for the first two tests: scanned directly, then behind the gateway.
const orthanc = await startOrthanc();
t.teardown(() => orthanc.stop());

t.test('Orthanc directly: its DICOM port and REST API answer without authentication (exposed, exit 3)', async (t) => {
  const instance = makeInstance({ patientName: 'Exposure^Secret', patientId: 'PID-SCAN-4711' });
  await uploadInstance(orthanc, instance.buffer);
  const dir = mkdtempSync(join(tmpdir(), 'pgw-scan-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const sarifFile = join(dir, 'scan.sarif');

  const r = await pgw(['scan', '127.0.0.1', '--ports', `${orthanc.dicomPort},${orthanc.httpPort}`, '--deep', '--json', '--sarif', sarifFile, '--timeout', '5000']);
  t.equal(r.code, 3, `exit 3 when something is exposed\n${r.stderr}`);
  t.match(r.stderr, /Scan only networks you are responsible for/);
  const report = JSON.parse(r.stdout) as ScanJson;
  t.same(Object.keys(report), ['scannedAt', 'results', 'summary'], 'the JSON shape of the issue');
  t.ok(!Number.isNaN(Date.parse(report.scannedAt)));
  for (const res of report.results) t.same(Object.keys(res), ['host', 'port', 'service', 'verdict', 'evidence']);
  t.same(report.summary, { exposed: 2, protected: 0, closed: 0, unknown: 0 });

  const dicom = resultFor(report, '127.0.0.1', orthanc.dicomPort);
  t.equal(dicom.service, 'dicom');
  t.equal(dicom.verdict, 'exposed');
  t.match(dicom.evidence.join('\n'), /A-ASSOCIATE-RQ without credentials \(calling AE PGW-SCAN, called AE ANY-SCP\) accepted over plain TCP/);
  t.match(dicom.evidence.join('\n'), /C-ECHO without credentials: 0x0000 success/);
  t.match(dicom.evidence.join('\n'), /C-FIND at STUDY level without credentials: 1 match \(counted only; no data kept\)/);
  const http = resultFor(report, '127.0.0.1', orthanc.httpPort);
  t.equal(http.service, 'http');
  t.equal(http.verdict, 'exposed');
  t.match(http.evidence.join('\n'), /GET \/system → 200: Orthanc REST API answered without authentication \(Orthanc 1\.\d+\.\d+, AE ORTHANC\)/);
  t.match(http.evidence.join('\n'), /GET \/app\/explorer\.html → 200: Orthanc Explorer/);
  t.match(http.evidence.join('\n'), /GET \/dicom-web\/studies\?limit=1 → 200: DICOMweb QIDO-RS .* \(1 study returned; counted only\)/);

  const sarifText = readFileSync(sarifFile, 'utf8');
  for (const secret of [instance.patientName, instance.patientId, instance.studyUid, instance.sopInstanceUid]) {
    t.notOk(r.stdout.includes(secret), `no patient data in the JSON (${secret})`);
    t.notOk(sarifText.includes(secret), `no patient data in the SARIF (${secret})`);
  }
  const sarif = JSON.parse(sarifText);
  t.same(sarifErrors(sarif), [], 'the SARIF log is valid against the SARIF 2.1.0 schema');
  t.equal(sarif.version, '2.1.0');
  t.same(sarif.runs[0].results.map((x: any) => [x.ruleId, x.level, x.locations[0].physicalLocation.artifactLocation.uri]).sort(), [
    ['pgw-scan/exposed', 'error', `dicom://127.0.0.1:${orthanc.dicomPort}`],
    ['pgw-scan/exposed', 'error', `http://127.0.0.1:${orthanc.httpPort}/`],
  ]);

  // What Orthanc saw: the scanner named itself, only asked (C-ECHO, C-FIND, GET), stored nothing.
  const commands = await orthanc.dicomCommands();
  t.same(commands.map((c) => [c.type, c.callingAet]), [['Echo', 'PGW-SCAN'], ['Find', 'PGW-SCAN']]);
  const requests = await orthanc.httpRequestDetails();
  t.ok(requests.length > 0);
  for (const q of requests) {
    t.equal(q.method, 'GET', `${q.uri} is a GET`);
    t.match(q.headers['user-agent'], new RegExp(`^pacs-gateway-scan/${VERSION.replace(/\./g, '\\.')} `), 'the User-Agent names the scanner and its version');
    t.equal(q.headers['authorization'], undefined, 'no credentials sent');
  }
  t.equal(await countInstances(orthanc), 1, 'nothing stored');
});

t.test('the same Orthanc behind the gateway, in 127.0.0.0/29 with one live host (protected, exit 0)', async (t) => {
  const gw = await startGateway({
    orthanc, dicom: true,
    config: { listen: { https: { host: '127.0.0.3', port: 0 }, dicom: { host: '127.0.0.3', port: 0 } } },
  });
  t.teardown(() => gw.stop());
  const before = await orthanc.activity();

  const r = await pgw(['scan', '127.0.0.0/29', '--ports', `${gw.httpsPort},${gw.dicomPort}`, '--json', '--timeout', '5000', '--aet', 'GATEWAY']);
  t.equal(r.code, 0, `exit 0 when nothing is exposed\n${r.stderr}\n${r.stdout}`);
  t.match(r.stderr, /6 addresses × 2 ports/, '/29 without its network and broadcast addresses');
  const report = JSON.parse(r.stdout) as ScanJson;
  t.same(report.summary, { exposed: 0, protected: 2, closed: 10, unknown: 0 });
  t.same([...new Set(report.results.map((x) => x.host))], ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6']);
  for (const x of report.results.filter((x) => x.host !== '127.0.0.3')) {
    t.equal(x.verdict, 'closed', `${x.host}:${x.port} closed`);
    t.same(x.evidence, ['connection refused: nothing listens on this port']);
  }

  const https = resultFor(report, '127.0.0.3', gw.httpsPort);
  t.equal(https.service, 'https');
  t.equal(https.verdict, 'protected');
  const he = https.evidence.join('\n');
  t.match(he, /pacs-gateway: every PACS path was refused without authentication/);
  t.match(he, /GET \/dicom-web\/studies\?limit=1 → 401: asks for authentication \(WWW-Authenticate: Bearer realm="pacs-gateway"/);
  t.match(he, /GET \/system → 404 ERR_ROUTE_REFUSED/, "the PACS's REST API is not forwarded");
  t.match(he, /TLS versions accepted: TLS 1\.2 \(TLS_\w+\), TLS 1\.3 \(TLS_\w+\); refused: TLS 1\.0, TLS 1\.1/);

  const dicom = resultFor(report, '127.0.0.3', gw.dicomPort);
  t.equal(dicom.service, 'dicom-tls');
  t.equal(dicom.verdict, 'protected');
  const de = dicom.evidence.join('\n');
  t.match(de, /called AE GATEWAY\) over TLS without a client certificate: A-ASSOCIATE-RJ 1\/1\/1 \(permanent, service-user, no reason given\)/);
  t.match(de, /no client certificate was needed for the TLS handshake: the port admits only peers that authenticate \(DICOM User Identity, or a client certificate\)/);
  t.match(de, /TLS versions accepted: TLS 1\.2 \(TLS_\w+\), TLS 1\.3 \(TLS_\w+\); refused: TLS 1\.0, TLS 1\.1/);

  // Fail closed: none of the scan's unauthenticated probes reached the PACS.
  t.same(await orthanc.activity(), before, 'nothing reached Orthanc');
  const refused = gw.auditEvents('dicom.association').filter((e) => e.callingAe === 'PGW-SCAN');
  t.ok(refused.length >= 1 && refused.every((e) => e.decision === 'deny'), 'the gateway audited and refused the scanner');
});

t.test('dcmtk storescp: plain and TLS without a client certificate are exposed; TLS that requires one is protected', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-scan-scp-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // A self-signed server certificate from openssl (fast; the scanner verifies nothing), which is
  // also the CA storescp checks client certificates against.
  const key = join(dir, 'server.key');
  const cert = join(dir, 'server.crt');
  const made = await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { timeoutMs: 30_000 });
  t.equal(made.code, 0, made.stderr);
  const ca = cert;
  const scp = async (name: string, tls: string[]): Promise<{ port: number; out: string }> => {
    const port = await freePort();
    const out = join(dir, name);
    mkdirSync(out);
    const p = await startProcess('storescp', ['-aet', 'STORESCP', '-od', out, ...tls, String(port)]);
    t.teardown(() => p.stop());
    await waitForPort(port);
    return { port, out };
  };
  const plain = await scp('plain', []);
  const open = await scp('tls-open', ['+tls', key, cert, '+cf', ca, '-ic']);
  const mtls = await scp('tls-mtls', ['+tls', key, cert, '+cf', ca]);

  const r = await pgw(['scan', '127.0.0.1', '--ports', `${plain.port},${open.port},${mtls.port}`, '--json', '--timeout', '5000']);
  t.equal(r.code, 3, r.stderr);
  const report = JSON.parse(r.stdout) as ScanJson;

  const p = resultFor(report, '127.0.0.1', plain.port);
  t.match(p, { service: 'dicom', verdict: 'exposed' });
  t.match(p.evidence.join('\n'), /accepted over plain TCP[\s\S]*C-ECHO without credentials: 0x0000 success/);

  const o = resultFor(report, '127.0.0.1', open.port);
  t.match(o, { service: 'dicom-tls', verdict: 'exposed' });
  t.match(o.evidence.join('\n'), /accepted over TLS without a client certificate[\s\S]*C-ECHO without credentials: 0x0000 success/);
  t.match(o.evidence.join('\n'), /TLS versions accepted: .*TLS 1\.3 \(TLS_\w+\)/);

  const m = resultFor(report, '127.0.0.1', mtls.port);
  t.match(m, { service: 'dicom-tls', verdict: 'protected' });
  t.match(m.evidence.join('\n'), /a client certificate is required/);
  t.match(m.evidence.join('\n'), /TLS versions accepted: .*TLS 1\.3/);

  for (const s of [plain, open, mtls]) t.same(readdirSync(s.out), [], 'storescp received nothing to store');
});

t.test('a closed port and a port that accepts but never answers (timeout)', async (t) => {
  const slow = await silentPort();
  t.teardown(() => slow.close());
  const closed = await freePort();
  const r = await pgw(['scan', '127.0.0.1', '--ports', `${closed},${slow.port}`, '--json', '--timeout', '300']);
  t.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as ScanJson;
  t.same(report.summary, { exposed: 0, protected: 0, closed: 1, unknown: 1 });
  t.same(resultFor(report, '127.0.0.1', closed), { host: '127.0.0.1', port: closed, service: 'dicom', verdict: 'closed', evidence: ['connection refused: nothing listens on this port'] });
  const s = resultFor(report, '127.0.0.1', slow.port);
  t.equal(s.verdict, 'unknown');
  t.match(s.evidence.join('\n'), /accepts connections, but answered no probe/);
  t.match(s.evidence.join('\n'), /no answer to a TLS ClientHello within 300 ms/);
  t.match(s.evidence.join('\n'), /A-ASSOCIATE-RQ: no answer within 300 ms/);
  t.match(s.evidence.join('\n'), /HTTP request: no HTTP answer within 300 ms/);
});

t.test('an unwritable --sarif file is refused before anything is scanned (a long scan never ends without its log)', async (t) => {
  const slow = await silentPort();
  t.teardown(() => slow.close());
  const r = await pgw(['scan', '127.0.0.1', '--ports', String(slow.port), '--sarif', '/nonexistent-pgw-dir/scan.sarif', '--timeout', '300']);
  t.equal(r.code, 1, r.stderr);
  t.match(r.stderr, /error: cannot write the SARIF log to \/nonexistent-pgw-dir\/scan\.sarif: ENOENT/);
  t.notMatch(r.stderr, /Scan only networks you are responsible for/, 'no scan started');
});
