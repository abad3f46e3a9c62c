// One client connection: ARTIM → admission → upstream association → guarded relay → release or abort.

import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../audit/logger.js';
import type { Principal } from '../identity/principal.js';
import { canonicalAddress } from '../util/address-key.js';
import { readChunks } from '../util/socket-read.js';
import { NO_PEER_CERTIFICATE, snapshotPeer, type PeerIdentity } from '../tls/peer-identity.js';
import { tlsError } from '../tls/profile.js';
import { buildAbort } from './abort.js';
import { admit, type AdmittedVia } from './admission.js';
import { auditAssociation, type ClaimedIdentity, type ConnectionFacts } from './association-audit.js';
import type { AssociationDeps } from './association-deps.js';
import { AssociationLegs } from './association-legs.js';
import { guardedPipe } from './association-pipe.js';
import { Revalidator } from './association-revalidation.js';
import { clientAction, unexpectedPdu, upstreamAction } from './association-transitions.js';
import { parseAssociateAc, parseAssociateRq, type AssociateRq } from './associate-parse.js';
import { AbortReason, PDU_NAMES, type AbortReasonValue, type PduTypeValue } from './constants.js';
import type { GuardedPipe } from './guarded-pipe.js';
import { LimitSlots } from './limit-slots.js';
import { acceptForClient, requestForPacs } from './negotiation.js';
import { PduError } from './pdu-error.js';
import { sideHandler, type AssociationState, type Side } from './pdu-expectations.js';
import { PduReader } from './pdu-reader.js';
import { buildAssociateRj, parseAssociateRj, Refusal, type Rejection } from './reject.js';
import { writable, writeAll } from './socket-io.js';
import { Timers } from './timers.js';

export type { AssociationDeps } from './association-deps.js';

/** The per-connection state machine of the DIMSE guard (PS3.8 §9.2 state table, acceptor side, as a relay). */
export class Association {
  readonly id = randomBytes(6).toString('hex');
  readonly closed: Promise<void>;
  readonly #d: AssociationDeps;
  readonly #log: Logger;
  readonly #facts: ConnectionFacts;
  /** Who the client is, as its handshake established it: never re-read from the socket. */
  readonly #peer: PeerIdentity;
  #state: AssociationState = 'awaiting-rq';
  readonly #legs: AssociationLegs;
  #upstreamReader: PduReader | undefined;
  #rq: AssociateRq | undefined;
  #principal: Principal | undefined;
  #via: AdmittedVia | undefined;
  /** Re-checks the lifetime and the principal once established. */
  #revalidator: Revalidator | undefined;
  readonly #slots: LimitSlots;
  #audited = false;
  #pipe: GuardedPipe | undefined;
  readonly #clientReader: PduReader;
  readonly #timers = new Timers((err) => this.#internalError(err));
  #lastActivity = Date.now();

