// Parses A-ASSOCIATE-RQ and -AC PDUs (PS3.8 §9.3.2–9.3.3, PS3.7 Annex D.3.3) into raw items plus a semantic view.

import { ByteReader } from './byte-reader.js';
import { AbortReason, ASSOCIATE_FIXED_BYTES, ItemType, PDU_HEADER_BYTES, PduType } from './constants.js';
import { check, PduError } from './pdu-error.js';
import { parseUserIdentityRq, type UserIdentityRq } from './user-identity.js';

/** One item or sub-item as sent: type and value (the bytes after the 4-byte item header). */
export interface RawItem {
  readonly type: number;
  readonly value: Buffer;
}

export interface PresentationContextRq {
  readonly id: number;
  readonly abstractSyntax: string;
  readonly transferSyntaxes: readonly string[];
}

export interface PresentationContextAc {
  readonly id: number;
  /** PS3.8 Table 9-18: 0 acceptance, 1 user-rejection, 2 no-reason, 3 abstract syntax not supported, 4 transfer syntaxes not supported. */
  readonly result: number;
  readonly transferSyntax: string | undefined;
}

interface AssociateCommon {
  readonly protocolVersion: number;
  /** AE titles without their space (or NUL) padding. */
  readonly calledAe: string;
  readonly callingAe: string;
  /** The 32 reserved bytes after the calling AE (an AC echoes the RQ's). */
  readonly reserved: Buffer;
  /** Top-level items in the order sent. */
  readonly items: readonly RawItem[];
  /** Sub-items of the user information item, in order (empty when the item is absent). */
  readonly userItems: readonly RawItem[];
  readonly applicationContext: string;
  /** Maximum Length sub-item (0x51) value; 0 means unlimited; undefined when absent. PS3.8 Annex D.1. */
  readonly maxPduLength: number | undefined;
}

export interface AssociateRq extends AssociateCommon {
  readonly pduType: typeof PduType.AssociateRq;
  readonly presentationContexts: readonly PresentationContextRq[];
  readonly userIdentity: UserIdentityRq | undefined;
}

export interface AssociateAc extends AssociateCommon {
  readonly pduType: typeof PduType.AssociateAc;
  readonly presentationContexts: readonly PresentationContextAc[];
  /** Server-response of a 0x59 sub-item, when present. */
  readonly userIdentityResponse: Buffer | undefined;
}

/** An AE title field: 16 bytes, ISO 646 without backslash or control characters, space padded. PS3.5 Table 6.2-1 (AE). */
export function decodeAeTitle(field: Buffer, what: string): string {
  // Some old implementations pad with NUL; treat trailing NULs as padding.
  let end = field.length;
  while (end > 0 && (field[end - 1] === 0x00 || field[end - 1] === 0x20)) end--;
  let start = 0;
  while (start < end && field[start] === 0x20) start++;
  for (let i = start; i < end; i++) {
    const c = field[i] as number;
    check(c >= 0x20 && c <= 0x7e && c !== 0x5c, `${what} contains a character that is not allowed in an AE title (0x${c.toString(16)})`);
  }
  return field.toString('latin1', start, end);
}

/** A UID item value: digits and dots, at most 64 characters, trailing NUL/space padding tolerated. PS3.5 §9.1. */
export function decodeUid(value: Buffer, what: string): string {
  let end = value.length;
  while (end > 0 && (value[end - 1] === 0x00 || value[end - 1] === 0x20)) end--;
  const uid = value.toString('latin1', 0, end);
  check(/^[0-9]+(\.[0-9]+)*$/.test(uid) && uid.length <= 64, `${what} is not a valid UID`);
  return uid;
}

/** Splits an item list: type (1), reserved (1), item-length (2, big-endian), value. PS3.8 §9.3.2. */
export function readItems(r: ByteReader, what: string): RawItem[] {
  const out: RawItem[] = [];
  while (r.remaining > 0) {
    const type = r.u8(`${what} item-type`);
    r.skip(1, `${what} reserved byte`);
    const length = r.u16be(`${what} item-length`);
    out.push({ type, value: r.bytes(length, `${what} item 0x${type.toString(16)} value (${length} bytes)`) });
  }
  return out;
}

function parsePresentationContextRq(item: RawItem): PresentationContextRq {
  const r = new ByteReader(item.value, 'presentation context item (0x20)');
  const id = r.u8('presentation-context-ID');
  // PS3.8 §9.3.2.2: presentation context IDs are odd integers 1–255.
  check(id % 2 === 1, `presentation-context-ID ${id} is not an odd integer`);
  r.skip(3, 'reserved bytes');
  let abstractSyntax: string | undefined;
  const transferSyntaxes: string[] = [];
  for (const sub of readItems(r, `presentation context ${id}`)) {
    if (sub.type === ItemType.AbstractSyntax) {
      check(abstractSyntax === undefined, `presentation context ${id} has more than one abstract syntax`);
      abstractSyntax = decodeUid(sub.value, `presentation context ${id} abstract syntax`);
    } else if (sub.type === ItemType.TransferSyntax) {
      transferSyntaxes.push(decodeUid(sub.value, `presentation context ${id} transfer syntax`));
    } else {
      throw new PduError(`presentation context ${id} has an unrecognized sub-item 0x${sub.type.toString(16)}`, AbortReason.UnrecognizedPduParameter);
    }
  }
  check(abstractSyntax !== undefined, `presentation context ${id} has no abstract syntax`);
  check(transferSyntaxes.length > 0, `presentation context ${id} has no transfer syntax`);
  return { id, abstractSyntax, transferSyntaxes };
}

