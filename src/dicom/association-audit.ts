// The audit events of the DIMSE guard: one per association decision, one per command decision.

import type { Audit } from '../audit/audit.js';
import type { Principal } from '../identity/principal.js';
import type { CommandDecision } from './command-guard.js';
import type { CommandSet } from './command-set.js';
import type { Rejection } from './reject.js';

/** Facts about a connection that go into every event. */
export interface ConnectionFacts {
  readonly associationId: string;
  readonly source: string;
  readonly tlsVersion: string | null;
  readonly certFingerprint: string | undefined;
  /** `cleartext` on the legacy port (listen.dicomLegacy); absent on the TLS port. */
  readonly channel?: 'cleartext';
  callingAe?: string;
  calledAe?: string;
}

/** Who a refused association claimed to be, before (or without) a principal: from admission. */
export interface ClaimedIdentity {
  /** The username or token subject named, or the device found; never verified. */
  readonly named?: string | undefined;
  readonly userIdentityType?: number | undefined;
  /** The identity layer's refusal, when the event's reason is the more precise one. */
  readonly refusal?: string | undefined;
}

function who(p: Principal | undefined, claimed: ClaimedIdentity): Record<string, unknown> {
  if (p !== undefined) return { principal: p.id, role: p.role, method: p.method, kind: p.kind };
  if (claimed.named === undefined) return {};
  return claimed.userIdentityType === undefined ? { principal: claimed.named } : { principal: claimed.named, kind: 'user' };
}

/** Records the 'dicom.association' event: accepted (by gateway and PACS) or refused, and why. */
export function auditAssociation(audit: Audit, facts: ConnectionFacts, e: ClaimedIdentity & {
  decision: 'allow' | 'deny'; reason: string; principal?: Principal | undefined; rejection?: Rejection; detail?: string; phase?: string;
}): void {
  audit.record({
    event: 'dicom.association',
    decision: e.decision,
    reason: e.reason,
    ...who(e.principal, e),
    ...(e.refusal === undefined ? {} : { refusal: e.refusal }),
    source: facts.source,
    associationId: facts.associationId,
    callingAe: facts.callingAe,
    calledAe: facts.calledAe,
    tlsVersion: facts.tlsVersion,
    certFingerprint: facts.certFingerprint,
    ...(facts.channel === undefined ? {} : { channel: facts.channel }),
    ...(e.userIdentityType === undefined ? {} : { userIdentityType: e.userIdentityType }),
    ...(e.rejection === undefined ? {} : { rejection: { ...e.rejection } }),
    ...(e.detail === undefined ? {} : { detail: e.detail }),
    ...(e.phase === undefined ? {} : { phase: e.phase }),
  });
}

/**
 * Records the 'dicom.command' event for one request the client sent. One object literal, no spreads
 * (absent fields are undefined, which the JSON line leaves out): object spreads made the DICOMweb
 * audit event ~30 µs slower to build and write (docs/benchmarks.md), and this one is per command.
 */
export function auditCommand(audit: Audit, facts: ConnectionFacts, principal: Principal, cmd: CommandSet, d: CommandDecision): void {
  audit.record({
    event: 'dicom.command',
    decision: d.kind === 'refuse' ? 'deny' : 'allow',
    reason: d.reason,
    principal: principal.id, role: principal.role, method: principal.method, kind: principal.kind,
    source: facts.source,
    associationId: facts.associationId,
    callingAe: facts.callingAe,
    channel: facts.channel,
    command: d.name,
    action: d.kind === 'pass' ? undefined : d.action,
    messageId: cmd.messageId ?? cmd.messageIdBeingRespondedTo,
    sopClassUid: cmd.affectedSopClassUid ?? cmd.requestedSopClassUid,
    sopInstanceUid: cmd.affectedSopInstanceUid ?? cmd.requestedSopInstanceUid,
    moveDestination: cmd.moveDestination,
  });
}
