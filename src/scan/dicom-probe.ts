// The DICOM probe: an A-ASSOCIATE-RQ for Verification without credentials (one called AE title after
// another, only while the peer says the title is unknown), then C-ECHO and, with --deep, a C-FIND
// whose matches are counted and dropped. Every PDU comes from the project's own builders.

import { buildRelease, parseAbort, type Abort } from '../dicom/abort.js';
import { buildAssociateRq } from '../dicom/associate-build.js';
import { parseAssociateAc } from '../dicom/associate-parse.js';
import { buildCommandSet, implicitElement } from '../dicom/command-build.js';
import { commandName } from '../dicom/command-set.js';
import { CommandField, CommandTag, NO_DATA_SET, PDU_NAMES, PduType, PresentationResult, RejectReason, RejectSource, RESPONSE_BIT } from '../dicom/constants.js';
import { buildPData } from '../dicom/p-data.js';
import { parseAssociateRj, type Rejection } from '../dicom/reject.js';
import type { ConnectFailed } from './connection.js';
import type { ProbeContext } from './context.js';
import { DicomLink, type LinkEvent } from './dicom-link.js';
import { describeAbort } from './dicom-words.js';
import { peerText } from './peer-text.js';
import { SCANNER_AE } from './types.js';
import type { Socket } from 'node:net';

export const SopClass = Object.freeze({
  verification: '1.2.840.10008.1.1',
  studyRootFind: '1.2.840.10008.5.1.4.1.2.2.1',
} as const);
const IMPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2';
/**
 * The C-FIND identifier: (0008,0052) Query/Retrieve Level = STUDY and an empty (0020,000D) Study
 * Instance UID as the unique key (PS3.4 C.4.1.2.1): every study matches, each carrying only its UID.
 */
const STUDY_LEVEL_IDENTIFIER = Buffer.concat([implicitElement(0x0008, 0x0052, { text: 'STUDY' }), implicitElement(0x0020, 0x000d, { ui: '' })]);
const ECHO_PC = 1;
const FIND_PC = 3;
/** Past this many C-FIND matches the probe sends C-CANCEL: the count is then "at least". */
export const MAX_COUNTED_MATCHES = 1000;
/** Responses taken after the C-CANCEL before the probe gives up on a peer that keeps sending (PS3.7 C.4.1.3: it should stop). */
const MAX_AFTER_CANCEL = 100;
/**
 * The whole C-FIND, every response included, ends within this many timeouts: a peer that sends one
 * match just inside each timeout cannot hold the probe for 1,100 of them. The count is then "at least".
 */
const FIND_TIMEOUTS = 5;
/** DIMSE messages skipped while waiting for A-RELEASE-RP. */
const MAX_BEFORE_RELEASE = 16;

/** How one association attempt ended. */
export type AttemptOutcome =
  | { readonly kind: 'accepted'; readonly echo: EchoResult; readonly find: FindResult | undefined }
  | { readonly kind: 'rejected'; readonly rejection: Rejection }
  | { readonly kind: 'aborted'; readonly abort: Abort }
  /** The peer's answer was not DICOM; `http` when it looked like an HTTP response. */
  | { readonly kind: 'not-dicom'; readonly http: boolean; readonly detail: string }
  | { readonly kind: 'closed' }
  | { readonly kind: 'silent' }
  | { readonly kind: 'transport-error'; readonly error: NodeJS.ErrnoException }
  | { readonly kind: 'connect-failed'; readonly failure: ConnectFailed };

export type EchoResult =
  | { readonly kind: 'status'; readonly status: number }
  | { readonly kind: 'not-negotiated' }
  | { readonly kind: 'no-answer'; readonly detail: string };

export type FindResult =
  | { readonly kind: 'matches'; readonly count: number; readonly truncated: boolean; readonly status: number }
  | { readonly kind: 'refused'; readonly status: number }
  | { readonly kind: 'not-negotiated' }
  | { readonly kind: 'no-answer'; readonly detail: string };

export interface DicomAttempt { readonly calledAe: string; readonly outcome: AttemptOutcome }

/** Opens one connection for one association (plain or TLS). */
export type Opener = () => Promise<{ readonly ok: true; readonly socket: Socket } | ConnectFailed>;

function commandEvent(e: LinkEvent, field: number): e is Extract<LinkEvent, { kind: 'message' }> {
  return e.kind === 'message' && e.command.commandField === (field | RESPONSE_BIT);
}

