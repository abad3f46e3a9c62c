// Seeds and generators for the DICOM targets, built with the gateway's own PDU and command builders.

import fc from 'fast-check';
import { buildAssociateAc, buildAssociateRq } from '../../../src/dicom/associate-build.js';
import { buildCommandSet, type CommandValue } from '../../../src/dicom/command-build.js';
import { CommandTag, PduType } from '../../../src/dicom/constants.js';
import { buildPData } from '../../../src/dicom/p-data.js';
import { buildAbort, buildRelease } from '../../../src/dicom/abort.js';

export const VERIFICATION = '1.2.840.10008.1.1';
export const CT_IMAGE = '1.2.840.10008.5.1.4.1.1.2';
export const IMPLICIT = '1.2.840.10008.1.2';
export const EXPLICIT = '1.2.840.10008.1.2.1';
export const STUDY_FIND = '1.2.840.10008.5.1.4.1.2.2.1';

/** Tokens of the upper layer for the mutator: item headers, UIDs, PDU headers. */
export const DICOM_DICTIONARY: readonly (string | Buffer)[] = [
  Buffer.from([0x10, 0, 0, 21]), Buffer.from([0x20, 0, 0, 0]), Buffer.from([0x21, 0, 0, 0]), Buffer.from([0x30, 0, 0, 17]),
  Buffer.from([0x40, 0, 0, 17]), Buffer.from([0x50, 0, 0, 0]), Buffer.from([0x51, 0, 0, 4]), Buffer.from([0x52, 0, 0, 0]),
  Buffer.from([0x54, 0, 0, 0]), Buffer.from([0x55, 0, 0, 0]), Buffer.from([0x58, 0, 0, 0]), Buffer.from([0x59, 0, 0, 0]),
  Buffer.from([0x01, 0, 0, 0, 0, 0]), Buffer.from([0x04, 0, 0, 0, 0, 0]), Buffer.from([0x05, 0, 0, 0, 0, 4, 0, 0, 0, 0]),
  Buffer.from([0x07, 0, 0, 0, 0, 4, 0, 0, 0, 0]), Buffer.from([0, 0, 0, 0, 1, 3]), Buffer.from([0, 0, 0, 0, 1, 2]),
  '1.2.840.10008.3.1.1.1', VERIFICATION, CT_IMAGE, IMPLICIT, EXPLICIT, 'ORTHANC         ', 'GATEWAY         ',
];

/** Tokens of command sets: tags of group 0000 (little endian) and their value lengths. */
export const COMMAND_DICTIONARY: readonly Buffer[] = [
  0x0000, 0x0002, 0x0003, 0x0100, 0x0110, 0x0120, 0x0600, 0x0700, 0x0800, 0x0900, 0x0902, 0x1000, 0x1001,
].map((e) => { const b = Buffer.alloc(8); b.writeUInt16LE(e, 2); b.writeUInt32LE(2, 4); return b; });

export function echoRq(userIdentity = false): Buffer {
  return buildAssociateRq({
    calledAe: 'GATEWAY', callingAe: 'FUZZ',
    presentationContexts: [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT] }, { id: 3, abstractSyntax: CT_IMAGE, transferSyntaxes: [EXPLICIT, IMPLICIT] }],
    ...(userIdentity ? { userIdentity: { type: 2, positiveResponseRequested: true, primary: Buffer.from('fuzz'), secondary: Buffer.from('secret') } } : {}),
  });
}

export function echoAc(): Buffer {
  return buildAssociateAc({ calledAe: 'GATEWAY', callingAe: 'FUZZ', presentationContexts: [{ id: 1, result: 0, transferSyntax: IMPLICIT }, { id: 3, result: 3, transferSyntax: undefined }] });
}

export function command(elements: ReadonlyArray<readonly [number, CommandValue]>): Buffer {
  return buildCommandSet(elements);
}

export const ECHO_COMMAND = (): Buffer => command([[CommandTag.AffectedSopClassUid, { ui: VERIFICATION }], [CommandTag.CommandField, { us: 0x30 }], [CommandTag.MessageId, { us: 1 }], [CommandTag.CommandDataSetType, { us: 0x101 }]]);
export const STORE_COMMAND = (): Buffer => command([[CommandTag.AffectedSopClassUid, { ui: CT_IMAGE }], [CommandTag.CommandField, { us: 0x01 }], [CommandTag.MessageId, { us: 7 }], [CommandTag.Priority, { us: 0 }], [CommandTag.CommandDataSetType, { us: 0x0000 }], [CommandTag.AffectedSopInstanceUid, { ui: '2.25.1234567' }]]);
export const MOVE_COMMAND = (): Buffer => command([[CommandTag.AffectedSopClassUid, { ui: '1.2.840.10008.5.1.4.1.2.2.2' }], [CommandTag.CommandField, { us: 0x21 }], [CommandTag.MessageId, { us: 2 }], [CommandTag.MoveDestination, { text: 'DEST' }], [CommandTag.CommandDataSetType, { us: 0x0102 }]]);

/** A whole client stream: RQ, a C-ECHO, a C-STORE with a data set in two fragments, release. */
export function clientStream(userIdentity = true): Buffer {
  return Buffer.concat([
    echoRq(userIdentity),
    buildPData(1, true, ECHO_COMMAND()),
    buildPData(3, true, STORE_COMMAND()),
    buildPData(3, false, Buffer.alloc(48, 0x41), 16),
    buildRelease(PduType.ReleaseRq),
  ]);
}

export const abortPdu = (): Buffer => buildAbort(0);

const uid = fc.array(fc.integer({ min: 0, max: 99999 }), { minLength: 2, maxLength: 8 }).map((a) => a.join('.'));
const ae = fc.stringMatching(/^[A-Z0-9_]{1,16}$/);

/** A-ASSOCIATE-RQs as an SCU would build them, with random contexts and identities. */
export const associateRqArbitrary: fc.Arbitrary<Buffer> = fc.record({
  calledAe: ae, callingAe: ae,
  contexts: fc.uniqueArray(fc.record({ id: fc.integer({ min: 0, max: 127 }).map((n) => 2 * n + 1), abstractSyntax: uid, transferSyntaxes: fc.array(uid, { minLength: 1, maxLength: 4 }) }), { minLength: 1, maxLength: 6, selector: (p) => p.id }),
  maxPduLength: fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined }),
  identity: fc.option(fc.record({ type: fc.integer({ min: 1, max: 5 }), positiveResponseRequested: fc.boolean(), primary: fc.uint8Array({ minLength: 1, maxLength: 64 }), secondary: fc.uint8Array({ maxLength: 32 }) }), { nil: undefined }),
}).map((r) => buildAssociateRq({
  calledAe: r.calledAe, callingAe: r.callingAe, presentationContexts: r.contexts,
  ...(r.maxPduLength === undefined ? {} : { maxPduLength: r.maxPduLength }),
  ...(r.identity === undefined ? {} : { userIdentity: { ...r.identity, primary: Buffer.from(r.identity.primary), secondary: r.identity.type === 2 ? Buffer.from(r.identity.secondary) : Buffer.alloc(0) } }),
}));
