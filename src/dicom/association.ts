// One client connection: ARTIM → admission → upstream association → guarded relay → release or abort.

import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Audit } from '../audit/audit.js';
import type { Logger } from '../audit/logger.js';
import type { GatewayConfig } from '../config/types.js';
import type { Principal } from '../identity/principal.js';
import type { IdentityResolver } from '../identity/resolver.js';
import { buildAbort } from './abort.js';
import { admit, presentedCertificate } from './admission.js';
import { auditAssociation, auditCommand, type ConnectionFacts } from './association-audit.js';
import { parseAssociateAc, parseAssociateRq, type AssociateRq } from './associate-parse.js';
import { rewriteAssociate } from './associate-build.js';
import { AbortReason, ItemType, PDU_NAMES, PduType, PresentationResult, type AbortReasonValue, type PduTypeValue } from './constants.js';
import { decideCommand } from './command-guard.js';
import type { AssociationLimits } from './limits.js';
import { PduError } from './pdu-error.js';
import { PduReader, type PduHandler } from './pdu-reader.js';
import { buildAssociateRj, parseAssociateRj, Refusal, type Rejection } from './reject.js';
import { RequestFilter } from './request-filter.js';
import { ResponseRelay } from './response-relay.js';
import { endSoon, holdUntilDrained, writable, writeAll } from './socket-io.js';
import { userIdentityAcValue } from './user-identity.js';

export interface AssociationDeps {
  readonly config: GatewayConfig;
  readonly logger: Logger;
  readonly audit: Audit;
  readonly identity: IdentityResolver;
  readonly limits: AssociationLimits;
  /** How often an admitted principal is re-checked with identity.stillValid. */
  readonly revalidateMs: number;
}

type State = 'awaiting-rq' | 'admitting' | 'awaiting-ac' | 'established' | 'releasing' | 'closed';

/** PDU types each side may send in each state (PS3.8 §9.2 state table, as seen by a relay). */
const EXPECTED: Readonly<Record<'client' | 'upstream', Readonly<Record<State, readonly number[]>>>> = Object.freeze({
  client: {
    'awaiting-rq': [PduType.AssociateRq, PduType.Abort],
    admitting: [PduType.Abort],
    'awaiting-ac': [PduType.Abort],
    established: [PduType.PData, PduType.ReleaseRq, PduType.ReleaseRp, PduType.Abort],
    releasing: [PduType.ReleaseRp, PduType.Abort],
    closed: [],
  },
  upstream: {
    'awaiting-rq': [],
    admitting: [],
    'awaiting-ac': [PduType.AssociateAc, PduType.AssociateRj, PduType.Abort],
    established: [PduType.PData, PduType.ReleaseRq, PduType.ReleaseRp, PduType.Abort],
    releasing: [PduType.PData, PduType.ReleaseRp, PduType.ReleaseRq, PduType.Abort],
    closed: [],
  },
});

/** Handlers for a reader whose P-DATA events go to `target` once it exists. */
function pduHandler(side: 'client' | 'upstream', state: () => State, onPdu: (t: PduTypeValue, raw: Buffer) => void, target: () => Omit<PduHandler, 'onPdu'>): PduHandler {
  return {
    // Refuse a PDU that is out of place on its header, before its length is even looked at.
    onPduHeader: (type) => {
      const s = state();
      if (s !== 'closed' && !EXPECTED[side][s].includes(type)) {
        throw new PduError(`unexpected ${PDU_NAMES[type] ?? 'PDU'} from the ${side === 'client' ? 'client' : 'PACS'} in state ${s}`, AbortReason.UnexpectedPdu);
      }
    },
    onPdu,
    onPDataStart: (n, raw) => target().onPDataStart(n, raw),
    onPdv: (h, raw) => target().onPdv(h, raw),
    onFragment: (d) => target().onFragment(d),
    onPdvEnd: (h) => target().onPdvEnd(h),
    onPDataEnd: () => target().onPDataEnd(),
  };
}

const NOT_YET: Omit<PduHandler, 'onPdu'> = {
  onPDataStart() { throw new PduError('P-DATA-TF before the association was accepted', AbortReason.UnexpectedPdu); },
  onPdv() { /* unreachable */ }, onFragment() { /* unreachable */ }, onPdvEnd() { /* unreachable */ }, onPDataEnd() { /* unreachable */ },
};

