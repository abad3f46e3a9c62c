// Builds DIMSE command sets (implicit VR little endian, group 0000), above all the gateway's failure responses.

import { CommandField, CommandTag, NO_DATA_SET, RESPONSE_BIT, Status } from './constants.js';
import type { CommandSet } from './command-set.js';

/** A command element value: a number is US (2 bytes); a string is padded to even length. */
export type CommandValue = { readonly us: number } | { readonly ui: string } | { readonly text: string };

function encodeValue(v: CommandValue): Buffer {
  if ('us' in v) {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(v.us, 0);
    return b;
  }
  // PS3.5 §6.2: UI values pad with NUL, other strings with space, to an even length.
  const s = 'ui' in v ? v.ui : v.text;
  const pad = 'ui' in v ? '\0' : ' ';
  return Buffer.from(s.length % 2 === 0 ? s : s + pad, 'latin1');
}

/** One element in Implicit VR Little Endian (PS3.5 §7.1.3): group, element, 4-byte length, even-length value. */
export function implicitElement(group: number, element: number, value: CommandValue): Buffer {
  const v = encodeValue(value);
  const head = Buffer.alloc(8);
  head.writeUInt16LE(group, 0);
  head.writeUInt16LE(element, 2);
  head.writeUInt32LE(v.length, 4);
  return Buffer.concat([head, v]);
}

/**
 * Encodes elements (sorted ascending, as PS3.5 §7.1 requires) behind a Command Group Length
 * (0000,0000), which PS3.7 §6.3.1 makes mandatory.
 */
export function buildCommandSet(elements: ReadonlyArray<readonly [number, CommandValue]>): Buffer {
  const parts: Buffer[] = [];
  for (const [tag, value] of [...elements].sort((a, b) => a[0] - b[0])) {
    if (tag === CommandTag.CommandGroupLength) throw new TypeError('the group length is computed, not given');
    parts.push(implicitElement(0x0000, tag, value));
  }
  const body = Buffer.concat(parts);
  const groupLength = Buffer.alloc(12);
  groupLength.writeUInt32LE(4, 4);
  groupLength.writeUInt32LE(body.length, 8);
  return Buffer.concat([groupLength, body]);
}

/** Request command fields whose response the gateway can build (C-CANCEL has none). */
const RESPONDABLE = new Set<number>([
  CommandField.CStoreRq, CommandField.CGetRq, CommandField.CFindRq, CommandField.CMoveRq, CommandField.CEchoRq,
  CommandField.NEventReportRq, CommandField.NGetRq, CommandField.NSetRq, CommandField.NActionRq,
  CommandField.NCreateRq, CommandField.NDeleteRq,
]);

/** Responses that carry Affected SOP Instance UID (0000,1000): C-STORE-RSP (PS3.7 Table 9.3-2) and N-*-RSP (Chapter 10). */
const ECHOES_INSTANCE = new Set<number>([
  CommandField.CStoreRq, CommandField.NEventReportRq, CommandField.NGetRq, CommandField.NSetRq,
  CommandField.NActionRq, CommandField.NCreateRq, CommandField.NDeleteRq,
]);

/** True when `buildFailureResponse` can answer this request. */
export function canRespond(request: CommandSet): boolean {
  return !request.isResponse && RESPONDABLE.has(request.commandField) && request.messageId !== undefined;
}

/** Error Comment (0000,0902) is LO: at most 64 characters. PS3.5 Table 6.2-1. */
function errorComment(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 64);
}

/**
 * The response the gateway sends in place of the PACS when it refuses a request (PS3.7 Annex E):
 * Affected SOP Class UID (from the request's Affected or Requested SOP Class UID), Command Field
 * with bit 0x8000, Message ID Being Responded To, no data set, Status (default 0x0124 "Refused:
 * Not Authorized", PS3.7 C.5), an Error Comment, and for C-STORE and N-services the Affected SOP
 * Instance UID. Throws TypeError when `canRespond(request)` is false.
 */
export function buildFailureResponse(request: CommandSet, options: { status?: number; comment?: string } = {}): Buffer {
  if (!canRespond(request)) throw new TypeError(`no response is defined for command 0x${request.commandField.toString(16)}`);
  const elements: Array<readonly [number, CommandValue]> = [
    [CommandTag.CommandField, { us: request.commandField | RESPONSE_BIT }],
    [CommandTag.MessageIdBeingRespondedTo, { us: request.messageId as number }],
    [CommandTag.CommandDataSetType, { us: NO_DATA_SET }],
    [CommandTag.Status, { us: options.status ?? Status.RefusedNotAuthorized }],
  ];
  const sopClass = request.affectedSopClassUid ?? request.requestedSopClassUid;
  if (sopClass !== undefined && sopClass !== '') elements.push([CommandTag.AffectedSopClassUid, { ui: sopClass }]);
  if (options.comment !== undefined) elements.push([CommandTag.ErrorComment, { text: errorComment(options.comment) }]);
  const instance = request.affectedSopInstanceUid ?? request.requestedSopInstanceUid;
  if (ECHOES_INSTANCE.has(request.commandField) && instance !== undefined && instance !== '') {
    elements.push([CommandTag.AffectedSopInstanceUid, { ui: instance }]);
  }
  return buildCommandSet(elements);
}
