// Decodes a reassembled DIMSE command set: implicit VR little endian, group 0000 only (PS3.7 §6.3, Annex E).

import { ByteReader } from './byte-reader.js';
import { AbortReason, CommandTag, COMMAND_NAMES, RESPONSE_BIT } from './constants.js';
import { check, PduError } from './pdu-error.js';

/** A decoded command set: the raw elements plus the fields the guard reads. */
export interface CommandSet {
  /** Element number (group 0000) → value bytes. */
  readonly elements: ReadonlyMap<number, Buffer>;
  readonly commandField: number;
  readonly isResponse: boolean;
  /** (0000,0800): 0x0101 means no data set follows. */
  readonly dataSetType: number;
  readonly messageId: number | undefined;
  readonly messageIdBeingRespondedTo: number | undefined;
  readonly affectedSopClassUid: string | undefined;
  readonly requestedSopClassUid: string | undefined;
  readonly affectedSopInstanceUid: string | undefined;
  readonly requestedSopInstanceUid: string | undefined;
  readonly moveDestination: string | undefined;
  readonly status: number | undefined;
}

/** "C-STORE-RQ", "C-FIND-RSP", or "0x1234" for a command field the standard does not define. */
export function commandName(field: number): string {
  const base = COMMAND_NAMES[field & ~RESPONSE_BIT];
  if (base === undefined) return `0x${field.toString(16).padStart(4, '0')}`;
  return `${base}-${(field & RESPONSE_BIT) !== 0 ? 'RSP' : 'RQ'}`;
}

function us(elements: ReadonlyMap<number, Buffer>, tag: number, name: string): number | undefined {
  const v = elements.get(tag);
  if (v === undefined) return undefined;
  check(v.length === 2, `command set ${name} must be 2 bytes (US), got ${v.length}`);
  return v.readUInt16LE(0);
}

/** A string value without its padding (UI pads with NUL, AE and LO with space). PS3.5 §6.2. */
function str(elements: ReadonlyMap<number, Buffer>, tag: number): string | undefined {
  const v = elements.get(tag);
  if (v === undefined) return undefined;
  let end = v.length;
  while (end > 0 && (v[end - 1] === 0x00 || v[end - 1] === 0x20)) end--;
  let start = 0;
  while (start < end && v[start] === 0x20) start++;
  return v.toString('latin1', start, end);
}

/**
 * Decodes a command set. Refuses (PduError, invalid-PDU-parameter value) anything a peer could
 * use to make the gateway and the PACS read different commands: elements outside group 0000,
 * elements out of ascending order or repeated, odd value lengths (PS3.5 §7.1.1), values running
 * past the end, a Command Group Length that disagrees with the bytes that follow it.
 */
export function decodeCommandSet(raw: Buffer): CommandSet {
  const r = new ByteReader(raw, 'command set');
  const elements = new Map<number, Buffer>();
  let last = -1;
  while (r.remaining > 0) {
    const group = r.u16le('tag group');
    const element = r.u16le('tag element');
    const label = `(0000,${element.toString(16).padStart(4, '0')})`;
    check(group === 0x0000, `command set holds an element outside group 0000 (${group.toString(16).padStart(4, '0')},${element.toString(16).padStart(4, '0')})`);
    check(element > last, `command set element ${label} is out of order or repeated`);
    const length = r.u32le(`${label} value length`);
    check(length % 2 === 0, `command set element ${label} has an odd value length ${length}`);
    const value = r.bytes(length, `${label} value`);
    if (element === CommandTag.CommandGroupLength) {
      check(length === 4 && value.readUInt32LE(0) === r.remaining, 'command set Command Group Length does not match the elements that follow it');
    }
    elements.set(element, value);
    last = element;
  }
  const commandField = us(elements, CommandTag.CommandField, 'Command Field');
  if (commandField === undefined) throw new PduError('command set has no Command Field (0000,0100)', AbortReason.InvalidPduParameterValue);
  const dataSetType = us(elements, CommandTag.CommandDataSetType, 'Command Data Set Type');
  if (dataSetType === undefined) throw new PduError('command set has no Command Data Set Type (0000,0800)', AbortReason.InvalidPduParameterValue);
  return {
    elements,
    commandField,
    isResponse: (commandField & RESPONSE_BIT) !== 0,
    dataSetType,
    messageId: us(elements, CommandTag.MessageId, 'Message ID'),
    messageIdBeingRespondedTo: us(elements, CommandTag.MessageIdBeingRespondedTo, 'Message ID Being Responded To'),
    affectedSopClassUid: str(elements, CommandTag.AffectedSopClassUid),
    requestedSopClassUid: str(elements, CommandTag.RequestedSopClassUid),
    affectedSopInstanceUid: str(elements, CommandTag.AffectedSopInstanceUid),
    requestedSopInstanceUid: str(elements, CommandTag.RequestedSopInstanceUid),
    moveDestination: str(elements, CommandTag.MoveDestination),
    status: us(elements, CommandTag.Status, 'Status'),
  };
}
