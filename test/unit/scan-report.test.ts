// Scan verdict rules and outputs: DICOM refusals and HTTP answers to verdicts, the JSON shape,
// the table, and SARIF valid against the SARIF 2.1.0 schema for every verdict.

import t from 'tap';
import { RejectReason, RejectResult, RejectSource } from '../../src/dicom/constants.js';
import { Refusal } from '../../src/dicom/reject.js';
import type { DicomAttempt } from '../../src/scan/dicom-probe.js';
import { dicomVerdict } from '../../src/scan/dicom-verdict.js';
import type { HttpProbeResult } from '../../src/scan/http-probe.js';
import { httpVerdict } from '../../src/scan/http-verdict.js';
import { formatJson } from '../../src/scan/report-json.js';
import { toSarif } from '../../src/scan/report-sarif.js';
import { formatTable } from '../../src/scan/report-table.js';
import { describeVersions } from '../../src/scan/tls-versions.js';
import { summarize, type ScanReport, type ServiceResult } from '../../src/scan/types.js';
import { sarifErrors } from '../helpers/scan.js';

const rejected = (calledAe: string, rejection: { result: number; source: number; reason: number }): DicomAttempt => ({ calledAe, outcome: { kind: 'rejected', rejection } });

t.test('DICOM: what each answer to an unauthenticated A-ASSOCIATE-RQ means', async (t) => {
  const accepted = dicomVerdict([
    rejected('ANY-SCP', { result: RejectResult.Permanent, source: RejectSource.ServiceUser, reason: RejectReason.UserCalledAeNotRecognized }),
    { calledAe: 'ORTHANC', outcome: { kind: 'accepted', echo: { kind: 'status', status: 0 }, find: { kind: 'matches', count: 1000, truncated: true, status: 0xfe00 } } },
  ], 'plain');
  t.equal(accepted.verdict, 'exposed');
  t.match(accepted.evidence.join('\n'), /called AE ORTHANC\) accepted over plain TCP\nC-ECHO without credentials: 0x0000 success\nC-FIND at STUDY level without credentials: at least 1000 matches/);

  const gateway = dicomVerdict([rejected('ANY-SCP', Refusal.notAuthenticated)], 'tls');
  t.equal(gateway.verdict, 'protected');
  t.match(gateway.evidence[0], /A-ASSOCIATE-RJ 1\/1\/1 \(permanent, service-user, no reason given\)/);
  t.match(gateway.evidence[1], /DICOM User Identity, or a client certificate/);

  const plainRefusal = dicomVerdict([rejected('ANY-SCP', Refusal.notAuthenticated)], 'plain');
  t.equal(plainRefusal.verdict, 'protected');
  t.match(plainRefusal.evidence[1], /clear text/);

  const unknownAe = dicomVerdict(['ANY-SCP', 'ORTHANC', 'DCM4CHEE'].map((ae) => rejected(ae, Refusal.calledAeNotRecognized)), 'plain');
  t.equal(unknownAe.verdict, 'unknown');
  t.match(unknownAe.evidence.join('\n'), /ANY-SCP, ORTHANC, DCM4CHEE[\s\S]*--aet TITLE/);

  const aeFilter = dicomVerdict([rejected('ANY-SCP', Refusal.callingAeNotRecognized)], 'plain');
  t.equal(aeFilter.verdict, 'unknown', 'an AE-title allow-list is not authentication');
  t.match(aeFilter.evidence.join('\n'), /calling AE title, which is not authentication/);

  t.equal(dicomVerdict([rejected('ANY-SCP', Refusal.temporaryCongestion)], 'plain').verdict, 'unknown');
  t.match(dicomVerdict([{ calledAe: 'ANY-SCP', outcome: { kind: 'aborted', abort: { source: 2, reason: 1 } } }], 'plain'), {
    verdict: 'unknown', evidence: [/A-ABORT \(service-provider, unrecognized PDU\)/],
  });
});

t.test('HTTP: exposed beats everything, pacs-gateway refusals and challenges are protected', async (t) => {
  const base: HttpProbeResult = { failed: undefined, paths: [], server: undefined, gateway: false };
  t.match(httpVerdict({ ...base, paths: [{ kind: 'exposed', path: '/system', status: 200, what: 'Orthanc REST API answered' }, { kind: 'challenged', path: '/x', status: 401, how: 'WWW-Authenticate: Basic' }] }, false),
    { verdict: 'exposed', evidence: ['GET /system → 200: Orthanc REST API answered'] });
  t.match(httpVerdict({ ...base, gateway: true, paths: [
    { kind: 'challenged', path: '/dicom-web/studies?limit=1', status: 401, how: 'WWW-Authenticate: Bearer realm="pacs-gateway"' },
    { kind: 'absent', path: '/system', status: 404, gatewayError: 'ERR_ROUTE_REFUSED' },
  ] }, true), { verdict: 'protected', evidence: [/^pacs-gateway/, /401/, 'GET /system → 404 ERR_ROUTE_REFUSED'] });
  const basic = httpVerdict({ ...base, paths: [{ kind: 'challenged', path: '/system', status: 401, how: 'WWW-Authenticate: Basic realm="Orthanc Secure Area"' }] }, false);
  t.equal(basic.verdict, 'protected');
  t.match(basic.evidence.join('\n'), /clear text/);
  t.match(httpVerdict({ ...base, server: 'nginx', paths: [{ kind: 'absent', path: '/system', status: 404, gatewayError: undefined }] }, false),
    { verdict: 'unknown', evidence: [/HTTP server answers \(Server: nginx\), but on none of the known PACS paths/] });
  t.match(httpVerdict({ ...base, paths: [{ kind: 'present', path: '/wado?requestType=WADO', status: 400, what: 'WADO-URI endpoint answered 400' }] }, false), { verdict: 'unknown' });
});