  /** `client` is a TLSSocket, or a plain socket when deps.cleartext is set. */
  constructor(client: TLSSocket | Socket, deps: AssociationDeps) {
    this.#d = deps;
    this.#slots = new LimitSlots(deps.limits);
    this.#legs = new AssociationLegs(client, () => {
      this.#timers.clear();
      this.#slots.release();
    });
    this.closed = this.#legs.closed;
    this.closed.then(() => this.#logDiscarded(), () => undefined);
    this.#peer = deps.cleartext === undefined ? snapshotPeer(client as TLSSocket, deps.recheckPeer) : NO_PEER_CERTIFICATE;
    this.#facts = {
      associationId: this.id, source: canonicalAddress(client.remoteAddress ?? 'unknown'),
      tlsVersion: this.#peer.tlsVersion ?? null, certFingerprint: this.#peer.certificate?.fingerprint256,
      ...(deps.cleartext === undefined ? {} : { channel: 'cleartext' as const }),
    };
    this.#log = deps.logger.child({ assoc: this.id, source: this.#facts.source });
    const dicom = deps.config.dicom;
    this.#clientReader = new PduReader(
      sideHandler('client', () => this.#state, (t, raw) => this.#onClientPdu(t, raw), () => this.#pipe?.filter),
      { maxAssociateBytes: dicom.maxAssociateRqBytes, maxPDataBytes: dicom.maxPduBytes },
      // The request filter re-frames what it forwards and never uses the P-DATA/PDV header bytes.
      { headerViews: false },
    );
    client.setNoDelay(true);
    // The client's chunks are views of a shared buffer: whatever outlives the call is copied (GuardedPipe).
    readChunks(client, this.#onClientChunk);
    // Any error on the client's socket (a TLS alert, a refused renegotiation, a reset) ends the connection.
    client.on('error', (err) => {
      const code = (err as NodeJS.ErrnoException).code;
      this.#log[tlsError(code) ? 'info' : 'debug']({ err: { message: err.message, code } }, 'client socket error; closing the connection');
      client.destroy();
    });
    client.on('close', () => this.#safely(() => this.#onClientClose()));
    // ARTIM (PS3.8 §9.1.5): the A-ASSOCIATE-RQ must arrive in time, or the connection is closed.
    this.#timers.after(dicom.artimSeconds * 1000, () => {
      if (this.#state !== 'awaiting-rq') return;
      this.#log.info({ bytes: this.#clientReader.bytesIn }, 'ARTIM expired before A-ASSOCIATE-RQ; closing');
      this.#audit({ decision: 'deny', reason: 'artim-timeout' });
      this.#destroy();
    });
  }

  get state(): AssociationState { return this.#state; }

  /** Runs an event handler; a bug in the gateway ends this association, never the process. */
  #safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#internalError(err);
    }
  }

  #internalError(err: unknown): void {
    this.#log.error({ err }, 'internal error in the DIMSE guard; closing the association');
    try {
      this.#audit({ decision: 'deny', reason: 'internal-error', principal: this.#principal });
      this.#destroy();
    } catch {
      // already torn down
    }
  }

  /** Ends the association from the gateway's side (shutdown): A-ABORT to both peers. */
  shutdown(): void {
    if (this.#state === 'closed') return;
    this.#log.info('gateway shutting down; aborting association');
    this.#abortBoth(AbortReason.NotSpecified, AbortReason.NotSpecified);
  }

  #audit(e: Parameters<typeof auditAssociation>[2]): void {
    if (this.#audited) return;
    this.#audited = true;
    auditAssociation(this.#d.audit, this.#facts, e);
  }

  // ---- client side -------------------------------------------------------------------------

  /** The client's bytes: `chunk`'s first `length` bytes (see readChunks); like #safely, without a closure per chunk. */
  readonly #onClientChunk = (chunk: Buffer, length: number): void => {
    try {
      this.#onData('client', this.#clientReader, chunk, length);
    } catch (err) {
      this.#internalError(err);
    }
  };

  /**
   * Bytes from one side: whole PDUs go to the transitions, P-DATA to the pipe, which then flushes.
   * Once closed, the readers are halted (#close): the rest of the chunk and any later one are only counted.
   */
  #onData(side: Side, reader: PduReader | undefined, chunk: Buffer, length: number): void {
    if (this.#state !== 'closed') this.#lastActivity = Date.now();
    try {
      reader?.push(chunk, length);
    } catch (err) {
      if (side === 'client') this.#pipe?.dropUncopied();
      this.#violation(err, side);
      return;
    }
    if (this.#state !== 'closed') this.#pipe?.flush();
  }

  #onClientPdu(type: PduTypeValue, raw: Buffer): void {
    const s = this.#state;
    switch (clientAction(s, type)) {
      case 'admit': return this.#startAdmission(raw);
      case 'client-aborted': return this.#clientAborted(s, raw);
      case 'request-release': return this.#forwardRelease(s, type, raw, 'releasing');
      case 'answer-release': return this.#forwardRelease(s, type, raw, s);
      case 'release-answered':
        this.#forwardRelease(s, type, raw, s);
        this.#log.info('association released');
        return this.#close();
    }
  }

  #clientAborted(s: AssociationState, raw: Buffer): void {
    this.#log.info({ state: s }, 'client sent A-ABORT');
    if (this.#legs.upstream !== undefined && (s === 'established' || s === 'releasing')) writeAll(this.#legs.upstream, [...(this.#pipe?.drainToUpstream() ?? []), raw]);
    this.#audit({ decision: 'deny', reason: 'client-aborted' });
    this.#destroy();
  }

  #startAdmission(raw: Buffer): void {
    this.#state = 'admitting';
    this.#admit(raw).catch((err: unknown) => this.#internalError(err));
  }

  /** A release PDU goes to the PACS only between commands (no command or data set half relayed). */
  #forwardRelease(s: AssociationState, type: PduTypeValue, raw: Buffer, next: AssociationState): void {
    if (this.#legs.upstream === undefined || this.#pipe?.filter.idle !== true) throw unexpectedPdu('client', s, type);
    this.#state = next;
    writeAll(this.#legs.upstream, [...this.#pipe.drainToUpstream(), raw]);
  }

  async #admit(raw: Buffer): Promise<void> {
    let rq: AssociateRq;
    try {
      rq = parseAssociateRq(raw);
    } catch (err) {
      this.#violation(err, 'client');
      return;
    }
    this.#rq = rq;
    this.#facts.callingAe = rq.callingAe;
    this.#facts.calledAe = rq.calledAe;
    if (!this.#slots.tryOpen()) return this.#reject(Refusal.localLimitExceeded, 'association-limit');
    const context = { associationId: this.id, roles: this.#d.config.roles };
    const legacy = this.#d.cleartext;
    const a = legacy === undefined ? await admit(rq, this.#peer, this.#facts.source, this.#d.identity, context) : legacy.admission(rq, context);
    if (this.#state !== 'admitting') return; // the client went away meanwhile
    if (!a.ok) {
      if (a.alert !== undefined) this.#d.audit.alert(a.alert, { source: this.#facts.source, associationId: this.id, certFingerprint: this.#facts.certFingerprint, detail: a.detail });
      return this.#reject(a.rejection, a.reason, a.detail, undefined, { named: a.named, userIdentityType: a.userIdentityType, refusal: a.refusal });
    }
    if (!this.#slots.tryPrincipal(a.principal.id)) return this.#reject(Refusal.localLimitExceeded, 'principal-association-limit', undefined, a.principal);
    this.#principal = a.principal;
    this.#via = a.via;
    this.#log.info({ principal: a.principal.id, via: a.via, callingAe: rq.callingAe }, 'association admitted by gateway; opening upstream');
    this.#openUpstream(rq);
  }

  #reject(rj: Rejection, reason: string, detail?: string, principal: Principal | undefined = this.#principal, claimed?: ClaimedIdentity): void {
    this.#log.info({ reason, detail, rejection: rj }, 'A-ASSOCIATE-RJ');
    this.#audit({ decision: 'deny', reason, principal, rejection: rj, ...(detail === undefined ? {} : { detail }), ...claimed });
    if (this.#state === 'closed') return;
    writeAll(this.#legs.client, [buildAssociateRj(rj)]);
    this.#close();
  }

  // ---- upstream side -----------------------------------------------------------------------

  #openUpstream(rq: AssociateRq): void {
    const { config } = this.#d;
    const up = connect({ host: config.upstream.dicom.host, port: config.upstream.dicom.port, noDelay: true });
    this.#legs.upstream = up;
    this.#state = 'awaiting-ac';
    up.setNoDelay(true);
    this.#upstreamReader = new PduReader(
      sideHandler('upstream', () => this.#state, (t, raw) => this.#onUpstreamPdu(t, raw), () => this.#pipe?.relay),
      { maxAssociateBytes: config.dicom.maxAssociateRqBytes, maxPDataBytes: config.dicom.maxPduBytes },
    );
    const toPacs = requestForPacs(rq, config.upstream.dicom.aeTitle, config.dicom.maxPduBytes);
    up.once('connect', () => this.#safely(() => writeAll(up, [toPacs])));
    up.on('data', (chunk: Buffer) => this.#safely(() => this.#onData('upstream', this.#upstreamReader, chunk, chunk.length)));
    up.on('error', (err) => this.#log.warn({ err: { message: err.message, code: (err as NodeJS.ErrnoException).code } }, 'upstream socket error'));
    up.on('close', () => this.#safely(() => this.#onUpstreamClose()));
    this.#timers.after(config.upstream.timeoutMs, () => {
      if (this.#state === 'awaiting-ac') this.#reject(Refusal.temporaryCongestion, 'upstream-timeout');
    });
  }

  #onUpstreamPdu(type: PduTypeValue, raw: Buffer): void {
    switch (upstreamAction(this.#state, type)) {
      case 'accepted': return this.#accepted(raw);
      case 'upstream-rejected': return this.#upstreamRejected(raw);
      case 'upstream-out-of-turn': return this.#reject(Refusal.temporaryCongestion, `upstream-sent-${PDU_NAMES[type] ?? 'unknown'}`);
      case 'relay-abort':
        this.#log.warn('PACS aborted the association');
        this.#relayToClient(raw);
        return this.#close();
      case 'relay-release': return this.#relayToClient(raw);
      case 'released':
        this.#relayToClient(raw);
        this.#log.info('association released');
        return this.#close();
    }
  }

  #relayToClient(raw: Buffer): void {
    writeAll(this.#legs.client, [...(this.#pipe?.drainToClient() ?? []), raw]);
  }

  #upstreamRejected(raw: Buffer): void {
    const rj = parseAssociateRj(raw);
    this.#log.info({ rejection: rj }, 'PACS rejected the association');
    this.#audit({ decision: 'deny', reason: 'upstream-rejected', principal: this.#principal, rejection: rj });
    writeAll(this.#legs.client, [raw]);
    this.#close();
  }

  #accepted(raw: Buffer): void {
    const rq = this.#rq as AssociateRq;
    const principal = this.#principal as Principal;
    const { dicom } = this.#d.config;
    const identity = rq.userIdentity;
    // PS3.7 D.3.3.7: answer only when asked, and only for the identity that admitted the caller.
    const viaIdentity = this.#via === 'user-identity';
    const { bytes, contexts } = acceptForClient(parseAssociateAc(raw), rq, dicom.maxPduBytes, viaIdentity && identity?.positiveResponseRequested === true);
    const context = { deps: this.#d, facts: this.#facts, log: this.#log, principal };
    this.#pipe = guardedPipe(this.#legs.client, this.#legs.upstream as Socket, rq, contexts, { ...context, principalValid: () => this.#revalidator?.principalValid !== false });
    this.#state = 'established';
    const revalidator = new Revalidator({ ...context, establishedAt: this.#d.clock(), isClosed: () => this.#state === 'closed', abort: () => this.#abortBoth(AbortReason.NotSpecified, AbortReason.NotSpecified) });
    this.#revalidator = revalidator;
    writeAll(this.#legs.client, [bytes]);
    this.#log.info({ principal: principal.id, contexts: contexts.size }, 'association established');
    this.#audit({ decision: 'allow', reason: 'accepted', principal, ...(identity === undefined || !viaIdentity ? {} : { userIdentityType: identity.type }) });
    this.#timers.idle(dicom.idleSeconds * 1000, () => this.#lastActivity, () => {
      this.#log.info({ idleSeconds: dicom.idleSeconds }, 'association idle; aborting');
      this.#abortBoth(AbortReason.NotSpecified, AbortReason.NotSpecified);
    });
    this.#timers.every(this.#d.revalidateMs, () => void revalidator.run().catch((err: unknown) => this.#internalError(err)));
    // The parsed request (every proposed presentation context) is not needed once accepted.
    this.#rq = undefined;
  }

  #onUpstreamClose(): void {
    this.#legs.upstreamClosed();
    const s = this.#state;
    if (s === 'closed') return this.#legs.finish();
    if (s === 'awaiting-ac') return this.#reject(Refusal.temporaryCongestion, 'upstream-unreachable');
    this.#log.warn({ state: s }, 'PACS connection closed mid-association; aborting client');
    if (writable(this.#legs.client)) writeAll(this.#legs.client, [...(this.#pipe?.drainToClient() ?? []), buildAbort(AbortReason.NotSpecified)]);
    this.#close();
  }

  // ---- both sides --------------------------------------------------------------------------

  #violation(err: unknown, side: Side): void {
    const reason: AbortReasonValue = err instanceof PduError ? err.abortReason : AbortReason.NotSpecified;
    const message = err instanceof Error ? err.message : String(err);
    if (!(err instanceof PduError)) this.#log.error({ err }, 'internal error in the DIMSE relay');
    if (side === 'upstream' && this.#state === 'awaiting-ac') {
      this.#log.warn({ violation: message }, 'the PACS answered the association request with a malformed PDU');
      return this.#reject(Refusal.temporaryCongestion, 'upstream-protocol-violation', message);
    }
    this.#log.warn({ side, reason, violation: message, state: this.#state }, `protocol violation by the ${side}; A-ABORT`);
    this.#d.audit.alert('dicom.protocol-violation', { side, source: this.#facts.source, associationId: this.id, abortReason: reason, detail: message, principal: this.#principal?.id });
    this.#audit({ decision: 'deny', reason: 'protocol-violation', principal: this.#principal, detail: message });
    // The peer at fault gets the reason; the innocent one a plain provider abort.
    if (side === 'client') this.#abortBoth(reason, AbortReason.NotSpecified);
    else this.#abortBoth(AbortReason.NotSpecified, reason);
  }

  #abortBoth(clientReason: AbortReasonValue, upstreamReason: AbortReasonValue): void {
    if (this.#state === 'closed') return;
    if (writable(this.#legs.client)) writeAll(this.#legs.client, [buildAbort(clientReason)]);
    const up = this.#legs.upstream;
    const upAssociated = this.#state === 'established' || this.#state === 'releasing';
    if (up !== undefined && upAssociated && writable(up)) writeAll(up, [buildAbort(upstreamReason)]);
    this.#close();
  }

  #onClientClose(): void {
    this.#legs.clientClosed();
    if (this.#state === 'closed') return this.#legs.finish();
    if (this.#rq !== undefined) this.#audit({ decision: 'deny', reason: 'client-closed', principal: this.#principal });
    const up = this.#legs.upstream;
    if (up !== undefined && (this.#state === 'established' || this.#state === 'releasing') && writable(up)) {
      this.#log.info('client closed the connection; closing the PACS side');
      writeAll(up, [buildAbort(AbortReason.NotSpecified)]);
    }
    this.#close();
  }

  /** Graceful end of both legs (pending writes are flushed), forced after a grace period. */
  #close(): void {
    if (this.#state !== 'closed') {
      this.#ended();
      this.#legs.end(this.#d.config.dicom.artimSeconds * 1000);
    }
    this.#legs.finish();
  }

  #destroy(): void {
    this.#ended();
    this.#legs.destroy();
    this.#legs.finish();
  }

  /**
   * The association is over: nothing more is read from either side, not even the rest of the
   * chunk being read (a client's A-ABORT + A-ASSOCIATE-RQ, a PACS's A-RELEASE-RP + P-DATA).
   */
  #ended(): void {
    this.#state = 'closed';
    this.#clientReader.halt();
    this.#upstreamReader?.halt();
  }

  /** Once both sockets have closed: what arrived after the end, dropped unread (not a violation). */
  #logDiscarded(): void {
    const fromClient = this.#clientReader.discarded;
    const fromPacs = this.#upstreamReader?.discarded ?? 0;
    if (fromClient + fromPacs > 0) this.#log.debug({ fromClient, fromPacs }, 'bytes received after the association ended were discarded');
  }
}