function parsePresentationContextAc(item: RawItem): PresentationContextAc {
  const r = new ByteReader(item.value, 'presentation context item (0x21)');
  const id = r.u8('presentation-context-ID');
  check(id % 2 === 1, `presentation-context-ID ${id} is not an odd integer`);
  r.skip(1, 'reserved byte');
  const result = r.u8('result/reason');
  check(result <= 4, `presentation context ${id} result/reason ${result} is not defined`);
  r.skip(1, 'reserved byte');
  let transferSyntax: string | undefined;
  for (const sub of readItems(r, `presentation context ${id}`)) {
    check(sub.type === ItemType.TransferSyntax && transferSyntax === undefined, `presentation context ${id} (AC) must hold one transfer syntax sub-item`);
    // PS3.8 §9.3.3.2: not significant (and not tested) when the context was not accepted.
    transferSyntax = result === 0 ? decodeUid(sub.value, `presentation context ${id} transfer syntax`) : '';
  }
  check(result !== 0 || transferSyntax !== undefined, `accepted presentation context ${id} has no transfer syntax`);
  return { id, result, transferSyntax: result === 0 ? transferSyntax : undefined };
}

function parseCommon(raw: Buffer, pduType: number, name: string): AssociateCommon & { readonly pcItems: RawItem[]; readonly userItem: RawItem | undefined } {
  check(raw.length >= PDU_HEADER_BYTES + ASSOCIATE_FIXED_BYTES, `${name} is shorter than its fixed fields`);
  check(raw.readUInt8(0) === pduType, `not an ${name}`);
  check(raw.readUInt32BE(2) === raw.length - PDU_HEADER_BYTES, `${name} PDU-length does not match its size`);
  const r = new ByteReader(raw, name, PDU_HEADER_BYTES);
  const protocolVersion = r.u16be('protocol-version');
  r.skip(2, 'reserved bytes');
  const calledAe = decodeAeTitle(r.bytes(16, 'called-AE-title'), 'called-AE-title');
  const callingAe = decodeAeTitle(r.bytes(16, 'calling-AE-title'), 'calling-AE-title');
  const reserved = r.bytes(32, 'reserved bytes');
  const items = readItems(r, name);
  const pcType = pduType === PduType.AssociateRq ? ItemType.PresentationContextRq : ItemType.PresentationContextAc;
  let applicationContext: string | undefined;
  let userItem: RawItem | undefined;
  const pcItems: RawItem[] = [];
  for (const item of items) {
    if (item.type === ItemType.ApplicationContext) {
      check(applicationContext === undefined, `${name} has more than one application context item`);
      applicationContext = decodeUid(item.value, 'application-context-name');
    } else if (item.type === pcType) {
      pcItems.push(item);
    } else if (item.type === ItemType.UserInformation) {
      check(userItem === undefined, `${name} has more than one user information item`);
      userItem = item;
    } else {
      throw new PduError(`${name} has an unrecognized item 0x${item.type.toString(16)}`, AbortReason.UnrecognizedPduParameter);
    }
  }
  check(applicationContext !== undefined, `${name} has no application context item`);
  const userItems = userItem === undefined ? [] : readItems(new ByteReader(userItem.value, 'user information item'), 'user information');
  let maxPduLength: number | undefined;
  for (const sub of userItems) {
    if (sub.type !== ItemType.MaxLength) continue;
    check(maxPduLength === undefined && sub.value.length === 4, `${name} maximum length sub-item must appear once with 4 bytes`);
    maxPduLength = sub.value.readUInt32BE(0);
  }
  return { protocolVersion, calledAe, callingAe, reserved, items, userItems, applicationContext, maxPduLength, pcItems, userItem };
}

/** Parses a whole A-ASSOCIATE-RQ PDU (header included). Throws PduError naming the bad field. */
export function parseAssociateRq(raw: Buffer): AssociateRq {
  const { pcItems, userItem: _u, ...common } = parseCommon(raw, PduType.AssociateRq, 'A-ASSOCIATE-RQ');
  const presentationContexts = pcItems.map(parsePresentationContextRq);
  check(presentationContexts.length > 0, 'A-ASSOCIATE-RQ has no presentation context');
  check(new Set(presentationContexts.map((p) => p.id)).size === presentationContexts.length, 'A-ASSOCIATE-RQ repeats a presentation-context-ID');
  const identities = common.userItems.filter((s) => s.type === ItemType.UserIdentityRq);
  check(identities.length <= 1, 'A-ASSOCIATE-RQ has more than one user identity sub-item');
  const userIdentity = identities[0] === undefined ? undefined : parseUserIdentityRq(identities[0].value);
  return { pduType: PduType.AssociateRq, ...common, presentationContexts, userIdentity };
}

/** Parses a whole A-ASSOCIATE-AC PDU (header included). Throws PduError naming the bad field. */
export function parseAssociateAc(raw: Buffer): AssociateAc {
  const { pcItems, userItem: _u, ...common } = parseCommon(raw, PduType.AssociateAc, 'A-ASSOCIATE-AC');
  const presentationContexts = pcItems.map(parsePresentationContextAc);
  const responses = common.userItems.filter((s) => s.type === ItemType.UserIdentityAc);
  check(responses.length <= 1, 'A-ASSOCIATE-AC has more than one user identity sub-item');
  let userIdentityResponse: Buffer | undefined;
  if (responses[0] !== undefined) {
    const r = new ByteReader(responses[0].value, 'user identity sub-item (0x59)');
    userIdentityResponse = r.bytes(r.u16be('server-response-length'), 'server-response');
    check(r.remaining === 0, 'user identity sub-item (0x59) has bytes after the server-response');
  }
  return { pduType: PduType.AssociateAc, ...common, presentationContexts, userIdentityResponse };
}
