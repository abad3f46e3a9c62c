// User Identity Negotiation sub-items: parse the request (0x58), build the response (0x59). PS3.7 D.3.3.7.

import { ByteReader } from './byte-reader.js';
import { ItemType, UserIdentityType } from './constants.js';
import { check } from './pdu-error.js';

/** A User Identity sub-item of an A-ASSOCIATE-RQ, PS3.7 Table D.3-14. */
export interface UserIdentityRq {
  /** User-Identity-Type: 1 username, 2 username + passcode, 3 Kerberos, 4 SAML, 5 JWT. */
  readonly type: number;
  readonly positiveResponseRequested: boolean;
  readonly primary: Buffer;
  /** Empty unless type 2 (the passcode). */
  readonly secondary: Buffer;
}

/** Parses the value of a 0x58 sub-item (after its 4-byte header). Lengths must fill the sub-item exactly. */
export function parseUserIdentityRq(value: Buffer): UserIdentityRq {
  const r = new ByteReader(value, 'user identity sub-item (0x58)');
  const type = r.u8('user-identity-type');
  const positive = r.u8('positive-response-requested');
  const primary = r.bytes(r.u16be('primary-field-length'), 'primary-field');
  const secondary = r.bytes(r.u16be('secondary-field-length'), 'secondary-field');
  check(r.remaining === 0, 'user identity sub-item (0x58) has bytes after the secondary-field');
  check(primary.length > 0, 'user identity sub-item (0x58) has an empty primary-field');
  // PS3.7 Table D.3-14: the secondary field is present only for type 2.
  check(type === UserIdentityType.UsernameAndPasscode || secondary.length === 0, `user identity type ${type} carries a secondary-field`);
  return { type, positiveResponseRequested: positive === 1, primary, secondary };
}

/** Builds a whole 0x58 sub-item (header included); used by tests and tools. */
export function buildUserIdentityRq(id: UserIdentityRq): Buffer {
  const out = Buffer.alloc(4 + 6 + id.primary.length + id.secondary.length);
  out.writeUInt8(ItemType.UserIdentityRq, 0);
  out.writeUInt16BE(out.length - 4, 2);
  out.writeUInt8(id.type, 4);
  out.writeUInt8(id.positiveResponseRequested ? 1 : 0, 5);
  out.writeUInt16BE(id.primary.length, 6);
  id.primary.copy(out, 8);
  out.writeUInt16BE(id.secondary.length, 8 + id.primary.length);
  id.secondary.copy(out, 10 + id.primary.length);
  return out;
}

/**
 * The value of a 0x59 sub-item (PS3.7 Table D.3-15): server-response-length + server-response.
 * The response is zero length for types 1 and 2; the standard defines content only for Kerberos (3)
 * and SAML (4), so the gateway also answers a JWT (5) with an empty response.
 */
export function userIdentityAcValue(serverResponse: Buffer = Buffer.alloc(0)): Buffer {
  const out = Buffer.alloc(2 + serverResponse.length);
  out.writeUInt16BE(serverResponse.length, 0);
  serverResponse.copy(out, 2);
  return out;
}
