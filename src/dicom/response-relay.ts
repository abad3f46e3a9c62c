// PACS → client P-DATA relay: passes bytes on unchanged and tracks message boundaries for injected responses.

import { AbortReason, NO_DATA_SET } from './constants.js';
import { decodeCommandSet } from './command-set.js';
import { PduError } from './pdu-error.js';
import type { PdvHeader } from './pdu-reader.js';

/**
 * Handles the P-DATA events of the PACS-side PDU reader. Every byte is forwarded as received
 * (headers and fragment slices, zero-copy) into `toClient`. It also reads the PACS's command sets
 * (small; capped) just far enough to know whether a data set follows, so that `atMessageBoundary`
 * says when the gateway may insert its own response PDU without splitting a PACS message.
 */
export class ResponseRelay {
  readonly toClient: Buffer[] = [];
  readonly #maxCommandBytes: number;
  #command: Buffer[] | undefined;
  #commandSize = 0;
  #collecting = false;
  #dataExpected = false;
  #inPdu = false;

  constructor(maxCommandBytes: number) {
    this.#maxCommandBytes = maxCommandBytes;
  }

  /** Between PDUs and between messages. */
  get atMessageBoundary(): boolean { return !this.#inPdu && this.#command === undefined && !this.#dataExpected; }

  onPDataStart(_length: number, raw: Buffer): void {
    this.#inPdu = true;
    this.toClient.push(raw);
  }

  onPDataEnd(): void { this.#inPdu = false; }

  onPdv(h: PdvHeader, raw: Buffer): void {
    this.toClient.push(raw);
    this.#collecting = h.isCommand;
    if (!h.isCommand) return;
    if (this.#dataExpected) throw new PduError('the PACS sent a command before its previous data set ended', AbortReason.UnexpectedPduParameter);
    this.#command ??= [];
    if (this.#commandSize + h.fragmentLength > this.#maxCommandBytes) throw new PduError('the PACS sent a command set larger than the limit');
  }

  onFragment(data: Buffer): void {
    this.toClient.push(data);
    if (this.#collecting && this.#command !== undefined) {
      this.#command.push(Buffer.from(data));
      this.#commandSize += data.length;
    }
  }

  onPdvEnd(h: PdvHeader): void {
    this.#collecting = false;
    if (!h.isLast) return;
    if (!h.isCommand) {
      this.#dataExpected = false;
      return;
    }
    const cmd = decodeCommandSet(Buffer.concat(this.#command ?? [], this.#commandSize));
    this.#command = undefined;
    this.#commandSize = 0;
    this.#dataExpected = cmd.dataSetType !== NO_DATA_SET;
  }
}
