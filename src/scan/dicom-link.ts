// The scanner's side of an association: PDUs in through the project's PduReader, DIMSE messages
// reassembled from their command fragments; data set fragments are counted and dropped, never kept.

import type { Socket } from 'node:net';
import { decodeCommandSet, type CommandSet } from '../dicom/command-set.js';
import { NO_DATA_SET, type PduTypeValue } from '../dicom/constants.js';
import { PduReader, type PdvHeader } from '../dicom/pdu-reader.js';

/** What the peer sent next. */
export type LinkEvent =
  | { readonly kind: 'pdu'; readonly type: PduTypeValue; readonly raw: Buffer }
  | { readonly kind: 'message'; readonly command: CommandSet; readonly pcId: number; readonly dataBytes: number }
  | { readonly kind: 'closed' }
  | { readonly kind: 'timeout' }
  /** The bytes are not DICOM (or break PS3.8); `head` holds the first bytes received, for evidence. */
  | { readonly kind: 'not-dicom'; readonly reason: string; readonly head: Buffer }
  /** A transport error: for TLS this is where a TLS 1.3 server's certificate_required alert arrives. */
  | { readonly kind: 'error'; readonly error: NodeJS.ErrnoException };

/** Bounds for what the peer may send us (we propose 16 KB PDUs; peers may ignore it). */
const LIMITS = Object.freeze({ maxAssociateBytes: 65_536, maxPDataBytes: 4 * 1024 * 1024 });
const MAX_COMMAND_BYTES = 65_536;
const HEAD_BYTES = 64;

/** Reads PDUs from a socket; `next()` hands them out one at a time. */
export class DicomLink {
  readonly socket: Socket;
  readonly #events: LinkEvent[] = [];
  #wake: (() => void) | undefined;
  #ended = false;
  #head = Buffer.alloc(0);
  readonly #reader: PduReader;
  #command: Buffer[] = [];
  #commandBytes = 0;
  #pending: { command: CommandSet; pcId: number } | undefined;
  #dataBytes = 0;
  /** Whether the PDV being read is a command fragment (its bytes are kept) or data (counted only). */
  #isCommandFragment = false;

  constructor(socket: Socket) {
    this.socket = socket;
    this.#reader = new PduReader({
      onPdu: (type, raw) => this.#push({ kind: 'pdu', type, raw }),
      onPDataStart: () => undefined,
      onPdv: (pdv) => { this.#isCommandFragment = pdv.isCommand; },
      onFragment: (data) => this.#fragment(data),
      onPdvEnd: (pdv) => this.#pdvEnd(pdv),
      onPDataEnd: () => undefined,
    }, LIMITS);
    socket.on('data', (chunk: Buffer) => this.#data(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => this.#end({ kind: 'error', error }));
    socket.on('close', () => this.#end({ kind: 'closed' }));
    // A socket handed over after its peer already hung up emits no further 'close'.
    if (socket.destroyed) this.#end({ kind: 'closed' });
  }

  #data(chunk: Buffer): void {
    if (this.#ended) return;
    if (this.#head.length < HEAD_BYTES) this.#head = Buffer.concat([this.#head, chunk.subarray(0, HEAD_BYTES - this.#head.length)]);
    try {
      this.#reader.push(chunk);
    } catch (err) {
      this.#end({ kind: 'not-dicom', reason: (err as Error).message, head: this.#head });
      this.socket.destroy();
    }
  }

  #fragment(data: Buffer): void {
    if (!this.#isCommandFragment) {
      this.#dataBytes += data.length;
      return;
    }
    this.#commandBytes += data.length;
    if (this.#commandBytes > MAX_COMMAND_BYTES) throw new Error(`a command set over ${MAX_COMMAND_BYTES} bytes`);
    this.#command.push(Buffer.from(data));
  }

  #pdvEnd(pdv: PdvHeader): void {
    if (!pdv.isCommand) {
      if (pdv.isLast && this.#pending !== undefined) {
        this.#push({ kind: 'message', ...this.#pending, dataBytes: this.#dataBytes });
        this.#pending = undefined;
      }
      return;
    }
    if (!pdv.isLast) return;
    const command = decodeCommandSet(Buffer.concat(this.#command));
    this.#command = [];
    this.#commandBytes = 0;
    this.#dataBytes = 0;
    if (command.dataSetType === NO_DATA_SET) this.#push({ kind: 'message', command, pcId: pdv.pcId, dataBytes: 0 });
    else this.#pending = { command, pcId: pdv.pcId };
  }

  #push(e: LinkEvent): void {
    this.#events.push(e);
    this.#wake?.();
  }

  #end(e: LinkEvent): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#push(e);
  }

  /** Sends bytes (ignored once the link has ended). */
  send(bytes: Buffer): void {
    if (!this.#ended && !this.socket.destroyed) this.socket.write(bytes);
  }

  /** The next event, or `timeout` after `timeoutMs`. After an end event, that event again. */
  async next(timeoutMs: number): Promise<LinkEvent> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const e = this.#events.length > 1 || !this.#ended ? this.#events.shift() : this.#events[0];
      if (e !== undefined) return e;
      const left = deadline - performance.now();
      if (left <= 0) return { kind: 'timeout' };
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => { clearTimeout(timer); resolve(); };
      });
      this.#wake = undefined;
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
