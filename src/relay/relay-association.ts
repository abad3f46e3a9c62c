// One association from the PACS on the relay: called AE → destination, the TLS association to it first, guarded P-DATA, release or abort.

import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Audit } from '../audit/audit.js';
import type { Logger } from '../audit/logger.js';
import type { GatewayConfig } from '../config/types.js';
import { buildAbort } from '../dicom/abort.js';
import { parseAssociateAc, parseAssociateRq, type AssociateRq } from '../dicom/associate-parse.js';
import { clientAction, upstreamAction } from '../dicom/association-transitions.js';
import type { CommandDecision } from '../dicom/command-guard.js';
import type { CommandSet } from '../dicom/command-set.js';
import { AbortReason, PDU_NAMES, PDV_HEADER_BYTES, type AbortReasonValue, type PduTypeValue } from '../dicom/constants.js';
import { GuardedPipe } from '../dicom/guarded-pipe.js';
import { acceptForClient, capPdu, requestForPacs } from '../dicom/negotiation.js';
import { PduError } from '../dicom/pdu-error.js';
import { sideHandler, type AssociationState, type PDataHandler } from '../dicom/pdu-expectations.js';
import { PduReader } from '../dicom/pdu-reader.js';
import { buildAssociateRj, parseAssociateRj, Refusal, type Rejection } from '../dicom/reject.js';
import { RequestFilter } from '../dicom/request-filter.js';
import { ResponseRelay } from '../dicom/response-relay.js';
import { endSoon, writable, writeAll } from '../dicom/socket-io.js';
import { Timers } from '../dicom/timers.js';
import { canonicalAddress } from '../util/address-key.js';
import { connectDestination, type Destination } from './destination-tls.js';
import type { MoveRegistry } from './move-registry.js';
import { responsesOnly } from './inbound-check.js';
import { decideOutbound } from './outbound-guard.js';
import { TransferAudit } from './transfer-audit.js';

/** Socket errors that mean the destination was not reached at all. */
const UNREACHABLE: ReadonlySet<string> = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT']);

export interface RelayAssociationDeps {
  /** dicom.* limits and timers, upstream.timeoutMs (how long the destination has to answer). */
  readonly config: GatewayConfig;
  readonly destinations: ReadonlyMap<string, Destination>;
  readonly logger: Logger;
  readonly audit: Audit;
  readonly moves: MoveRegistry;
}

/**
 * The relay's per-connection state machine (PS3.8 §9.2, acceptor side towards the PACS, requestor
 * side towards the destination). The PACS is the "client" of the shared PDU expectations and
 * transition tables (pdu-expectations.ts, association-transitions.ts) and the destination their
 * "upstream". Once the association has ended, both readers are halted (#ended). Nothing is sent
 * to the destination before its TLS handshake has verified it, so nothing leaves in cleartext.
 */
export class RelayAssociation {
  readonly id = randomBytes(6).toString('hex');
  readonly closed: Promise<void>;
  readonly #d: RelayAssociationDeps;
  readonly #pacs: Socket;
  readonly #source: string;
  readonly #log: Logger;
  readonly #pacsReader: PduReader;
  readonly #timers = new Timers((err) => this.#internalError(err));
  #state: AssociationState = 'awaiting-rq';
  #rq: AssociateRq | undefined;
  #destination: Destination | undefined;
  #up: TLSSocket | undefined;
  #upReader: PduReader | undefined;
  #pipe: GuardedPipe | undefined;
  /** The destination's P-DATA: the response relay behind the responses-only check. */
  #inbound: PDataHandler | undefined;
  #transfers: TransferAudit | undefined;
  #callingAe: string | undefined;
  #calledAe: string | undefined;
  #audited = false;
  #pacsClosed = false;
  #upClosed = false;
  #lastActivity = Date.now();
  #resolveClosed!: () => void;

