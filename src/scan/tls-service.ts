// A port that completed a TLS handshake without a client certificate: what speaks inside (DICOM or
// HTTP), whether it wants a client certificate after all, and which TLS versions it accepts.

import type { TLSSocket } from 'node:tls';
import { lateTlsError, openTls, tlsFailure, type ConnectFailed, type TlsConnected } from './connection.js';
import type { Endpoint, ProbeContext } from './context.js';
import { probeDicom } from './dicom-probe.js';
import { dicomVerdict, noDicomAnswer, spokeDicom } from './dicom-verdict.js';
import { probeHttp } from './http-probe.js';
import { httpVerdict } from './http-verdict.js';
import { describeVersions, probeTlsVersions, type VersionOutcome } from './tls-versions.js';
import type { Service, ServiceResult } from './types.js';

/** The TLS flavour of the service a port is expected to carry. */
export function tlsServiceFor(service: Service): Service {
  return service === 'http' || service === 'https' ? 'https' : 'dicom-tls';
}

function certRequiredError(err: NodeJS.ErrnoException | undefined): string | undefined {
  if (err === undefined) return undefined;
  const f = tlsFailure(err, true);
  return f.failure === 'client-cert-required' ? f.detail : undefined;
}

/**
 * A port whose TLS handshake fails without a client certificate: protected, with the versions it
 * takes (`versions` when already probed).
 */
export async function clientCertRequired(ep: Endpoint, ctx: ProbeContext, expected: Service, failure: ConnectFailed, versions?: readonly VersionOutcome[]): Promise<ServiceResult> {
  versions ??= await probeTlsVersions(ep, ctx, failure.negotiated);
  return {
    host: ep.host, port: ep.port, service: tlsServiceFor(expected), verdict: 'protected',
    evidence: [
      `TLS handshake without a client certificate refused (${failure.detail}): a client certificate is required`,
      `service named from the port number: nothing is exchanged before the certificate`,
      ...describeVersions(versions),
    ],
  };
}

/** Identifies the service inside a TLS connection that `hello` opened, and its verdict (`versions` when already probed). */
export async function probeTlsService(ep: Endpoint, ctx: ProbeContext, hello: TlsConnected, expected: Service, probed?: readonly VersionOutcome[]): Promise<ServiceResult> {
  const order: Array<'dicom' | 'http'> = expected === 'http' || expected === 'https' ? ['http', 'dicom'] : ['dicom', 'http'];
  let spare: TLSSocket | undefined = hello.socket;
  const take = (): TLSSocket | undefined => { const s = spare; spare = undefined; return s; };
  const known = { protocol: hello.protocol, cipher: hello.cipher };
  const tlsVersions = async (): Promise<readonly VersionOutcome[]> => probed ?? probeTlsVersions(ep, ctx, known);
  const notes: string[] = [];
  let certRequired: string | undefined;
  let closedQuietly = 0;
  for (const step of order) {
    if (certRequired !== undefined) break;
    if (step === 'dicom') {
      const attempts = await probeDicom(async () => { const s = take(); return s === undefined ? openTls(ep, ctx) : { ok: true, socket: s }; }, ctx);
      if (spokeDicom(attempts)) {
        const v = dicomVerdict(attempts, 'tls');
        const versions = await tlsVersions();
        return { host: ep.host, port: ep.port, service: 'dicom-tls', verdict: v.verdict, evidence: [...v.evidence, ...describeVersions(versions)] };
      }
      const o = attempts[0]?.outcome;
      certRequired = certRequiredError(lateTlsError(hello.socket))
        ?? (o?.kind === 'transport-error' ? certRequiredError(o.error) : undefined)
        ?? (o?.kind === 'connect-failed' && o.failure.failure === 'client-cert-required' ? o.failure.detail : undefined);
      if (o?.kind === 'closed') closedQuietly++;
      notes.push(`A-ASSOCIATE-RQ over TLS: ${noDicomAnswer(o, ctx.timeoutMs)}`);
    } else {
      const r = await probeHttp(ep, ctx, { tls: true, ...(spare === undefined ? {} : { socket: take() as TLSSocket }) });
      if (r.failed === undefined) {
        const v = httpVerdict(r, true);
        const versions = await tlsVersions();
        return { host: ep.host, port: ep.port, service: 'https', verdict: v.verdict, evidence: [...v.evidence, ...describeVersions(versions)] };
      }
      certRequired = certRequiredError(lateTlsError(hello.socket)) ?? (r.failed.failure === 'client-cert-required' ? r.failed.detail : undefined);
      if (r.failed.failure === 'closed') closedQuietly++;
      notes.push(`HTTP request over TLS: ${r.failed.detail}`);
    }
  }
  take()?.destroy();
  const versions = await tlsVersions();
  const service = tlsServiceFor(expected);
  if (certRequired !== undefined) {
    return { host: ep.host, port: ep.port, service, verdict: 'protected', evidence: [
      `TLS handshake without a client certificate completed, then the server refused it (${certRequired}): a client certificate is required`,
      ...describeVersions(versions),
    ] };
  }
  if (closedQuietly === order.length) {
    return { host: ep.host, port: ep.port, service, verdict: 'protected', evidence: [
      'after a TLS handshake without a client certificate the server closed both an A-ASSOCIATE-RQ and an HTTP request unanswered: it appears to require a client certificate',
      ...describeVersions(versions),
    ] };
  }
  return { host: ep.host, port: ep.port, service, verdict: 'unknown', evidence: [
    `speaks TLS (${hello.protocol}, ${hello.cipher}) but answered neither DICOM nor HTTP`, ...notes, ...describeVersions(versions),
  ] };
}
