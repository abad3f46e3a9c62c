// The --sarif output: a SARIF 2.1.0 log (OASIS) with one result per service that answered:
// exposed → error, unknown → warning (kind "fail"), protected → kind "pass" (level "none", SARIF §3.27.10).
// Closed ports are not findings.

import { hostPort } from './context.js';
import type { ScanReport, ServiceResult, Verdict } from './types.js';

const SARIF_SCHEMA = 'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json';

interface Rule {
  readonly id: string;
  readonly name: string;
  readonly level: 'error' | 'warning' | 'note';
  readonly kind: 'fail' | 'pass';
  readonly short: string;
  readonly full: string;
}

const RULES: Readonly<Record<Exclude<Verdict, 'closed'>, Rule>> = Object.freeze({
  exposed: {
    id: 'pgw-scan/exposed', name: 'UnauthenticatedPacsService', level: 'error', kind: 'fail',
    short: 'A PACS service answers without authentication',
    full: 'A DICOM association or a PACS HTTP path was served to a peer that presented no credentials. Anyone who reaches this port can query (and often read or store) images. Put the service behind pacs-gateway, or firewall it so that only the gateway reaches it.',
  },
  unknown: {
    id: 'pgw-scan/unknown', name: 'UnidentifiedService', level: 'warning', kind: 'fail',
    short: 'A service answers, but the scan could not tell whether it requires authentication',
    full: 'Something accepts connections on this port, but the probes could not establish whether it admits unauthenticated peers (unknown AE title, AE-title filtering, silence, or an unrecognised HTTP server). Check it by hand.',
  },
  protected: {
    id: 'pgw-scan/protected', name: 'AuthenticatedService', level: 'note', kind: 'pass',
    short: 'The service refuses peers that do not authenticate',
    full: 'The service answered, but refused the scan until authenticated (client certificate, DICOM User Identity, or HTTP authentication).',
  },
});
const RULE_ORDER = ['exposed', 'unknown', 'protected'] as const;

/** The service as a URI, its service name as the scheme: `dicom-tls://10.0.0.5:2762`, `https://10.0.0.5:8443/`. */
function uri(r: ServiceResult): string {
  return `${r.service}://${hostPort(r.host, r.port)}${r.service === 'http' || r.service === 'https' ? '/' : ''}`;
}

/** The report as a SARIF 2.1.0 log (an object; JSON.stringify it). */
export function toSarif(report: ScanReport, o: { version: string; endedAt: string; commandLine?: string }): Record<string, unknown> {
  const results = report.results.filter((r) => r.verdict !== 'closed').map((r) => {
    const verdict = r.verdict as Exclude<Verdict, 'closed'>;
    const rule = RULES[verdict];
    return {
      ruleId: rule.id,
      ruleIndex: RULE_ORDER.indexOf(verdict),
      level: rule.level === 'note' ? 'none' : rule.level,
      kind: rule.kind,
      message: { text: `${r.service} on ${hostPort(r.host, r.port)}: ${r.verdict}. ${r.evidence.join('; ')}` },
      locations: [{
        physicalLocation: { artifactLocation: { uri: uri(r) } },
        logicalLocations: [{ name: hostPort(r.host, r.port), fullyQualifiedName: `${hostPort(r.host, r.port)}/${r.service}`, kind: 'resource' }],
      }],
      partialFingerprints: { 'endpoint/v1': `${hostPort(r.host, r.port)}/${r.service}` },
      properties: { host: r.host, port: r.port, service: r.service, verdict: r.verdict, evidence: [...r.evidence] },
    };
  });
  return {
    $schema: SARIF_SCHEMA,
    version: '2.1.0',
    runs: [{
      tool: {
        driver: {
          name: 'pacs-gateway scan', version: o.version, semanticVersion: o.version,
          rules: RULE_ORDER.map((v) => {
            const r = RULES[v];
            return {
              id: r.id, name: r.name,
              shortDescription: { text: r.short }, fullDescription: { text: r.full }, help: { text: r.full },
              defaultConfiguration: { level: r.level },
            };
          }),
        },
      },
      invocations: [{
        executionSuccessful: true, startTimeUtc: report.scannedAt, endTimeUtc: o.endedAt,
        ...(o.commandLine === undefined ? {} : { commandLine: o.commandLine }),
      }],
      results,
      properties: { summary: { ...report.summary } },
    }],
  };
}
