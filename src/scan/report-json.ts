// The --json output: exactly {scannedAt, results: [{host, port, service, verdict, evidence}], summary}.

import type { ScanReport } from './types.js';

export function formatJson(report: ScanReport): string {
  return JSON.stringify({
    scannedAt: report.scannedAt,
    results: report.results.map((r) => ({ host: r.host, port: r.port, service: r.service, verdict: r.verdict, evidence: [...r.evidence] })),
    summary: { exposed: report.summary.exposed, protected: report.summary.protected, closed: report.summary.closed, unknown: report.summary.unknown },
  });
}