/** node reports the verification failure as an OpenSSL code string (typed as Error). */
function authorizationCode(e: unknown): string | undefined {
  if (e === undefined || e === null) return undefined;
  return typeof e === 'string' ? e : String((e as { code?: unknown }).code ?? (e as Error).message);
}

/** Caps a Maximum Length value (0 = unlimited, PS3.8 Annex D.1) at the gateway's own PDU limit. */
function capPdu(value: number | undefined, cap: number): number {
  return value === undefined || value === 0 || value > cap ? cap : value;
}

/** The per-connection state machine of the DIMSE guard (PS3.8 §9.2 state table, acceptor side, as a relay). */
export class Association {
  readonly id = randomBytes(6).toString('hex');
  readonly closed: Promise<void>;
  readonly #d: AssociationDeps;
  readonly #client: TLSSocket;
  readonly #log: Logger;
  readonly #facts: ConnectionFacts;
  #state: State = 'awaiting-rq';
  #upstream: Socket | undefined;
  #upstreamReader: PduReader | undefined;
  #rq: AssociateRq | undefined;
  #principal: Principal | undefined;
  #via: 'certificate' | 'user-identity' | undefined;
  #principalValid = true;
  #counted = false;
  #principalCounted: string | undefined;
  #clientClosed = false;
  #upstreamClosed = false;
  #audited = false;
  #filter: RequestFilter | undefined;
  #relay: ResponseRelay | undefined;
  readonly #pendingToClient: Buffer[] = [];
  readonly #clientReader: PduReader;
  readonly #timers: NodeJS.Timeout[] = [];
  #lastActivity = Date.now();
  #resolveClosed!: () => void;

