// Test helper: a DICOM association over TLS driven PDU by PDU, so a test can hold it open across events.

import { once } from 'node:events';
import { connect, type TLSSocket } from 'node:tls';
import { buildRelease } from '../../src/dicom/abort.js';
import { buildAssociateRq } from '../../src/dicom/associate-build.js';
import { parseAssociateAc, type PresentationContextRq } from '../../src/dicom/associate-parse.js';
import { buildCommandSet, type CommandValue } from '../../src/dicom/command-build.js';
import { decodeCommandSet, type CommandSet } from '../../src/dicom/command-set.js';
import { CommandTag, PduType } from '../../src/dicom/constants.js';
import { buildPData } from '../../src/dicom/p-data.js';
import type { UserIdentityRq } from '../../src/dicom/user-identity.js';

export interface RawAssociationOptions {
  readonly port: number;
  /** Client key and certificate (mTLS); leave both out to offer only user identity. */
  readonly key?: string;
  readonly cert?: string;
  readonly ca: string;
  /** A User Identity sub-item (PS3.7 D.3.3.7) to send in the A-ASSOCIATE-RQ. */
  readonly userIdentity?: UserIdentityRq;
  readonly callingAe: string;
  readonly calledAe?: string;
  readonly contexts: readonly PresentationContextRq[];
}

/** A received PDU: type and whole bytes. */
interface Pdu { readonly type: number; readonly raw: Buffer }

/** One association: open() resolves with the A-ASSOCIATE-AC, or rejects on RJ / abort. */
export class RawAssociation {
  readonly socket: TLSSocket;
  #buf = Buffer.alloc(0);
  readonly #pdus: Pdu[] = [];
  #wake: (() => void) | undefined;
  #closed = false;
  maxFragment = 16_372;

  private constructor(socket: TLSSocket) {
    this.socket = socket;
    socket.on('data', (c: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, c]);
      while (this.#buf.length >= 6 && this.#buf.length >= 6 + this.#buf.readUInt32BE(2)) {
        const n = 6 + this.#buf.readUInt32BE(2);
        this.#pdus.push({ type: this.#buf[0] as number, raw: this.#buf.subarray(0, n) });
        this.#buf = this.#buf.subarray(n);
      }
      this.#wake?.();
    });
    socket.on('close', () => { this.#closed = true; this.#wake?.(); });
    socket.on('error', () => undefined);
  }

  /** Connects with TLS (with a client certificate when given) and negotiates the association. */
  static async open(o: RawAssociationOptions): Promise<RawAssociation> {
    const socket = connect({ host: '127.0.0.1', port: o.port, servername: 'localhost', ca: o.ca, ...(o.key === undefined ? {} : { key: o.key, cert: o.cert }) });
    await once(socket, 'secureConnect');
    socket.setNoDelay(true);
    const a = new RawAssociation(socket);
    socket.write(buildAssociateRq({
      calledAe: o.calledAe ?? 'GATEWAY', callingAe: o.callingAe, presentationContexts: o.contexts, maxPduLength: 16_384,
      ...(o.userIdentity === undefined ? {} : { userIdentity: o.userIdentity }),
    }));
    const pdu = await a.next();
    if (pdu.type !== PduType.AssociateAc) throw new Error(`association not accepted: PDU type ${pdu.type}`);
    const ac = parseAssociateAc(pdu.raw);
    if (ac.maxPduLength !== undefined && ac.maxPduLength > 0) a.maxFragment = Math.min(a.maxFragment, ac.maxPduLength - 6);
    return a;
  }

  /** The next PDU from the gateway. */
  async next(timeoutMs = 20_000): Promise<Pdu> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const p = this.#pdus.shift();
      if (p !== undefined) return p;
      if (this.#closed) throw new Error('connection closed');
      if (Date.now() > deadline) throw new Error('no PDU in time');
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        setTimeout(resolve, 200).unref();
      });
    }
  }

  /** Sends a command set on presentation context `pcId`. */
  sendCommand(pcId: number, elements: ReadonlyArray<readonly [number, CommandValue]>): void {
    this.socket.write(buildPData(pcId, true, buildCommandSet(elements), this.maxFragment));
  }

  /** Sends data set bytes; `last` marks the final fragment of the data set. */
  sendData(pcId: number, bytes: Buffer, last: boolean): void {
    if (last) {
      this.socket.write(buildPData(pcId, false, bytes, this.maxFragment));
      return;
    }
    // Every fragment "not last": build with a huge maxFragment per chunk, then clear the last bit.
    for (let off = 0; off < bytes.length; off += this.maxFragment) {
      const pdu = buildPData(pcId, false, bytes.subarray(off, off + this.maxFragment), this.maxFragment);
      pdu[11] = (pdu[11] as number) & ~0x02;
      this.socket.write(pdu);
    }
  }

  /** Reads the next complete DIMSE command (response) from the gateway. */
  async readCommand(timeoutMs = 20_000): Promise<CommandSet> {
    const parts: Buffer[] = [];
    for (;;) {
      const pdu = await this.next(timeoutMs);
      if (pdu.type !== PduType.PData) {
        // A-ABORT (PS3.8 §9.3.8): source at byte 8, reason at byte 9, so a failure says who aborted and why.
        const detail = pdu.type === 0x07 && pdu.raw.length >= 10 ? ` (A-ABORT source ${pdu.raw[8]} reason ${pdu.raw[9]})` : '';
        throw new Error(`expected P-DATA-TF, got PDU type ${pdu.type}${detail}`);
      }
      for (let off = 6; off < pdu.raw.length;) {
        const len = pdu.raw.readUInt32BE(off);
        const control = pdu.raw[off + 5] as number;
        parts.push(pdu.raw.subarray(off + 6, off + 4 + len));
        off += 4 + len;
        if ((control & 0x01) !== 0 && (control & 0x02) !== 0) return decodeCommandSet(Buffer.concat(parts));
      }
    }
  }

  /** C-ECHO on `pcId`; resolves with the response status. */
  async echo(pcId: number, messageId: number): Promise<number | undefined> {
    this.sendCommand(pcId, [
      [CommandTag.AffectedSopClassUid, { ui: '1.2.840.10008.1.1' }], [CommandTag.CommandField, { us: 0x0030 }],
      [CommandTag.MessageId, { us: messageId }], [CommandTag.CommandDataSetType, { us: 0x0101 }],
    ]);
    return (await this.readCommand()).status;
  }

  /** A-RELEASE-RQ, then waits for A-RELEASE-RP. */
  /** A-RELEASE-RQ, then waits up to `timeoutMs` for the A-RELEASE-RP. */
  async release(timeoutMs?: number): Promise<void> {
    this.socket.write(buildRelease(PduType.ReleaseRq));
    const p = await this.next(timeoutMs).catch((err: unknown) => { throw new Error(`A-RELEASE-RP: ${(err as Error).message}`, { cause: err }); });
    if (p.type !== PduType.ReleaseRp) throw new Error(`expected A-RELEASE-RP, got PDU type ${p.type}`);
    this.socket.end();
  }

  destroy(): void { this.socket.destroy(); }
}
