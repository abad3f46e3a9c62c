// For check-config: do the configured PACS's DICOM and HTTP ports answer from this host without
// credentials? They must (the gateway connects that way), so they must be firewalled from everyone else.

import { isIP } from 'node:net';
import type { GatewayConfig } from '../config/types.js';
import { openPlain, openTls } from './connection.js';
import { closedEvidence } from './closed.js';
import { hostPort, type Endpoint } from './context.js';
import { probeDicom } from './dicom-probe.js';
import { dicomVerdict, noDicomAnswer, spokeDicom } from './dicom-verdict.js';
import { probeHttp } from './http-probe.js';
import { httpVerdict } from './http-verdict.js';
import { probeContext } from './scanner.js';
import type { Verdict } from './types.js';

export interface UpstreamLine {
  readonly what: string;
  /** `closed` here means "does not answer from this host". */
  readonly verdict: Verdict;
  readonly evidence: readonly string[];
}

export interface UpstreamReport {
  readonly lines: readonly UpstreamLine[];
  /** The host:port pairs that answered without authentication (to be firewalled). */
  readonly open: readonly string[];
}

function endpoint(host: string, port: number): Endpoint {
  return { host, address: host, port, servername: isIP(host) === 0 ? host : undefined };
}

/** Probes upstream.dicom (with its AE title only) and the upstream.dicomweb origin. Never throws. */
export async function checkUpstream(config: GatewayConfig, o: { version: string; timeoutMs?: number }): Promise<UpstreamReport> {
  const d = config.upstream.dicom;
  const ctx = probeContext({ version: o.version, timeoutMs: o.timeoutMs ?? 3000, ratePerSecond: 20 });
  const dicomCtx = { ...ctx, calledAets: [d.aeTitle] };
  const lines: UpstreamLine[] = [];
  const open: string[] = [];

  const dep = endpoint(d.host, d.port);
  const attempts = await probeDicom(() => openPlain(dep, dicomCtx), dicomCtx);
  const first = attempts[0]?.outcome;
  const dicomWhat = `DICOM ${hostPort(d.host, d.port)} (AE ${d.aeTitle})`;
  if (spokeDicom(attempts)) {
    const v = dicomVerdict(attempts, 'plain');
    lines.push({ what: dicomWhat, ...v });
    if (v.verdict === 'exposed') open.push(hostPort(d.host, d.port));
  } else {
    const why = (first?.kind === 'connect-failed' ? closedEvidence(first.failure.failure, first.failure.detail) : undefined) ?? noDicomAnswer(first, ctx.timeoutMs);
    lines.push({ what: dicomWhat, verdict: first?.kind === 'connect-failed' ? 'closed' : 'unknown', evidence: [why] });
  }

  const url = new URL(config.upstream.dicomweb);
  const tls = url.protocol === 'https:';
  const port = url.port === '' ? (tls ? 443 : 80) : Number(url.port);
  const hep = endpoint(url.hostname.replace(/^\[|\]$/g, ''), port);
  const root = url.pathname.replace(/\/+$/, '');
  const webWhat = `DICOMweb ${config.upstream.dicomweb}`;
  // One connection first: over TLS it shows a certificate requirement; plain, that the port is there.
  const reach = tls ? await openTls(hep, ctx) : await openPlain(hep, ctx);
  if (!reach.ok) {
    lines.push({ what: webWhat, verdict: closedEvidence(reach.failure, reach.detail) === undefined ? 'unknown' : 'closed', evidence: [closedEvidence(reach.failure, reach.detail) ?? reach.detail] });
  } else {
    const r = await probeHttp(hep, ctx, { tls, socket: reach.socket, extraPaths: [`${root}/studies?limit=1`] });
    if (r.failed !== undefined) {
      lines.push({ what: webWhat, verdict: 'unknown', evidence: [r.failed.detail] });
    } else {
      const v = httpVerdict(r, tls);
      lines.push({ what: webWhat, ...v });
      if (v.verdict === 'exposed') open.push(hostPort(hep.host, port));
    }
  }
  return { lines, open };
}
