// Builds A-ASSOCIATE-RQ/AC PDUs from items, and rewrites a parsed one (called AE, max length, identity sub-items).

import type { AssociateAc, AssociateRq, PresentationContextAc, PresentationContextRq, RawItem } from './associate-parse.js';
import { DICOM_APPLICATION_CONTEXT, ItemType, PDU_HEADER_BYTES, PduType } from './constants.js';
import { buildUserIdentityRq, type UserIdentityRq } from './user-identity.js';

/** Implementation Class UID for PDUs the gateway originates (tests, tools): a UUID-derived UID, PS3.5 §B.2. */
export const GATEWAY_IMPLEMENTATION_UID = '2.25.113774455519452925759839840814716129404';

/** An AE title field: 16 bytes, space padded. Throws TypeError for a title that config validation should have refused. */
export function encodeAeTitle(ae: string): Buffer {
  if (!/^[\x20-\x5b\x5d-\x7e]{0,16}$/.test(ae)) throw new TypeError(`not an AE title: ${JSON.stringify(ae)}`);
  return Buffer.from(ae.padEnd(16, ' '), 'latin1');
}

/** One item: type (1), reserved (1), item-length (2, big-endian), value. PS3.8 §9.3.2. */
export function buildItem(type: number, value: Buffer): Buffer {
  if (value.length > 0xffff) throw new TypeError(`item 0x${type.toString(16)} value of ${value.length} bytes does not fit a 2-byte length`);
  const head = Buffer.alloc(4);
  head.writeUInt8(type, 0);
  head.writeUInt16BE(value.length, 2);
  return Buffer.concat([head, value]);
}

function uidValue(uid: string): Buffer {
  return Buffer.from(uid, 'latin1');
}

export interface AssociateFields {
  readonly pduType: typeof PduType.AssociateRq | typeof PduType.AssociateAc;
  readonly protocolVersion: number;
  readonly calledAe: string;
  readonly callingAe: string;
  readonly reserved: Buffer;
  readonly items: readonly RawItem[];
}

/** Serialises an A-ASSOCIATE-RQ or -AC from its fixed fields and items. */
export function buildAssociate(f: AssociateFields): Buffer {
  const fixed = Buffer.alloc(PDU_HEADER_BYTES + 4);
  fixed.writeUInt8(f.pduType, 0);
  fixed.writeUInt16BE(f.protocolVersion, PDU_HEADER_BYTES);
  const reserved = Buffer.alloc(32);
  f.reserved.copy(reserved, 0, 0, 32);
  const out = Buffer.concat([
    fixed, encodeAeTitle(f.calledAe), encodeAeTitle(f.callingAe), reserved,
    ...f.items.map((i) => buildItem(i.type, i.value)),
  ]);
  out.writeUInt32BE(out.length - PDU_HEADER_BYTES, 2);
  return out;
}

/** The user information item value from its sub-items. */
export function buildUserInformation(subItems: readonly RawItem[]): Buffer {
  return Buffer.concat(subItems.map((s) => buildItem(s.type, s.value)));
}

function maxLengthValue(n: number): Buffer {
  const v = Buffer.alloc(4);
  v.writeUInt32BE(n, 0);
  return v;
}

export interface AssociateRewrite {
  readonly calledAe?: string;
  /** Replaces (or adds) the Maximum Length sub-item (0x51). */
  readonly maxPduLength?: number;
  /** Sub-item types removed from the user information item (e.g. 0x58 user identity). */
  readonly dropUserItems?: readonly number[];
  /** Sub-items appended to the user information item (e.g. a 0x59 response). */
  readonly appendUserItems?: readonly RawItem[];
}

/**
 * Re-serialises a parsed RQ or AC with the given changes; everything else (item order, other
 * sub-items, reserved bytes) is kept as received, so the lengths are recomputed consistently.
 */
export function rewriteAssociate(pdu: AssociateRq | AssociateAc, change: AssociateRewrite): Buffer {
  const drop = new Set(change.dropUserItems ?? []);
  let sawMax = false;
  const userItems: RawItem[] = [];
  for (const s of pdu.userItems) {
    if (drop.has(s.type)) continue;
    if (s.type === ItemType.MaxLength && change.maxPduLength !== undefined) {
      sawMax = true;
      userItems.push({ type: s.type, value: maxLengthValue(change.maxPduLength) });
    } else {
      userItems.push(s);
    }
  }
  // PS3.8 Annex D.1: the maximum length sub-item comes first in the user information item.
  if (!sawMax && change.maxPduLength !== undefined) userItems.unshift({ type: ItemType.MaxLength, value: maxLengthValue(change.maxPduLength) });
  userItems.push(...(change.appendUserItems ?? []));
  const userValue = buildUserInformation(userItems);
  const items: RawItem[] = [];
  let sawUser = false;
  for (const i of pdu.items) {
    if (i.type === ItemType.UserInformation) {
      sawUser = true;
      items.push({ type: i.type, value: userValue });
    } else {
      items.push(i);
    }
  }
  if (!sawUser && userItems.length > 0) items.push({ type: ItemType.UserInformation, value: userValue });
  return buildAssociate({
    pduType: pdu.pduType, protocolVersion: pdu.protocolVersion,
    calledAe: change.calledAe ?? pdu.calledAe, callingAe: pdu.callingAe, reserved: pdu.reserved, items,
  });
}

