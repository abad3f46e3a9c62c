// From HTTP path outcomes to a verdict with evidence.

import type { HttpProbeResult, PathOutcome } from './http-probe.js';
import type { Verdict } from './types.js';

function line(p: PathOutcome): string {
  switch (p.kind) {
    case 'exposed':
    case 'present': return `GET ${p.path} → ${p.status}: ${p.what}`;
    case 'challenged': return `GET ${p.path} → ${p.status}: asks for authentication (${p.how})`;
    default: return `GET ${p.path} → ${p.status}${p.gatewayError === undefined ? '' : ` ${p.gatewayError}`}`;
  }
}

/** The verdict for a port that answered HTTP. */
export function httpVerdict(r: HttpProbeResult, tls: boolean): { verdict: Verdict; evidence: string[] } {
  const of = (kind: PathOutcome['kind']): PathOutcome[] => r.paths.filter((p) => p.kind === kind);
  const exposed = of('exposed');
  const challenged = of('challenged');
  const gatewayLines = r.gateway ? ['pacs-gateway (its realm or error bodies)'] : [];
  if (exposed.length > 0) return { verdict: 'exposed', evidence: [...gatewayLines, ...exposed.map(line), ...of('present').map(line)] };
  if (r.gateway) {
    const refusals = r.paths.filter((p) => p.kind === 'challenged' || (p.kind === 'absent' && p.gatewayError !== undefined));
    return { verdict: 'protected', evidence: ['pacs-gateway: every PACS path was refused without authentication', ...refusals.map(line)] };
  }
  if (challenged.length > 0) {
    const cleartext = !tls && challenged.some((p) => p.kind === 'challenged' && /basic|digest|redirect/i.test(p.how))
      ? ['the login travels over plain HTTP: credentials cross the network in clear text']
      : [];
    return { verdict: 'protected', evidence: [...challenged.map(line), ...of('present').map(line), ...cleartext] };
  }
  const present = of('present');
  if (present.length > 0) return { verdict: 'unknown', evidence: [...present.map(line), 'no PACS path proved access without authentication, and none asked for it'] };
  const statuses = r.paths.slice(0, 3).map(line);
  return { verdict: 'unknown', evidence: [`an HTTP server answers${r.server === undefined ? '' : ` (Server: ${r.server})`}, but on none of the known PACS paths: not identified as a PACS`, ...statuses] };
}
