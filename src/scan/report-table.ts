// The human summary: one block per service that answered, closed ports folded per host, totals last.

import type { ScanReport, ServiceResult } from './types.js';
import { hostPort } from './context.js';

const LIST_HOSTS = 10;

function row(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
}

/** The report as text for a terminal. */
export function formatTable(report: ScanReport): string {
  const open = report.results.filter((r) => r.verdict !== 'closed');
  const lines: string[] = [];
  const byHost = new Map<string, ServiceResult[]>();
  for (const r of report.results) {
    const list = byHost.get(r.host) ?? [];
    list.push(r);
    byHost.set(r.host, list);
  }
  if (open.length > 0) {
    const widths = [
      Math.max(4, ...open.map((r) => r.host.length)), 5, Math.max(7, ...open.map((r) => r.service.length)), 9,
    ];
    lines.push(row(['HOST', 'PORT', 'SERVICE', 'VERDICT', 'EVIDENCE'], widths));
    for (const r of open) {
      const [first = '', ...rest] = r.evidence;
      lines.push(row([r.host, String(r.port), r.service, r.verdict.toUpperCase(), first], widths));
      const pad = ' '.repeat(widths.reduce((a, b) => a + b + 2, 0));
      for (const e of rest) lines.push(`${pad}${e}`);
    }
    lines.push('');
  }
  const silent: string[] = [];
  for (const [host, list] of byHost) {
    const closed = list.filter((r) => r.verdict === 'closed');
    if (closed.length === 0) continue;
    if (closed.length === list.length) silent.push(host);
    else lines.push(`${host}: closed ${closed.map((r) => r.port).join(', ')}`);
  }
  if (silent.length > 0) {
    const shown = silent.slice(0, LIST_HOSTS).join(', ');
    lines.push(`${silent.length} host${silent.length === 1 ? '' : 's'} with every scanned port closed: ${shown}${silent.length > LIST_HOSTS ? ', …' : ''}`);
  }
  const s = report.summary;
  lines.push(`summary: ${s.exposed} exposed, ${s.protected} protected, ${s.closed} closed, ${s.unknown} unknown (scanned ${report.scannedAt})`);
  if (s.exposed > 0) {
    const where = open.filter((r) => r.verdict === 'exposed').map((r) => hostPort(r.host, r.port)).join(', ');
    lines.push(`EXPOSED: ${where} answer${s.exposed === 1 ? 's' : ''} without authentication: put ${s.exposed === 1 ? 'it' : 'them'} behind pacs-gateway or firewall ${s.exposed === 1 ? 'it' : 'them'} off.`);
  }
  return lines.join('\n');
}