/** A presentation context item (0x20) of an RQ. */
export function presentationContextRqItem(pc: PresentationContextRq): RawItem {
  const head = Buffer.from([pc.id, 0, 0, 0]);
  const subs = [buildItem(ItemType.AbstractSyntax, uidValue(pc.abstractSyntax)), ...pc.transferSyntaxes.map((t) => buildItem(ItemType.TransferSyntax, uidValue(t)))];
  return { type: ItemType.PresentationContextRq, value: Buffer.concat([head, ...subs]) };
}

/** A presentation context item (0x21) of an AC. */
export function presentationContextAcItem(pc: PresentationContextAc): RawItem {
  const head = Buffer.from([pc.id, 0, pc.result, 0]);
  return { type: ItemType.PresentationContextAc, value: Buffer.concat([head, buildItem(ItemType.TransferSyntax, uidValue(pc.transferSyntax ?? ''))]) };
}

export interface SimpleAssociateRq {
  readonly calledAe: string;
  readonly callingAe: string;
  readonly presentationContexts: readonly PresentationContextRq[];
  readonly maxPduLength?: number;
  readonly userIdentity?: UserIdentityRq;
  /** Implementation Version Name sub-item (0x55), 1–16 characters (PS3.7 D.3.3.2.3); omitted when absent. */
  readonly implementationVersionName?: string;
}

/** A complete A-ASSOCIATE-RQ as a DICOM SCU would send it (used by tests and diagnostics). */
export function buildAssociateRq(rq: SimpleAssociateRq): Buffer {
  const user: RawItem[] = [
    { type: ItemType.MaxLength, value: maxLengthValue(rq.maxPduLength ?? 16384) },
    { type: ItemType.ImplementationClassUid, value: uidValue(GATEWAY_IMPLEMENTATION_UID) },
  ];
  if (rq.implementationVersionName !== undefined) {
    if (!/^[\x20-\x5b\x5d-\x7e]{1,16}$/.test(rq.implementationVersionName)) throw new TypeError(`not an implementation version name: ${JSON.stringify(rq.implementationVersionName)}`);
    user.push({ type: ItemType.ImplementationVersionName, value: Buffer.from(rq.implementationVersionName, 'latin1') });
  }
  if (rq.userIdentity !== undefined) {
    const whole = buildUserIdentityRq(rq.userIdentity);
    user.push({ type: ItemType.UserIdentityRq, value: whole.subarray(4) });
  }
  return buildAssociate({
    pduType: PduType.AssociateRq, protocolVersion: 1, calledAe: rq.calledAe, callingAe: rq.callingAe, reserved: Buffer.alloc(32),
    items: [
      { type: ItemType.ApplicationContext, value: uidValue(DICOM_APPLICATION_CONTEXT) },
      ...rq.presentationContexts.map(presentationContextRqItem),
      { type: ItemType.UserInformation, value: buildUserInformation(user) },
    ],
  });
}

export interface SimpleAssociateAc {
  readonly calledAe: string;
  readonly callingAe: string;
  readonly presentationContexts: readonly PresentationContextAc[];
  readonly maxPduLength?: number;
}

/** A complete A-ASSOCIATE-AC (used by test SCPs). */
export function buildAssociateAc(ac: SimpleAssociateAc): Buffer {
  return buildAssociate({
    pduType: PduType.AssociateAc, protocolVersion: 1, calledAe: ac.calledAe, callingAe: ac.callingAe, reserved: Buffer.alloc(32),
    items: [
      { type: ItemType.ApplicationContext, value: uidValue(DICOM_APPLICATION_CONTEXT) },
      ...ac.presentationContexts.map(presentationContextAcItem),
      { type: ItemType.UserInformation, value: buildUserInformation([{ type: ItemType.MaxLength, value: maxLengthValue(ac.maxPduLength ?? 16384) }, { type: ItemType.ImplementationClassUid, value: uidValue(GATEWAY_IMPLEMENTATION_UID) }]) },
    ],
  });
}
