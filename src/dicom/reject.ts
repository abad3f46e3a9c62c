// A-ASSOCIATE-RJ: build and parse (PS3.8 §9.3.4), plus the named refusals the guard uses.

import { FIXED_PDU_LENGTH, PDU_HEADER_BYTES, PduType, RejectReason, RejectResult, RejectSource } from './constants.js';
import { check } from './pdu-error.js';

/** Result, source and reason of an A-ASSOCIATE-RJ. */
export interface Rejection {
  readonly result: number;
  readonly source: number;
  readonly reason: number;
}

/** Builds the 10-byte A-ASSOCIATE-RJ PDU. */
export function buildAssociateRj(rj: Rejection): Buffer {
  const out = Buffer.alloc(PDU_HEADER_BYTES + FIXED_PDU_LENGTH);
  out.writeUInt8(PduType.AssociateRj, 0);
  out.writeUInt32BE(FIXED_PDU_LENGTH, 2);
  out.writeUInt8(rj.result, 7);
  out.writeUInt8(rj.source, 8);
  out.writeUInt8(rj.reason, 9);
  return out;
}

/** Parses a whole A-ASSOCIATE-RJ PDU (header included). */
export function parseAssociateRj(raw: Buffer): Rejection {
  check(raw.length === PDU_HEADER_BYTES + FIXED_PDU_LENGTH && raw.readUInt8(0) === PduType.AssociateRj, 'not an A-ASSOCIATE-RJ PDU');
  return { result: raw.readUInt8(7), source: raw.readUInt8(8), reason: raw.readUInt8(9) };
}

/** Every refusal the gateway sends, with its PS3.8 §9.3.4 codes. */
export const Refusal = Object.freeze({
  /** No identity, a wrong one, an unverified certificate: rejected-permanent, service-user, no-reason-given. */
  notAuthenticated: { result: RejectResult.Permanent, source: RejectSource.ServiceUser, reason: RejectReason.UserNoReasonGiven },
  /** Locked out for a while: the same, but transient so the client may retry later. */
  lockedOut: { result: RejectResult.Transient, source: RejectSource.ServiceUser, reason: RejectReason.UserNoReasonGiven },
  /** A device using a calling AE title its certificate is not bound to (or an empty one). */
  callingAeNotRecognized: { result: RejectResult.Permanent, source: RejectSource.ServiceUser, reason: RejectReason.UserCallingAeNotRecognized },
  /** An empty called AE title. */
  calledAeNotRecognized: { result: RejectResult.Permanent, source: RejectSource.ServiceUser, reason: RejectReason.UserCalledAeNotRecognized },
  applicationContextNotSupported: { result: RejectResult.Permanent, source: RejectSource.ServiceUser, reason: RejectReason.UserApplicationContextNotSupported },
  protocolVersionNotSupported: { result: RejectResult.Permanent, source: RejectSource.ServiceProviderAcse, reason: RejectReason.AcseProtocolVersionNotSupported },
  /** Too many associations overall or for this principal. */
  localLimitExceeded: { result: RejectResult.Transient, source: RejectSource.ServiceProviderPresentation, reason: RejectReason.PresentationLocalLimitExceeded },
  /** PACS unreachable or not answering, or the identity store is down. */
  temporaryCongestion: { result: RejectResult.Transient, source: RejectSource.ServiceProviderPresentation, reason: RejectReason.PresentationTemporaryCongestion },
} satisfies Record<string, Rejection>);
