// One host:port from start to verdict: the probe steps in the order the port number suggests,
// stopping at the first that identifies the service.

import { openPlain, openTls } from './connection.js';
import { closedEvidence } from './closed.js';
import type { Endpoint, ProbeContext } from './context.js';
import { probeDicom } from './dicom-probe.js';
import { dicomVerdict, noDicomAnswer, spokeDicom } from './dicom-verdict.js';
import { probeHttp } from './http-probe.js';
import { httpVerdict } from './http-verdict.js';
import { portHint } from './ports.js';
import { clientCertRequired, probeTlsService, tlsServiceFor } from './tls-service.js';
import { describeVersions, probeTlsVersions, versionName } from './tls-versions.js';
import type { ServiceResult } from './types.js';

function withNote(r: ServiceResult, note: string): ServiceResult {
  return { ...r, evidence: [...r.evidence, note] };
}

/** Probes one port; never throws. */
export async function probePort(ep: Endpoint, ctx: ProbeContext): Promise<ServiceResult> {
  const hint = portHint(ep.port);
  const result = (service: ServiceResult['service'], verdict: ServiceResult['verdict'], evidence: string[]): ServiceResult =>
    ({ host: ep.host, port: ep.port, service, verdict, evidence });
  const notes: string[] = [];
  const plan = [...hint.plan];
  for (let step = plan.shift(); step !== undefined; step = plan.shift()) {
    if (step === 'tls') {
      const hello = await openTls(ep, ctx);
      if (hello.ok) return probeTlsService(ep, ctx, hello, hint.service);
      const closed = closedEvidence(hello.failure, hello.detail);
      if (closed !== undefined) return result(hint.service, 'closed', [closed]);
      if (hello.failure === 'client-cert-required') return clientCertRequired(ep, ctx, hint.service, hello);
      if (hello.failure === 'handshake-failed' || hello.failure === 'version-refused') {
        const versions = await probeTlsVersions(ep, ctx);
        const older = [...versions].reverse().find((v) => v.kind === 'accepted')?.version;
        if (older !== undefined) {
          // An old PACS that takes only TLS 1.0/1.1 (say): look inside over the newest version it takes.
          const legacy: Endpoint = { ...ep, tlsVersion: older };
          const again = await openTls(legacy, ctx);
          const note = `refused node's default TLS 1.2–1.3 handshake (${hello.detail}); probed over ${versionName(older)}, the newest version it accepts`;
          if (again.ok) return withNote(await probeTlsService(legacy, ctx, again, hint.service, versions), note);
          if (again.failure === 'client-cert-required') return withNote(await clientCertRequired(legacy, ctx, hint.service, again, versions), note);
        }
        return result(tlsServiceFor(hint.service), 'unknown', [`speaks TLS but refused a TLS 1.2/1.3 handshake (${hello.detail})`, ...describeVersions(versions)]);
      }
      notes.push(`TLS ClientHello: ${hello.failure === 'not-tls' ? `not TLS (${hello.detail})` : hello.detail}`);
    } else if (step === 'dicom') {
      const attempts = await probeDicom(() => openPlain(ep, ctx), ctx);
      const first = attempts[0]?.outcome;
      if (first?.kind === 'connect-failed') {
        const closed = closedEvidence(first.failure.failure, first.failure.detail);
        if (closed !== undefined) return result(hint.service, 'closed', [closed]);
      }
      if (spokeDicom(attempts)) {
        const v = dicomVerdict(attempts, 'plain');
        return result('dicom', v.verdict, v.evidence);
      }
      notes.push(`A-ASSOCIATE-RQ: ${noDicomAnswer(first, ctx.timeoutMs)}`);
      // An HTTP server answered the A-ASSOCIATE-RQ: the HTTP probe next, whatever the port suggested.
      if (first?.kind === 'not-dicom' && first.http && plan.includes('http')) {
        plan.splice(plan.indexOf('http'), 1);
        plan.unshift('http');
      }
    } else {
      const r = await probeHttp(ep, ctx, { tls: false });
      if (r.failed === undefined) {
        const v = httpVerdict(r, false);
        return result('http', v.verdict, v.evidence);
      }
      const closed = closedEvidence(r.failed.failure, r.failed.detail);
      if (closed !== undefined) return result(hint.service, 'closed', [closed]);
      notes.push(`HTTP request: ${r.failed.detail}`);
    }
  }
  return result(hint.service, 'unknown', ['the TCP port accepts connections, but answered no probe (service named from the port number)', ...notes]);
}
