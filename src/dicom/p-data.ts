// P-DATA-TF framing: headers for one-PDV PDUs and whole PDUs for small messages (PS3.8 §9.3.5, Annex E.2).

import { MessageControl, PDU_HEADER_BYTES, PDV_HEADER_BYTES, PduType } from './constants.js';

/**
 * The 12 header bytes of a P-DATA-TF PDU holding exactly one PDV whose fragment is
 * `fragmentLength` bytes: PDU header, then PDV item-length, context ID, message control header.
 */
export function pDataHeader(pcId: number, control: number, fragmentLength: number): Buffer {
  const out = Buffer.allocUnsafe(PDU_HEADER_BYTES + PDV_HEADER_BYTES);
  out.writeUInt8(PduType.PData, 0);
  out.writeUInt8(0, 1);
  out.writeUInt32BE(PDV_HEADER_BYTES + fragmentLength, 2);
  out.writeUInt32BE(2 + fragmentLength, 6);
  out.writeUInt8(pcId, 10);
  out.writeUInt8(control, 11);
  return out;
}

/**
 * A message part (command or data set) as P-DATA-TF PDUs of one PDV each, fragments no larger
 * than `maxFragment` bytes (so that each PDU fits the peer's maximum length), the last one
 * flagged last.
 */
export function buildPData(pcId: number, isCommand: boolean, bytes: Buffer, maxFragment = 16372): Buffer {
  const parts: Buffer[] = [];
  let off = 0;
  do {
    const n = Math.min(maxFragment, bytes.length - off);
    const last = off + n === bytes.length;
    const control = (isCommand ? MessageControl.Command : 0) | (last ? MessageControl.Last : 0);
    parts.push(pDataHeader(pcId, control, n), bytes.subarray(off, off + n));
    off += n;
  } while (off < bytes.length);
  return Buffer.concat(parts);
}