function noAnswer(e: LinkEvent): string {
  switch (e.kind) {
    case 'timeout': return 'no answer in time';
    case 'closed': return 'the connection closed';
    case 'error': return `transport error ${e.error.code ?? e.error.message}`;
    case 'not-dicom': return `malformed answer (${e.reason})`;
    case 'pdu': return e.type === PduType.Abort ? `answered with ${describeAbort(parseAbort(e.raw))}` : `${pduName(e.type)} instead of an answer`;
    default: return `an unexpected ${commandName(e.command.commandField)}`;
  }
}

function pduName(type: number): string {
  return PDU_NAMES[type] ?? `PDU type ${type}`;
}

async function echo(link: DicomLink, ctx: ProbeContext, maxFragment: number): Promise<EchoResult> {
  const cmd = buildCommandSet([
    [CommandTag.AffectedSopClassUid, { ui: SopClass.verification }],
    [CommandTag.CommandField, { us: CommandField.CEchoRq }],
    [CommandTag.MessageId, { us: 1 }],
    [CommandTag.CommandDataSetType, { us: NO_DATA_SET }],
  ]);
  link.send(buildPData(ECHO_PC, true, cmd, maxFragment));
  const e = await link.next(ctx.timeoutMs);
  if (commandEvent(e, CommandField.CEchoRq) && e.command.status !== undefined) return { kind: 'status', status: e.command.status };
  return { kind: 'no-answer', detail: noAnswer(e) };
}

async function find(link: DicomLink, ctx: ProbeContext, maxFragment: number): Promise<FindResult> {
  const cmd = buildCommandSet([
    [CommandTag.AffectedSopClassUid, { ui: SopClass.studyRootFind }],
    [CommandTag.CommandField, { us: CommandField.CFindRq }],
    [CommandTag.MessageId, { us: 2 }],
    [CommandTag.Priority, { us: 0 }],
    // PS3.7 E.1-1: any value other than 0101H says a data set (the identifier) follows.
    [CommandTag.CommandDataSetType, { us: 0x0001 }],
  ]);
  link.send(Buffer.concat([buildPData(FIND_PC, true, cmd, maxFragment), buildPData(FIND_PC, false, STUDY_LEVEL_IDENTIFIER, maxFragment)]));
  const deadline = performance.now() + FIND_TIMEOUTS * ctx.timeoutMs;
  let count = 0;
  let cancelled = false;
  const cancel = (): void => {
    if (cancelled) return;
    cancelled = true;
    link.send(buildPData(FIND_PC, true, buildCommandSet([
      [CommandTag.CommandField, { us: CommandField.CCancelRq }],
      [CommandTag.MessageIdBeingRespondedTo, { us: 2 }],
      [CommandTag.CommandDataSetType, { us: NO_DATA_SET }],
    ]), maxFragment));
  };
  for (let afterCancel = 0; afterCancel <= MAX_AFTER_CANCEL; afterCancel += cancelled ? 1 : 0) {
    const wait = Math.min(ctx.timeoutMs, deadline - performance.now());
    const e = wait > 0 ? await link.next(wait) : { kind: 'timeout' as const };
    if (e.kind === 'timeout' && wait < ctx.timeoutMs) {
      // Out of time, not out of answers: what was counted stands, as a lower bound.
      cancel();
      return { kind: 'matches', count, truncated: true, status: 0xff00 };
    }
    if (!commandEvent(e, CommandField.CFindRq) || e.command.status === undefined) return { kind: 'no-answer', detail: noAnswer(e) };
    const status = e.command.status;
    // PS3.4 C.4.1.1.4: FF00/FF01 pending (one match each, its identifier already dropped by the link).
    if (status === 0xff00 || status === 0xff01) {
      count++;
      if (count >= MAX_COUNTED_MATCHES) cancel();
      continue;
    }
    if (status === 0x0000 || status === 0xfe00) return { kind: 'matches', count, truncated: cancelled, status };
    return { kind: 'refused', status };
  }
  // A peer that ignores C-CANCEL: stop reading; the association is released (or the link closed).
  return { kind: 'matches', count, truncated: true, status: 0xff00 };
}