  constructor(pacs: Socket, deps: RelayAssociationDeps) {
    this.#d = deps;
    this.#pacs = pacs;
    this.closed = new Promise((r) => { this.#resolveClosed = r; });
    void this.closed.then(() => this.#logDiscarded());
    this.#source = canonicalAddress(pacs.remoteAddress ?? 'unknown');
    this.#log = deps.logger.child({ assoc: this.id, source: this.#source });
    const dicom = deps.config.dicom;
    this.#pacsReader = new PduReader(
      sideHandler('client', () => this.#state, (t, raw) => this.#onPacsPdu(t, raw), () => this.#pipe?.filter),
      { maxAssociateBytes: dicom.maxAssociateRqBytes, maxPDataBytes: dicom.maxPduBytes },
      { headerViews: false },
    );
    pacs.setNoDelay(true);
    pacs.on('data', (chunk: Buffer) => this.#safely(() => this.#onPacsData(chunk)));
    pacs.on('error', (err) => this.#log.debug({ err: { message: err.message } }, 'PACS socket error'));
    pacs.on('close', () => this.#safely(() => this.#onPacsClose()));
    // ARTIM (PS3.8 §9.1.5): the A-ASSOCIATE-RQ must arrive in time.
    this.#timers.after(dicom.artimSeconds * 1000, () => {
      if (this.#state !== 'awaiting-rq') return;
      this.#auditAssociation('deny', 'artim-timeout');
      this.#destroy();
    });
  }

  #safely(fn: () => void): void {
    try { fn(); } catch (err) { this.#internalError(err); }
  }

  #internalError(err: unknown): void {
    this.#log.error({ err }, 'internal error in the relay; closing the association');
    try {
      this.#auditAssociation('deny', 'internal-error');
      this.#destroy();
    } catch { /* already torn down */ }
  }

  /** The gateway is stopping: A-ABORT to both peers. */
  shutdown(): void {
    this.#abortBoth(AbortReason.NotSpecified, AbortReason.NotSpecified);
  }

  #auditAssociation(decision: 'allow' | 'deny', reason: string, extra: Record<string, unknown> = {}): void {
    if (this.#audited) return;
    this.#audited = true;
    const dest = this.#destination;
    this.#d.audit.record({
      event: 'relay.association', decision, reason, source: this.#source, associationId: this.id,
      callingAe: this.#callingAe, calledAe: this.#calledAe,
      ...(dest === undefined ? {} : { destinationHost: dest.host, destinationPort: dest.port }),
      ...extra,
    });
  }

  // ---- PACS side ---------------------------------------------------------------------------

  /** Once closed, the readers are halted (#ended): the rest of the chunk and any later one are only counted. */
  #onPacsData(chunk: Buffer): void {
    if (this.#state !== 'closed') this.#lastActivity = Date.now();
    try {
      this.#pacsReader.push(chunk);
    } catch (err) {
      this.#pipe?.dropUncopied();
      return this.#violation(err, 'client');
    }
    if (this.#state !== 'closed') this.#pipe?.flush();
  }

  /** The PACS is the 'client' of the guard's transition table (the same one its reader checks headers against). */
  #onPacsPdu(type: PduTypeValue, raw: Buffer): void {
    const s = this.#state;
    switch (clientAction(s, type)) {
      case 'admit': return this.#open(raw);
      case 'client-aborted':
        this.#log.info({ state: s }, 'PACS sent A-ABORT');
        if (this.#up !== undefined && (s === 'established' || s === 'releasing')) writeAll(this.#up, [...(this.#pipe?.drainToUpstream() ?? []), raw]);
        this.#auditAssociation('deny', 'pacs-aborted');
        return this.#close('aborted-by-pacs');
      case 'request-release': return this.#forwardRelease(s, type, raw, 'releasing');
      // A release collision (PS3.8 §9.2.6): the PACS answers the destination's A-RELEASE-RQ; the destination's A-RELEASE-RP ends it.
      case 'answer-release': return this.#forwardRelease(s, type, raw, s);
      // The PACS's answer to a release the destination asked for: the association is over.
      case 'release-answered':
        this.#forwardRelease(s, type, raw, s);
        return this.#close('released');
    }
  }

  /** A release PDU from the PACS, between commands only, to the destination (after what the pipe holds). */
  #forwardRelease(s: AssociationState, type: PduTypeValue, raw: Buffer, next: AssociationState): void {
    if (this.#up === undefined || this.#pipe?.filter.idle !== true) {
      throw new PduError(`unexpected ${PDU_NAMES[type] ?? 'PDU'} from the PACS in state ${s}`, AbortReason.UnexpectedPdu);
    }
    this.#state = next;
    writeAll(this.#up, [...this.#pipe.drainToUpstream(), raw]);
  }

  #open(raw: Buffer): void {
    let rq: AssociateRq;
    try {
      rq = parseAssociateRq(raw);
    } catch (err) {
      return this.#violation(err, 'client');
    }
    this.#rq = rq;
    this.#callingAe = rq.callingAe;
    this.#calledAe = rq.calledAe;
    const dest = this.#d.destinations.get(rq.calledAe);
    if (dest === undefined) return this.#reject(Refusal.calledAeNotRecognized, 'unknown-destination');
    this.#destination = dest;
    this.#state = 'awaiting-ac';
    this.#log.info({ callingAe: rq.callingAe, calledAe: rq.calledAe, destination: `${dest.host}:${dest.port}` }, 'relay association requested; opening TLS to the destination');
    const { config } = this.#d;
    const up = connectDestination(dest);
    this.#up = up;
    this.#upReader = new PduReader(
      sideHandler('upstream', () => this.#state, (t, r) => this.#onUpPdu(t, r), () => this.#inbound),
      { maxAssociateBytes: config.dicom.maxAssociateRqBytes, maxPDataBytes: config.dicom.maxPduBytes },
    );
    // The destination sees the same AE titles and presentation contexts; the PDU size is capped at the gateway's limit.
    const toDestination = requestForPacs(rq, rq.calledAe, config.dicom.maxPduBytes);
    up.once('secureConnect', () => this.#safely(() => {
      this.#log.info({ protocol: up.getProtocol() }, 'TLS to the destination verified');
      writeAll(up, [toDestination]);
    }));
    up.on('data', (chunk: Buffer) => this.#safely(() => this.#onUpData(chunk)));
    up.on('error', (err) => this.#safely(() => this.#onUpError(err)));
    up.on('close', () => this.#safely(() => this.#onUpClose()));
    this.#timers.after(config.upstream.timeoutMs, () => {
      if (this.#state === 'awaiting-ac') this.#reject(Refusal.temporaryCongestion, 'destination-timeout');
    });
  }

  #reject(rj: Rejection, reason: string, detail?: string): void {
    this.#log.info({ reason, detail, rejection: rj }, 'relay A-ASSOCIATE-RJ');
    this.#auditAssociation('deny', reason, { rejection: { ...rj }, ...(detail === undefined ? {} : { detail }) });
    if (this.#state === 'closed') return;
    writeAll(this.#pacs, [buildAssociateRj(rj)]);
    this.#close('rejected');
  }

  // ---- destination side --------------------------------------------------------------------

  #onUpError(err: Error): void {
    const code = (err as NodeJS.ErrnoException).code;
    this.#log.warn({ err: { message: err.message, code } }, 'destination connection error');
    if (this.#state !== 'awaiting-ac') return;
    // A refused or unroutable connection, or anything in the TLS handshake (the destination's certificate, or it refusing ours).
    const reason = code !== undefined && UNREACHABLE.has(code) ? 'destination-unreachable' : 'destination-tls-failed';
    this.#reject(Refusal.temporaryCongestion, reason, `${code ?? ''} ${err.message}`.trim());
  }

  #onUpData(chunk: Buffer): void {
    if (this.#state !== 'closed') this.#lastActivity = Date.now();
    try {
      this.#upReader?.push(chunk);
    } catch (err) {
      return this.#violation(err, 'upstream');
    }
    if (this.#state !== 'closed') this.#pipe?.flush();
  }

  /** The destination is the 'upstream' of the guard's transition table, likewise. */
  #onUpPdu(type: PduTypeValue, raw: Buffer): void {
    switch (upstreamAction(this.#state, type)) {
      case 'accepted': return this.#accepted(raw);
      case 'upstream-rejected': {
        const rj = parseAssociateRj(raw);
        this.#auditAssociation('deny', 'destination-rejected', { rejection: { ...rj } });
        writeAll(this.#pacs, [raw]);
        return this.#close('rejected');
      }
      case 'upstream-out-of-turn': return this.#reject(Refusal.temporaryCongestion, `destination-sent-${PDU_NAMES[type] ?? 'unknown'}`);
      case 'relay-abort':
        this.#log.warn('destination aborted the association');
        writeAll(this.#pacs, [...(this.#pipe?.drainToClient() ?? []), raw]);
        return this.#close('aborted-by-destination');
      case 'relay-release': return void writeAll(this.#pacs, [...(this.#pipe?.drainToClient() ?? []), raw]);
      case 'released':
        writeAll(this.#pacs, [...(this.#pipe?.drainToClient() ?? []), raw]);
        return this.#close('released');
    }
  }

  #accepted(raw: Buffer): void {
    const rq = this.#rq as AssociateRq;
    const dest = this.#destination as Destination;
    const { dicom } = this.#d.config;
    const { bytes, contexts } = acceptForClient(parseAssociateAc(raw), rq, dicom.maxPduBytes, false);
    const transfers = new TransferAudit({
      associationId: this.id, source: this.#source, callingAe: rq.callingAe,
      destinationAe: dest.aeTitle, destinationHost: dest.host, destinationPort: dest.port,
    }, this.#d.audit, this.#d.moves);
    this.#transfers = transfers;
    const filter = new RequestFilter({
      maxCommandBytes: dicom.maxCommandBytes, contexts,
      clientMaxFragment: capPdu(rq.maxPduLength, dicom.maxPduBytes) - PDV_HEADER_BYTES,
      decide: (cmd, abstractSyntax) => this.#decide(cmd, abstractSyntax),
    });
    const relay = new ResponseRelay(Math.max(dicom.maxCommandBytes, 65536), (r) => transfers.answered(r));
    this.#pipe = new GuardedPipe(this.#pacs, this.#up as Socket, filter, relay);
    this.#inbound = responsesOnly(relay, dicom.maxCommandBytes);
    this.#state = 'established';
    writeAll(this.#pacs, [bytes]);
    this.#log.info({ contexts: contexts.size }, 'relay association established');
    this.#auditAssociation('allow', 'accepted');
    this.#timers.idle(dicom.idleSeconds * 1000, () => this.#lastActivity, () => {
      this.#log.info({ idleSeconds: dicom.idleSeconds }, 'relay association idle; aborting');
      this.#abortBoth(AbortReason.NotSpecified, AbortReason.NotSpecified);
    });
    this.#rq = undefined;
  }

  #decide(cmd: CommandSet, abstractSyntax: string): CommandDecision {
    const d = decideOutbound(cmd, abstractSyntax);
    if (d.kind === 'allow') {
      this.#transfers?.stored(cmd);
    } else if (d.kind === 'refuse') {
      this.#log.info({ command: d.name, reason: d.reason }, 'relay refused a command');
      this.#d.audit.record({
        event: 'relay.command', decision: 'deny', reason: d.reason, action: d.action, source: this.#source, associationId: this.id,
        callingAe: this.#callingAe, calledAe: this.#calledAe, command: d.name, messageId: cmd.messageId,
        sopClassUid: cmd.affectedSopClassUid ?? cmd.requestedSopClassUid,
      });
    }
    return d;
  }

  #onUpClose(): void {
    this.#upClosed = true;
    const s = this.#state;
    if (s === 'closed') return this.#finish();
    if (s === 'awaiting-ac') return this.#reject(Refusal.temporaryCongestion, 'destination-unreachable');
    this.#log.warn({ state: s }, 'destination closed the connection mid-association; aborting the PACS side');
    if (writable(this.#pacs)) writeAll(this.#pacs, [...(this.#pipe?.drainToClient() ?? []), buildAbort(AbortReason.NotSpecified)]);
    this.#close('destination-closed');
  }

  // ---- both sides --------------------------------------------------------------------------

  #violation(err: unknown, side: 'client' | 'upstream'): void {
    const reason: AbortReasonValue = err instanceof PduError ? err.abortReason : AbortReason.NotSpecified;
    const message = err instanceof Error ? err.message : String(err);
    if (!(err instanceof PduError)) this.#log.error({ err }, 'internal error in the relay');
    const who = side === 'client' ? 'pacs' : 'destination';
    if (side === 'upstream' && this.#state === 'awaiting-ac') return this.#reject(Refusal.temporaryCongestion, 'destination-protocol-violation', message);
    this.#log.warn({ side: who, reason, violation: message, state: this.#state }, `protocol violation by the ${who} on the relay; A-ABORT`);
    this.#d.audit.alert('dicom.protocol-violation', { side: who, source: this.#source, associationId: this.id, abortReason: reason, detail: message, listener: 'relay' });
    this.#auditAssociation('deny', 'protocol-violation', { detail: message });
    if (side === 'client') this.#abortBoth(reason, AbortReason.NotSpecified);
    else this.#abortBoth(AbortReason.NotSpecified, reason);
  }

  #abortBoth(pacsReason: AbortReasonValue, upReason: AbortReasonValue): void {
    if (this.#state === 'closed') return;
    if (writable(this.#pacs)) writeAll(this.#pacs, [buildAbort(pacsReason)]);
    const up = this.#up;
    if (up !== undefined && (this.#state === 'established' || this.#state === 'releasing') && writable(up)) writeAll(up, [buildAbort(upReason)]);
    this.#close('aborted-by-gateway');
  }

  #onPacsClose(): void {
    this.#pacsClosed = true;
    if (this.#state === 'closed') return this.#finish();
    const up = this.#up;
    if (up !== undefined && (this.#state === 'established' || this.#state === 'releasing') && writable(up)) writeAll(up, [buildAbort(AbortReason.NotSpecified)]);
    if (this.#state === 'awaiting-rq' || this.#state === 'awaiting-ac') this.#auditAssociation('deny', 'pacs-closed');
    this.#close('pacs-closed');
  }

  #close(ended: string): void {
    if (this.#state !== 'closed') {
      this.#ended();
      this.#log.info({ ended }, 'relay association ended');
      const grace = this.#d.config.dicom.artimSeconds * 1000;
      endSoon(this.#pacs, grace);
      if (this.#up !== undefined) endSoon(this.#up, grace);
      this.#transfers?.finish(ended);
    }
    this.#finish();
  }

  #destroy(): void {
    this.#ended();
    this.#pacs.destroy();
    this.#up?.destroy();
    this.#transfers?.finish('destroyed');
    this.#finish();
  }

  /**
   * The association is over: nothing more is read from either side, not even the rest of the chunk
   * being read (a PACS's A-ABORT + A-ASSOCIATE-RQ, its A-RELEASE-RP + a C-STORE, a destination's
   * A-RELEASE-RP + P-DATA).
   */
  #ended(): void {
    this.#state = 'closed';
    this.#pacsReader.halt();
    this.#upReader?.halt();
  }

  /** Once both sockets have closed: what arrived after the end, dropped unread (not a violation). */
  #logDiscarded(): void {
    const fromPacs = this.#pacsReader.discarded;
    const fromDestination = this.#upReader?.discarded ?? 0;
    if (fromPacs + fromDestination > 0) this.#log.debug({ fromPacs, fromDestination }, 'bytes received after the association ended were discarded');
  }

  #finish(): void {
    this.#timers.clear();
    if (this.#pacsClosed && (this.#up === undefined || this.#upClosed)) this.#resolveClosed();
  }
}
