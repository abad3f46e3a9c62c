// Destination → PACS on the relay: only responses may come back; a request from the remote AE ends the association.

import { decodeCommandSet, commandName } from '../dicom/command-set.js';
import { AbortReason } from '../dicom/constants.js';
import type { PDataHandler } from '../dicom/pdu-expectations.js';
import { PduError } from '../dicom/pdu-error.js';
import type { PdvHeader } from '../dicom/pdu-reader.js';

/**
 * Wraps the response relay (which forwards the destination's bytes unchanged) and reads each of
 * the destination's command sets: the PACS opened the association to send, so the remote AE may
 * answer (C-STORE-RSP, C-ECHO-RSP) but not ask. A request (a C-FIND, C-GET or C-STORE of its own,
 * PS3.7 §D.3.3.4 gives the acceptor no SCU role unless negotiated) throws PduError: the caller
 * aborts both sides before the PACS gets the command's last fragment. The command bytes are
 * copied, at most `maxCommandBytes`.
 */
export function responsesOnly(inner: PDataHandler, maxCommandBytes: number): PDataHandler {
  let command: Buffer[] | undefined;
  let size = 0;
  return {
    onPDataStart: (n, raw) => inner.onPDataStart(n, raw),
    onPDataEnd: () => inner.onPDataEnd(),
    onPdv(h: PdvHeader, raw: Buffer) {
      if (h.isCommand) {
        command ??= [];
        if (size + h.fragmentLength > maxCommandBytes) throw new PduError('the destination sent a command set larger than the limit');
      }
      inner.onPdv(h, raw);
    },
    onFragment(data: Buffer) {
      if (command !== undefined) {
        command.push(Buffer.from(data));
        size += data.length;
      }
      inner.onFragment(data);
    },
    onPdvEnd(h: PdvHeader) {
      if (h.isCommand && h.isLast && command !== undefined) {
        const cmd = decodeCommandSet(Buffer.concat(command, size));
        command = undefined;
        size = 0;
        if (!cmd.isResponse) throw new PduError(`the destination sent a request (${commandName(cmd.commandField)}) on a relayed association`, AbortReason.UnexpectedPduParameter);
      }
      inner.onPdvEnd(h);
    },
  };
}