async function release(link: DicomLink, ctx: ProbeContext): Promise<void> {
  link.send(buildRelease(PduType.ReleaseRq));
  // PS3.8 §7.2: wait for A-RELEASE-RP, but not beyond one timeout in all nor past a few stray messages.
  const deadline = performance.now() + ctx.timeoutMs;
  for (let i = 0; i < MAX_BEFORE_RELEASE; i++) {
    const wait = deadline - performance.now();
    if (wait <= 0 || (await link.next(wait)).kind !== 'message') break;
  }
}

async function associated(link: DicomLink, ctx: ProbeContext, raw: Buffer): Promise<AttemptOutcome> {
  const ac = parseAssociateAc(raw);
  const accepted = (id: number): boolean => ac.presentationContexts.some((p) => p.id === id && p.result === PresentationResult.Acceptance);
  const max = ac.maxPduLength ?? 0;
  const maxFragment = max > 6 ? Math.min(16_372, max - 6) : 16_372;
  const echoResult: EchoResult = accepted(ECHO_PC) ? await echo(link, ctx, maxFragment) : { kind: 'not-negotiated' };
  let findResult: FindResult | undefined;
  if (ctx.deep) findResult = accepted(FIND_PC) ? await find(link, ctx, maxFragment) : { kind: 'not-negotiated' };
  await release(link, ctx);
  return { kind: 'accepted', echo: echoResult, find: findResult };
}

/** One association attempt on a fresh connection. */
async function attempt(open: Opener, ctx: ProbeContext, calledAe: string): Promise<AttemptOutcome> {
  const c = await open();
  if (!c.ok) return { kind: 'connect-failed', failure: c };
  const link = new DicomLink(c.socket);
  try {
    link.send(buildAssociateRq({
      calledAe, callingAe: SCANNER_AE, maxPduLength: 16_384, implementationVersionName: ctx.implementationVersion,
      presentationContexts: [
        { id: ECHO_PC, abstractSyntax: SopClass.verification, transferSyntaxes: [IMPLICIT_VR_LITTLE_ENDIAN] },
        ...(ctx.deep ? [{ id: FIND_PC, abstractSyntax: SopClass.studyRootFind, transferSyntaxes: [IMPLICIT_VR_LITTLE_ENDIAN] }] : []),
      ],
    }));
    const e = await link.next(ctx.timeoutMs);
    switch (e.kind) {
      case 'pdu':
        if (e.type === PduType.AssociateAc) return await associated(link, ctx, e.raw);
        if (e.type === PduType.AssociateRj) return { kind: 'rejected', rejection: parseAssociateRj(e.raw) };
        if (e.type === PduType.Abort) return { kind: 'aborted', abort: parseAbort(e.raw) };
        return { kind: 'not-dicom', http: false, detail: `${pduName(e.type)} in answer to an A-ASSOCIATE-RQ` };
      case 'not-dicom': {
        const http = e.head.subarray(0, 5).toString('latin1') === 'HTTP/';
        return { kind: 'not-dicom', http, detail: http ? `an HTTP response ("${peerText(e.head.toString('latin1').split('\r\n')[0] ?? '')}")` : e.reason };
      }
      case 'closed': return { kind: 'closed' };
      case 'timeout': return { kind: 'silent' };
      case 'error': return { kind: 'transport-error', error: e.error };
      default: return { kind: 'not-dicom', http: false, detail: 'a DIMSE message before the association' };
    }
  } catch (err) {
    // A malformed A-ASSOCIATE-AC/RJ/ABORT (PduError from the parsers).
    return { kind: 'not-dicom', http: false, detail: (err as Error).message };
  } finally {
    link.close();
  }
}

/** The peer does not know the called AE title: the one case where another title is tried. PS3.8 Table 9-21. */
export function calledAeUnknown(r: Rejection): boolean {
  return r.source === RejectSource.ServiceUser && r.reason === RejectReason.UserCalledAeNotRecognized;
}

/**
 * Tries the called AE titles in order and stops at the first answer that is not "called AE
 * title not recognized": a probe never guesses further once a peer has answered otherwise.
 */
export async function probeDicom(open: Opener, ctx: ProbeContext): Promise<DicomAttempt[]> {
  const attempts: DicomAttempt[] = [];
  for (const calledAe of ctx.calledAets) {
    const outcome = await attempt(open, ctx, calledAe);
    attempts.push({ calledAe, outcome });
    if (outcome.kind !== 'rejected' || !calledAeUnknown(outcome.rejection)) break;
  }
  return attempts;
}
