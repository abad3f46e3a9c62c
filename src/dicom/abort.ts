// A-ABORT, A-RELEASE-RQ and A-RELEASE-RP: build and parse (PS3.8 §9.3.6–9.3.8).

import { AbortSource, FIXED_PDU_LENGTH, PDU_HEADER_BYTES, PduType, type AbortReasonValue } from './constants.js';
import { check } from './pdu-error.js';

export interface Abort {
  /** 0 service-user, 2 service-provider. */
  readonly source: number;
  /** Significant only when the source is the service-provider (PS3.8 Table 9-26). */
  readonly reason: number;
}

/** Builds the 10-byte A-ABORT PDU; the gateway aborts as the service-provider (source 2). */
export function buildAbort(reason: AbortReasonValue, source: number = AbortSource.ServiceProvider): Buffer {
  const out = Buffer.alloc(PDU_HEADER_BYTES + FIXED_PDU_LENGTH);
  out.writeUInt8(PduType.Abort, 0);
  out.writeUInt32BE(FIXED_PDU_LENGTH, 2);
  out.writeUInt8(source, 8);
  // PS3.8 §9.3.8: with source 0 the reason "shall be sent with a value 00H".
  out.writeUInt8(source === AbortSource.ServiceUser ? 0 : reason, 9);
  return out;
}

/** Parses a whole A-ABORT PDU (header included). */
export function parseAbort(raw: Buffer): Abort {
  check(raw.length === PDU_HEADER_BYTES + FIXED_PDU_LENGTH && raw.readUInt8(0) === PduType.Abort, 'not an A-ABORT PDU');
  return { source: raw.readUInt8(8), reason: raw.readUInt8(9) };
}

/** Builds A-RELEASE-RQ (type 5) or A-RELEASE-RP (type 6): four reserved bytes. */
export function buildRelease(type: typeof PduType.ReleaseRq | typeof PduType.ReleaseRp): Buffer {
  const out = Buffer.alloc(PDU_HEADER_BYTES + FIXED_PDU_LENGTH);
  out.writeUInt8(type, 0);
  out.writeUInt32BE(FIXED_PDU_LENGTH, 2);
  return out;
}