t.test('TLS versions in words, with a warning for TLS before 1.2', async (t) => {
  t.same(describeVersions([
    { version: 'TLSv1', kind: 'accepted', cipher: 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA' },
    { version: 'TLSv1.1', kind: 'untested', detail: "this host's OpenSSL would not offer it" },
    { version: 'TLSv1.2', kind: 'accepted', cipher: undefined },
    { version: 'TLSv1.3', kind: 'refused', detail: 'alert' },
  ]), [
    'TLS versions accepted: TLS 1.0 (TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA), TLS 1.2; refused: TLS 1.3',
    "TLS 1.1 not tested: this host's OpenSSL would not offer it",
    'accepts TLS 1.0, deprecated by RFC 8996',
  ]);
});

const results: ServiceResult[] = [
  { host: '192.0.2.10', port: 4242, service: 'dicom', verdict: 'exposed', evidence: ['A-ASSOCIATE-RQ without credentials accepted', 'C-ECHO without credentials: 0x0000 success'] },
  { host: '192.0.2.10', port: 104, service: 'dicom', verdict: 'closed', evidence: ['connection refused: nothing listens on this port'] },
  { host: '2001:db8::5', port: 2762, service: 'dicom-tls', verdict: 'protected', evidence: ['A-ASSOCIATE-RJ 1/1/1'] },
  { host: '2001:db8::5', port: 8443, service: 'https', verdict: 'unknown', evidence: ['an HTTP server answers'] },
  { host: '192.0.2.11', port: 104, service: 'dicom', verdict: 'closed', evidence: ['connection refused: nothing listens on this port'] },
];
const report: ScanReport = { scannedAt: '2026-01-02T03:04:05.000Z', results, summary: summarize(results) };

t.test('--json has exactly the documented shape', async (t) => {
  t.same(JSON.parse(formatJson(report)), {
    scannedAt: '2026-01-02T03:04:05.000Z',
    results: results.map((r) => ({ host: r.host, port: r.port, service: r.service, verdict: r.verdict, evidence: r.evidence })),
    summary: { exposed: 1, protected: 1, closed: 2, unknown: 1 },
  });
});

t.test('the table lists what answered, folds closed ports, and ends with the summary', async (t) => {
  const text = formatTable(report);
  t.match(text, /^HOST {9}PORT {3}SERVICE {4}VERDICT {4}EVIDENCE\n192\.0\.2\.10 {3}4242 {3}dicom {6}EXPOSED {4}A-ASSOCIATE-RQ without credentials accepted\n {42}C-ECHO/);
  t.match(text, /\n192\.0\.2\.10: closed 104\n/);
  t.match(text, /1 host with every scanned port closed: 192\.0\.2\.11\n/);
  t.match(text, /summary: 1 exposed, 1 protected, 2 closed, 1 unknown/);
  t.match(text, /EXPOSED: 192\.0\.2\.10:4242 answers without authentication/);
  t.notMatch(formatTable({ ...report, results: results.slice(1), summary: summarize(results.slice(1)) }), /EXPOSED/);
});

t.test('SARIF: valid SARIF 2.1.0 for every verdict, one result per service that answered', async (t) => {
  const sarif = toSarif(report, { version: '0.1.0', endedAt: '2026-01-02T03:05:00.000Z', commandLine: 'pacs-gateway scan 192.0.2.0/24' }) as any;
  t.same(sarifErrors(sarif), []);
  const run = sarif.runs[0];
  t.same(run.results.map((r: any) => [r.ruleId, r.level, r.kind, r.locations[0].physicalLocation.artifactLocation.uri]), [
    ['pgw-scan/exposed', 'error', 'fail', 'dicom://192.0.2.10:4242'],
    ['pgw-scan/protected', 'none', 'pass', 'dicom-tls://[2001:db8::5]:2762'],
    ['pgw-scan/unknown', 'warning', 'fail', 'https://[2001:db8::5]:8443/'],
  ]);
  for (const r of run.results) t.equal(run.tool.driver.rules[r.ruleIndex].id, r.ruleId);
  t.same(run.properties.summary, { exposed: 1, protected: 1, closed: 2, unknown: 1 });
  t.same(sarifErrors({ ...sarif, runs: [{ ...run, results: [{ ...run.results[0], level: 'critical' }] }] }).length > 0, true, 'the schema does catch a bad log');
  const empty = toSarif({ scannedAt: report.scannedAt, results: [], summary: summarize([]) }, { version: '0.1.0', endedAt: report.scannedAt }) as any;
  t.same(sarifErrors(empty), [], 'a scan that found nothing is a valid log too');
});