  constructor(client: TLSSocket, deps: AssociationDeps) {
    this.#d = deps;
    this.#client = client;
    this.closed = new Promise((r) => { this.#resolveClosed = r; });
    const cert = presentedCertificate(client.getPeerCertificate());
    this.#facts = {
      associationId: this.id, source: client.remoteAddress ?? 'unknown',
      tlsVersion: client.getProtocol(), certFingerprint: cert?.fingerprint256,
    };
    this.#log = deps.logger.child({ assoc: this.id, source: this.#facts.source });
    const dicom = deps.config.dicom;
    this.#clientReader = new PduReader(
      pduHandler('client', () => this.#state, (t, raw) => this.#onClientPdu(t, raw), () => this.#filter ?? NOT_YET),
      { maxAssociateBytes: dicom.maxAssociateRqBytes, maxPDataBytes: dicom.maxPduBytes },
    );
    client.setNoDelay(true);
    client.on('data', (chunk: Buffer) => this.#onClientData(chunk));
    client.on('error', (err) => this.#log.debug({ err }, 'client socket error'));
    client.on('close', () => this.#onClientClose());
    // ARTIM (PS3.8 §9.1.5): the A-ASSOCIATE-RQ must arrive in time, or the connection is closed.
    this.#timer(dicom.artimSeconds * 1000, () => {
      if (this.#state !== 'awaiting-rq') return;
      this.#log.info({ bytes: this.#clientReader.bytesIn }, 'ARTIM expired before A-ASSOCIATE-RQ; closing');
      this.#audit({ decision: 'deny', reason: 'artim-timeout' });
      this.#destroy();
    });
  }

  get state(): State { return this.#state; }

  /** Ends the association from the gateway's side (shutdown): A-ABORT to both peers. */
  shutdown(): void {
    if (this.#state === 'closed') return;
    this.#log.info('gateway shutting down; aborting association');
    this.#abortBoth(AbortReason.NotSpecified, AbortReason.NotSpecified);
  }

  #timer(ms: number, fn: () => void, repeat = false): void {
    const t = repeat ? setInterval(fn, ms) : setTimeout(fn, ms);
    t.unref();
    this.#timers.push(t);
  }

  #audit(e: Parameters<typeof auditAssociation>[2]): void {
    if (this.#audited) return;
    this.#audited = true;
    auditAssociation(this.#d.audit, this.#facts, e);
  }

  // ---- client side -------------------------------------------------------------------------

  #onClientData(chunk: Buffer): void {
    if (this.#state === 'closed') return;
    this.#lastActivity = Date.now();
    try {
      this.#clientReader.push(chunk);
    } catch (err) {
      this.#violation(err, 'client');
      return;
    }
    this.#flush();
  }

  #onClientPdu(type: PduTypeValue, raw: Buffer): void {
    const s = this.#state;
    if (type === PduType.Abort) {
      this.#log.info({ state: s }, 'client sent A-ABORT');
      if (this.#upstream !== undefined && (s === 'established' || s === 'releasing')) writeAll(this.#upstream, [...(this.#filter?.toUpstream ?? []), raw]);
      this.#audit({ decision: 'deny', reason: 'client-aborted' });
      this.#destroy();
      return;
    }
    if (s === 'awaiting-rq' && type === PduType.AssociateRq) {
      this.#state = 'admitting';
      void this.#admit(raw);
      return;
    }
    const forwardable = type === PduType.ReleaseRq || type === PduType.ReleaseRp;
    if (s === 'established' && forwardable && this.#upstream !== undefined && this.#filter?.idle === true) {
      if (type === PduType.ReleaseRq) this.#state = 'releasing';
      writeAll(this.#upstream, [...this.#filter.toUpstream, raw]);
      return;
    }
    throw new PduError(`unexpected ${PDU_NAMES[type] ?? 'PDU'} from the client in state ${s}`, AbortReason.UnexpectedPdu);
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
    if (!this.#d.limits.tryOpen()) return this.#reject(Refusal.localLimitExceeded, 'association-limit');
    this.#counted = true;
    const peer = {
      authorized: this.#client.authorized, authorizationError: authorizationCode(this.#client.authorizationError),
      certificate: presentedCertificate(this.#client.getPeerCertificate()),
    };
    const a = await admit(rq, peer, this.#facts.source, this.#d.identity);
    if (this.#state !== 'admitting') return; // the client went away meanwhile
    if (!a.ok) {
      if (a.alert !== undefined) this.#d.audit.alert(a.alert, { source: this.#facts.source, associationId: this.id, certFingerprint: this.#facts.certFingerprint, detail: a.detail });
      return this.#reject(a.rejection, a.reason, a.detail);
    }
    if (!this.#d.limits.tryPrincipal(a.principal.id)) return this.#reject(Refusal.localLimitExceeded, 'principal-association-limit', undefined, a.principal);
    this.#principalCounted = a.principal.id;
    this.#principal = a.principal;
    this.#via = a.via;
    this.#log.info({ principal: a.principal.id, via: a.via, callingAe: rq.callingAe }, 'association admitted by gateway; opening upstream');
    this.#openUpstream(rq);
  }

  #reject(rj: Rejection, reason: string, detail?: string, principal: Principal | undefined = this.#principal): void {
    this.#log.info({ reason, detail, rejection: rj }, 'A-ASSOCIATE-RJ');
    this.#audit({ decision: 'deny', reason, principal, rejection: rj, ...(detail === undefined ? {} : { detail }) });
    if (this.#state === 'closed') return;
    writeAll(this.#client, [buildAssociateRj(rj)]);
    this.#close();
  }

  // ---- upstream side -----------------------------------------------------------------------

  #openUpstream(rq: AssociateRq): void {
    const { config } = this.#d;
    const up = connect({ host: config.upstream.dicom.host, port: config.upstream.dicom.port });
    this.#upstream = up;
    this.#state = 'awaiting-ac';
    up.setNoDelay(true);
    this.#upstreamReader = new PduReader(
      pduHandler('upstream', () => this.#state, (t, raw) => this.#onUpstreamPdu(t, raw), () => this.#relay ?? NOT_YET),
      { maxAssociateBytes: config.dicom.maxAssociateRqBytes, maxPDataBytes: config.dicom.maxPduBytes },
    );
    const toPacs = rewriteAssociate(rq, {
      calledAe: config.upstream.dicom.aeTitle,
      maxPduLength: capPdu(rq.maxPduLength, config.dicom.maxPduBytes),
      dropUserItems: [ItemType.UserIdentityRq],
    });
    up.once('connect', () => writeAll(up, [toPacs]));
    up.on('data', (chunk: Buffer) => this.#onUpstreamData(chunk));
    up.on('error', (err) => this.#log.warn({ err: { message: err.message, code: (err as NodeJS.ErrnoException).code } }, 'upstream socket error'));
    up.on('close', () => this.#onUpstreamClose());
    this.#timer(config.upstream.timeoutMs, () => {
      if (this.#state === 'awaiting-ac') this.#reject(Refusal.temporaryCongestion, 'upstream-timeout');
    });
  }

  #onUpstreamData(chunk: Buffer): void {
    if (this.#state === 'closed') return;
    this.#lastActivity = Date.now();
    try {
      this.#upstreamReader?.push(chunk);
    } catch (err) {
      this.#violation(err, 'upstream');
      return;
    }
    this.#flush();
  }

  #onUpstreamPdu(type: PduTypeValue, raw: Buffer): void {
    const s = this.#state;
    if (s === 'awaiting-ac' && type === PduType.AssociateAc) return this.#accepted(raw);
    if (s === 'awaiting-ac' && type === PduType.AssociateRj) {
      const rj = parseAssociateRj(raw);
      this.#log.info({ rejection: rj }, 'PACS rejected the association');
      this.#audit({ decision: 'deny', reason: 'upstream-rejected', principal: this.#principal, rejection: rj });
      writeAll(this.#client, [raw]);
      return this.#close();
    }
    if (s === 'awaiting-ac') return this.#reject(Refusal.temporaryCongestion, `upstream-sent-${PDU_NAMES[type] ?? 'unknown'}`);
    if (type === PduType.Abort) {
      this.#log.warn('PACS aborted the association');
      writeAll(this.#client, [...this.#drainToClient(), raw]);
      return this.#close();
    }
    if (type === PduType.ReleaseRp || type === PduType.ReleaseRq) {
      writeAll(this.#client, [...this.#drainToClient(), raw]);
      if (type === PduType.ReleaseRp && s === 'releasing') {
        this.#log.info('association released');
        this.#close();
      }
      return;
    }
    throw new PduError(`unexpected ${PDU_NAMES[type] ?? 'PDU'} from the PACS in state ${s}`, AbortReason.UnexpectedPdu);
  }

  #accepted(raw: Buffer): void {
    const rq = this.#rq as AssociateRq;
    const principal = this.#principal as Principal;
    const ac = parseAssociateAc(raw);
    const { dicom, roles } = this.#d.config;
    const abstract = new Map(rq.presentationContexts.map((p) => [p.id, p.abstractSyntax]));
    const contexts = new Map<number, string>();
    for (const pc of ac.presentationContexts) {
      const as = abstract.get(pc.id);
      if (pc.result === PresentationResult.Acceptance && as !== undefined) contexts.set(pc.id, as);
    }
    const identity = rq.userIdentity;
    // PS3.7 D.3.3.7: answer only when asked, and only for the identity that admitted the caller.
    const respond = identity?.positiveResponseRequested === true && this.#via === 'user-identity';
    const toClient = rewriteAssociate(ac, {
      calledAe: rq.calledAe,
      maxPduLength: capPdu(ac.maxPduLength, dicom.maxPduBytes),
      dropUserItems: [ItemType.UserIdentityAc],
      appendUserItems: respond ? [{ type: ItemType.UserIdentityAc, value: userIdentityAcValue() }] : [],
    });
    const clientMax = capPdu(rq.maxPduLength, dicom.maxPduBytes);
    this.#filter = new RequestFilter({
      maxCommandBytes: dicom.maxCommandBytes, contexts, clientMaxFragment: clientMax - 6,
      decide: (cmd, abstractSyntax) => {
        const d = decideCommand(cmd, { roles, principal, principalValid: this.#principalValid, abstractSyntax });
        if (d.kind !== 'pass' || d.reason === 'cancel') auditCommand(this.#d.audit, this.#facts, principal, cmd, d);
        else this.#log.debug({ command: d.name }, 'response from client passed');
        return d;
      },
    });
    this.#relay = new ResponseRelay(Math.max(dicom.maxCommandBytes, 65536));
    this.#state = 'established';
    writeAll(this.#client, [toClient]);
    this.#log.info({ principal: principal.id, contexts: contexts.size }, 'association established');
    this.#audit({ decision: 'allow', reason: 'accepted', principal, ...(identity === undefined || this.#via !== 'user-identity' ? {} : { userIdentityType: identity.type }) });
    this.#startIdleTimer();
    this.#timer(this.#d.revalidateMs, () => void this.#revalidate(), true);
  }

  #onUpstreamClose(): void {
    this.#upstreamClosed = true;
    const s = this.#state;
    if (s === 'closed') return this.#finish();
    if (s === 'awaiting-ac') return this.#reject(Refusal.temporaryCongestion, 'upstream-unreachable');
    this.#log.warn({ state: s }, 'PACS connection closed mid-association; aborting client');
    if (writable(this.#client)) writeAll(this.#client, [...this.#drainToClient(), buildAbort(AbortReason.NotSpecified)]);
    this.#close();
  }

  /** What is queued for the client, at a PDU boundary of the PACS stream (PACS bytes first). */
  #drainToClient(): Buffer[] {
    const out = this.#relay?.toClient.splice(0) ?? [];
    if (this.#relay?.atMessageBoundary !== false) out.push(...this.#pendingToClient.splice(0));
    return out;
  }

  // ---- both sides --------------------------------------------------------------------------

  /** Moves the relay's output to the sockets, injecting gateway responses at PACS message boundaries. */
  #flush(): void {
    const up = this.#upstream;
    const filter = this.#filter;
    const relay = this.#relay;
    if (up === undefined || filter === undefined || relay === undefined) return;
    if (!writeAll(up, filter.toUpstream)) holdUntilDrained(this.#client, up);
    this.#pendingToClient.push(...filter.toClient.splice(0));
    const out = relay.toClient;
    if (relay.atMessageBoundary) out.push(...this.#pendingToClient.splice(0));
    if (!writeAll(this.#client, out)) holdUntilDrained(up, this.#client);
  }

  #startIdleTimer(): void {
    const idleMs = this.#d.config.dicom.idleSeconds * 1000;
    const check = (): void => {
      if (this.#state === 'closed') return;
      const quiet = Date.now() - this.#lastActivity;
      if (quiet < idleMs) return this.#timer(idleMs - quiet, check);
      this.#log.info({ idleSeconds: this.#d.config.dicom.idleSeconds }, 'association idle; aborting');
      this.#abortBoth(AbortReason.NotSpecified, AbortReason.NotSpecified);
    };
    this.#timer(idleMs, check);
  }

  async #revalidate(): Promise<void> {
    const p = this.#principal;
    if (p === undefined || this.#state === 'closed' || !this.#principalValid) return;
    let valid: boolean;
    try {
      valid = await this.#d.identity.stillValid(p);
    } catch (err) {
      this.#log.warn({ err: { message: (err as Error).message } }, 'could not re-check the principal; keeping the association');
      return;
    }
    if (valid || (this.#state as State) === 'closed') return;
    this.#principalValid = false;
    this.#log.warn({ principal: p.id }, 'principal disabled or revoked; aborting association');
    auditAssociation(this.#d.audit, this.#facts, { decision: 'deny', reason: 'principal-no-longer-valid', principal: p, phase: 'revalidation' });
    this.#abortBoth(AbortReason.NotSpecified, AbortReason.NotSpecified);
  }

  #violation(err: unknown, side: 'client' | 'upstream'): void {
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
    if (writable(this.#client)) writeAll(this.#client, [buildAbort(clientReason)]);
    const up = this.#upstream;
    const upAssociated = this.#state === 'established' || this.#state === 'releasing';
    if (up !== undefined && upAssociated && writable(up)) writeAll(up, [buildAbort(upstreamReason)]);
    this.#close();
  }

  #onClientClose(): void {
    this.#clientClosed = true;
    if (this.#state === 'closed') return this.#finish();
    if (this.#rq !== undefined) this.#audit({ decision: 'deny', reason: 'client-closed', principal: this.#principal });
    const up = this.#upstream;
    if (up !== undefined && (this.#state === 'established' || this.#state === 'releasing') && writable(up)) {
      this.#log.info('client closed the connection; closing the PACS side');
      writeAll(up, [buildAbort(AbortReason.NotSpecified)]);
    }
    this.#close();
  }

  /** Graceful end of both legs (pending writes are flushed), forced after a grace period. */
  #close(): void {
    if (this.#state !== 'closed') {
      this.#state = 'closed';
      const grace = this.#d.config.dicom.artimSeconds * 1000;
      endSoon(this.#client, grace);
      if (this.#upstream !== undefined) endSoon(this.#upstream, grace);
    }
    this.#finish();
  }

  #destroy(): void {
    this.#state = 'closed';
    this.#client.destroy();
    this.#upstream?.destroy();
    this.#finish();
  }

  /** Releases timers and limit slots; resolves `closed` once both sockets have closed. */
  #finish(): void {
    for (const t of this.#timers.splice(0)) clearTimeout(t);
    if (this.#counted) {
      this.#counted = false;
      this.#d.limits.close();
    }
    if (this.#principalCounted !== undefined) {
      this.#d.limits.releasePrincipal(this.#principalCounted);
      this.#principalCounted = undefined;
    }
    if (this.#clientClosed && (this.#upstream === undefined || this.#upstreamClosed)) this.#resolveClosed();
  }
}
