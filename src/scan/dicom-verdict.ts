// From association attempts to a verdict with evidence: accepted without credentials is exposed;
// a refusal that is about identity is protected; AE-title games and silence are unknown.

import { RejectResult, RejectSource, RejectReason } from '../dicom/constants.js';
import { calledAeUnknown, type AttemptOutcome, type DicomAttempt } from './dicom-probe.js';
import { describeAbort, describeRejection, describeStatus } from './dicom-words.js';
import { SCANNER_AE, type Verdict } from './types.js';

export interface DicomFinding { readonly verdict: Verdict; readonly evidence: string[] }

/** How the association travelled, for the evidence. */
export type DicomTransport = 'plain' | 'tls';

function via(t: DicomTransport): string {
  return t === 'plain' ? 'over plain TCP' : 'over TLS without a client certificate';
}

/** Why an attempt got no DICOM answer, in words for the evidence. */
export function noDicomAnswer(o: AttemptOutcome | undefined, timeoutMs: number): string {
  switch (o?.kind) {
    case 'not-dicom': return `answered ${o.detail}`;
    case 'closed': return 'closed without answering';
    case 'silent': return `no answer within ${timeoutMs} ms`;
    case 'transport-error': return `transport error ${o.error.code ?? o.error.message}`;
    case 'connect-failed': return o.failure.detail;
    default: return 'no DICOM answer';
  }
}

/** True when at least one attempt got a DICOM answer (AC, RJ or A-ABORT): the port speaks DICOM. */
export function spokeDicom(attempts: readonly DicomAttempt[]): boolean {
  return attempts.some((a) => a.outcome.kind === 'accepted' || a.outcome.kind === 'rejected' || a.outcome.kind === 'aborted');
}

type AcceptedAttempt = DicomAttempt & { readonly outcome: Extract<AttemptOutcome, { kind: 'accepted' }> };

function acceptedEvidence(a: AcceptedAttempt, t: DicomTransport): string[] {
  const out = [`A-ASSOCIATE-RQ without credentials (calling AE ${SCANNER_AE}, called AE ${a.calledAe}) accepted ${via(t)}`];
  const echo = a.outcome.echo;
  if (echo.kind === 'status') out.push(`C-ECHO without credentials: ${describeStatus(echo.status)}`);
  else if (echo.kind === 'not-negotiated') out.push('Verification presentation context not accepted (no C-ECHO sent)');
  else out.push(`C-ECHO: ${echo.detail}`);
  const find = a.outcome.find;
  if (find?.kind === 'matches') out.push(`C-FIND at STUDY level without credentials: ${find.truncated ? 'at least ' : ''}${find.count} match${find.count === 1 ? '' : 'es'} (counted only; no data kept)`);
  else if (find?.kind === 'refused') out.push(`C-FIND at STUDY level refused: ${describeStatus(find.status)}`);
  else if (find?.kind === 'not-negotiated') out.push('Study Root C-FIND presentation context not accepted');
  else if (find?.kind === 'no-answer') out.push(`C-FIND: ${find.detail}`);
  return out;
}

/** The verdict for a port where at least one attempt got a DICOM answer. */
export function dicomVerdict(attempts: readonly DicomAttempt[], transport: DicomTransport): DicomFinding {
  const accepted = attempts.find((a): a is AcceptedAttempt => a.outcome.kind === 'accepted');
  if (accepted !== undefined) return { verdict: 'exposed', evidence: acceptedEvidence(accepted, transport) };
  const last = attempts[attempts.length - 1];
  const o = last?.outcome;
  if (o?.kind === 'rejected') {
    const r = o.rejection;
    const line = `A-ASSOCIATE-RQ without credentials (calling AE ${SCANNER_AE}, called AE ${last?.calledAe ?? ''}) ${via(transport)}: ${describeRejection(r)}`;
    if (calledAeUnknown(r)) {
      return { verdict: 'unknown', evidence: [
        `every called AE title tried was refused as not recognized (${attempts.map((a) => a.calledAe).join(', ')})`,
        'DICOM answers here; pass --aet TITLE with the AE title it uses to find out whether it admits unauthenticated peers',
      ] };
    }
    if (r.source === RejectSource.ServiceUser && r.reason === RejectReason.UserCallingAeNotRecognized) {
      return { verdict: 'unknown', evidence: [line, 'it filters on the calling AE title, which is not authentication: a peer that uses an allowed title may be let in'] };
    }
    if (r.result === RejectResult.Transient) return { verdict: 'unknown', evidence: [line, 'a transient refusal: scan again later'] };
    const evidence = [line];
    evidence.push(transport === 'tls'
      ? 'no client certificate was needed for the TLS handshake: the port admits only peers that authenticate (DICOM User Identity, or a client certificate)'
      : 'refused without credentials, but the port is not encrypted: whatever credentials it takes cross the network in clear text');
    return { verdict: 'protected', evidence };
  }
  if (o?.kind === 'aborted') {
    return { verdict: 'unknown', evidence: [`A-ASSOCIATE-RQ without credentials (called AE ${last?.calledAe ?? ''}) ${via(transport)}: answered with ${describeAbort(o.abort)}`] };
  }
  return { verdict: 'unknown', evidence: ['no usable DICOM answer'] };
}
