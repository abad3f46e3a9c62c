// A-ASSOCIATE-RQ/AC, -RJ, A-ABORT, user identity: round trips, rewrites, and bounds on every field.

import t from 'tap';
import { buildAbort, buildRelease, parseAbort } from '../../src/dicom/abort.js';
import {
  buildAssociate, buildAssociateAc, buildAssociateRq, buildItem, encodeAeTitle, rewriteAssociate,
} from '../../src/dicom/associate-build.js';
import { decodeAeTitle, decodeUid, parseAssociateAc, parseAssociateRq } from '../../src/dicom/associate-parse.js';
import { AbortReason, AbortSource, ItemType, PduType } from '../../src/dicom/constants.js';
import { acceptForClient, requestForPacs } from '../../src/dicom/negotiation.js';
import { buildAssociateRj, parseAssociateRj, Refusal } from '../../src/dicom/reject.js';
import { buildUserIdentityRq, parseUserIdentityRq, userIdentityAcValue } from '../../src/dicom/user-identity.js';
import { throwsPdu } from './helpers/assert.js';

const VERIFICATION = '1.2.840.10008.1.1';
const CT = '1.2.840.10008.5.1.4.1.1.2';
const IMPLICIT = '1.2.840.10008.1.2';
const EXPLICIT = '1.2.840.10008.1.2.1';

const identity = { type: 2, positiveResponseRequested: true, primary: Buffer.from('alice'), secondary: Buffer.from('pw123456') };
const rqBytes = buildAssociateRq({
  calledAe: 'GATEWAY', callingAe: 'CT01', maxPduLength: 32768, userIdentity: identity,
  presentationContexts: [
    { id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT] },
    { id: 3, abstractSyntax: CT, transferSyntaxes: [EXPLICIT, IMPLICIT] },
  ],
});

t.test('A-ASSOCIATE-RQ round trip', async (t) => {
  const rq = parseAssociateRq(rqBytes);
  t.equal(rq.calledAe, 'GATEWAY');
  t.equal(rq.callingAe, 'CT01');
  t.equal(rq.protocolVersion, 1);
  t.equal(rq.maxPduLength, 32768);
  t.same(rq.presentationContexts, [
    { id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT] },
    { id: 3, abstractSyntax: CT, transferSyntaxes: [EXPLICIT, IMPLICIT] },
  ]);
  t.equal(rq.userIdentity?.type, 2);
  t.equal(rq.userIdentity?.primary.toString(), 'alice');
  t.equal(rq.userIdentity?.secondary.toString(), 'pw123456');
  t.ok(rq.userIdentity?.positiveResponseRequested);
  t.same(rewriteAssociate(rq, {}), rqBytes, 'rewrite without changes is byte-identical');
});

t.test('rewrite for the PACS: called AE, max length, user identity stripped, lengths fixed', async (t) => {
  const rq = parseAssociateRq(rqBytes);
  const out = rewriteAssociate(rq, { calledAe: 'ORTHANC', maxPduLength: 16384, dropUserItems: [ItemType.UserIdentityRq] });
  t.equal(out.readUInt32BE(2), out.length - 6, 'PDU-length recomputed');
  const again = parseAssociateRq(out);
  t.equal(again.calledAe, 'ORTHANC');
  t.equal(again.callingAe, 'CT01');
  t.equal(again.maxPduLength, 16384);
  t.equal(again.userIdentity, undefined);
  t.notOk(out.includes(Buffer.from('pw123456')), 'the passcode is gone from the bytes');
  t.same(again.presentationContexts, rq.presentationContexts);
  t.same(again.reserved, rq.reserved);
});

t.test('rewrite adds a max length sub-item and a user information item when missing', async (t) => {
  const bare = buildAssociate({
    pduType: PduType.AssociateRq, protocolVersion: 1, calledAe: 'A', callingAe: 'B', reserved: Buffer.alloc(32),
    items: [
      { type: ItemType.ApplicationContext, value: Buffer.from('1.2.840.10008.3.1.1.1') },
      { type: ItemType.PresentationContextRq, value: Buffer.concat([Buffer.from([1, 0, 0, 0]), buildItem(0x30, Buffer.from(VERIFICATION)), buildItem(0x40, Buffer.from(IMPLICIT))]) },
    ],
  });
  const rq = parseAssociateRq(bare);
  t.equal(rq.maxPduLength, undefined);
  t.same(rq.userItems, []);
  t.equal(parseAssociateRq(rewriteAssociate(rq, { maxPduLength: 4096 })).maxPduLength, 4096);
});

t.test('A-ASSOCIATE-AC round trip, user identity response, called AE restored', async (t) => {
  const acBytes = buildAssociateAc({
    calledAe: 'ORTHANC', callingAe: 'CT01', maxPduLength: 0,
    presentationContexts: [{ id: 1, result: 0, transferSyntax: IMPLICIT }, { id: 3, result: 3, transferSyntax: undefined }],
  });
  const ac = parseAssociateAc(acBytes);
  t.equal(ac.maxPduLength, 0);
  t.same(ac.presentationContexts, [{ id: 1, result: 0, transferSyntax: IMPLICIT }, { id: 3, result: 3, transferSyntax: undefined }]);
  t.equal(ac.userIdentityResponse, undefined);
  t.same(rewriteAssociate(ac, {}), acBytes);
  const out = parseAssociateAc(rewriteAssociate(ac, {
    calledAe: 'GATEWAY', maxPduLength: 65536, appendUserItems: [{ type: ItemType.UserIdentityAc, value: userIdentityAcValue() }],
  }));
  t.equal(out.calledAe, 'GATEWAY');
  t.equal(out.maxPduLength, 65536);
  t.same(out.userIdentityResponse, Buffer.alloc(0), 'empty server response (PS3.7 Table D.3-15)');
  const withJwt = parseAssociateAc(rewriteAssociate(ac, { appendUserItems: [{ type: ItemType.UserIdentityAc, value: userIdentityAcValue(Buffer.from('xyz')) }] }));
  t.equal(withJwt.userIdentityResponse?.toString(), 'xyz');
});

t.test('user identity sub-item parse and bounds', async (t) => {
  const whole = buildUserIdentityRq(identity);
  t.same(parseUserIdentityRq(whole.subarray(4)), identity);
  const jwt = { type: 5, positiveResponseRequested: false, primary: Buffer.from('a.b.c'), secondary: Buffer.alloc(0) };
  t.same(parseUserIdentityRq(buildUserIdentityRq(jwt).subarray(4)), jwt);
  throwsPdu(t, () => parseUserIdentityRq(whole.subarray(4, 8)), AbortReason.InvalidPduParameterValue, /primary-field needs 5 bytes/);
  throwsPdu(t, () => parseUserIdentityRq(Buffer.concat([whole.subarray(4), Buffer.from([0])])), AbortReason.InvalidPduParameterValue, /bytes after the secondary-field/);
  throwsPdu(t, () => parseUserIdentityRq(Buffer.from([2, 1, 0xff, 0xff, 0x41])), AbortReason.InvalidPduParameterValue, /needs 65535 bytes but only 1 remain/);
  throwsPdu(t, () => parseUserIdentityRq(Buffer.from([2, 1, 0, 0, 0, 0])), AbortReason.InvalidPduParameterValue, /empty primary-field/);
  throwsPdu(t, () => parseUserIdentityRq(buildUserIdentityRq({ ...jwt, secondary: Buffer.from('x') }).subarray(4)), AbortReason.InvalidPduParameterValue, /type 5 carries a secondary-field/);
});

t.test('A-ASSOCIATE-RQ bounds: truncated and oversized items, duplicates, unknown items', async (t) => {
  throwsPdu(t, () => parseAssociateRq(rqBytes.subarray(0, 50)), AbortReason.InvalidPduParameterValue, /shorter than its fixed fields/);
  const lying = Buffer.from(rqBytes);
  lying.writeUInt32BE(rqBytes.length, 2);
  throwsPdu(t, () => parseAssociateRq(lying), AbortReason.InvalidPduParameterValue, /PDU-length does not match/);
  // Cut the PDU in the middle of its items but keep the PDU-length consistent.
  const cut = Buffer.from(rqBytes.subarray(0, 6 + 68 + 10));
  cut.writeUInt32BE(cut.length - 6, 2);
  throwsPdu(t, () => parseAssociateRq(cut), AbortReason.InvalidPduParameterValue, /needs \d+ bytes but only \d+ remain/);
  // First item claims 0xffff bytes.
  const huge = Buffer.from(rqBytes);
  huge.writeUInt16BE(0xffff, 6 + 68 + 2);
  throwsPdu(t, () => parseAssociateRq(huge), AbortReason.InvalidPduParameterValue, /item 0x10 value \(65535 bytes\) needs 65535 bytes/);
  const rq = parseAssociateRq(rqBytes);
  const withItem = (extra: { type: number; value: Buffer }): Buffer => buildAssociate({ ...rq, items: [...rq.items, extra] });
  throwsPdu(t, () => parseAssociateRq(withItem({ type: 0x99, value: Buffer.alloc(2) })), AbortReason.UnrecognizedPduParameter, /unrecognized item 0x99/);
  throwsPdu(t, () => parseAssociateRq(withItem(rq.items[0] as { type: number; value: Buffer })), AbortReason.InvalidPduParameterValue, /more than one application context/);
  throwsPdu(t, () => parseAssociateRq(withItem(rq.items[1] as { type: number; value: Buffer })), AbortReason.InvalidPduParameterValue, /repeats a presentation-context-ID/);
  throwsPdu(t, () => parseAssociateRq(withItem({ type: 0x20, value: Buffer.from([2, 0, 0, 0]) })), AbortReason.InvalidPduParameterValue, /ID 2 is not an odd integer/);
  throwsPdu(t, () => parseAssociateRq(withItem({ type: 0x20, value: Buffer.concat([Buffer.from([5, 0, 0, 0]), buildItem(0x40, Buffer.from(IMPLICIT))]) })), AbortReason.InvalidPduParameterValue, /no abstract syntax/);
  throwsPdu(t, () => parseAssociateRq(withItem({ type: 0x20, value: Buffer.concat([Buffer.from([5, 0, 0, 0]), buildItem(0x30, Buffer.from('1.2.x'))]) })), AbortReason.InvalidPduParameterValue, /not a valid UID/);
  throwsPdu(t, () => parseAssociateRq(withItem({ type: 0x50, value: Buffer.alloc(0) })), AbortReason.InvalidPduParameterValue, /more than one user information/);
  const twoIds = rewriteAssociate(rq, { appendUserItems: [{ type: ItemType.UserIdentityRq, value: buildUserIdentityRq(identity).subarray(4) }] });
  throwsPdu(t, () => parseAssociateRq(twoIds), AbortReason.InvalidPduParameterValue, /more than one user identity/);
  const badMax = rewriteAssociate(rq, { appendUserItems: [{ type: ItemType.MaxLength, value: Buffer.alloc(2) }] });
  throwsPdu(t, () => parseAssociateRq(badMax), AbortReason.InvalidPduParameterValue, /maximum length sub-item/);
  throwsPdu(t, () => parseAssociateAc(rqBytes), AbortReason.InvalidPduParameterValue, /not an A-ASSOCIATE-AC/);
});

t.test('AE titles and UIDs', async (t) => {
  t.equal(decodeAeTitle(encodeAeTitle('CT01'), 'x'), 'CT01');
  t.equal(decodeAeTitle(Buffer.from('  CT 01\0\0\0\0\0\0\0\0\0'), 'x'), 'CT 01', 'leading spaces and NUL padding are not significant');
  t.equal(decodeAeTitle(Buffer.alloc(16, 0x20), 'x'), '');
  throwsPdu(t, () => decodeAeTitle(Buffer.from('CT\\01           '), 'calling-AE-title'), AbortReason.InvalidPduParameterValue, /calling-AE-title contains a character/);
  throwsPdu(t, () => decodeAeTitle(Buffer.from('CT\n01           '), 'called-AE-title'), AbortReason.InvalidPduParameterValue, /0xa/);
  t.throws(() => encodeAeTitle('SEVENTEEN-CHARS-X'), TypeError);
  t.equal(decodeUid(Buffer.from('1.2.3\0'), 'u'), '1.2.3');
  throwsPdu(t, () => decodeUid(Buffer.from('1.2..3'), 'u'), AbortReason.InvalidPduParameterValue, /not a valid UID/);
  throwsPdu(t, () => decodeUid(Buffer.from('1.' + '2'.repeat(70)), 'u'), AbortReason.InvalidPduParameterValue, /not a valid UID/);
  t.throws(() => buildItem(0x10, Buffer.alloc(70000)), TypeError);
});

t.test('A-ASSOCIATE-RJ and A-ABORT', async (t) => {
  const rj = buildAssociateRj(Refusal.callingAeNotRecognized);
  t.same([...rj], [0x03, 0, 0, 0, 0, 4, 0, 1, 1, 3]);
  t.same(parseAssociateRj(rj), { result: 1, source: 1, reason: 3 });
  t.same([...buildAssociateRj(Refusal.localLimitExceeded)].slice(7), [2, 3, 2], 'transient, presentation service-provider, local-limit-exceeded');
  t.same([...buildAssociateRj(Refusal.temporaryCongestion)].slice(7), [2, 3, 1], 'transient, presentation service-provider, temporary-congestion');
  t.same([...buildAssociateRj(Refusal.notAuthenticated)].slice(7), [1, 1, 1]);
  t.same([...buildAssociateRj(Refusal.protocolVersionNotSupported)].slice(7), [1, 2, 2]);
  throwsPdu(t, () => parseAssociateRj(rj.subarray(0, 9)), AbortReason.InvalidPduParameterValue, /not an A-ASSOCIATE-RJ/);
  const ab = buildAbort(AbortReason.UnexpectedPdu);
  t.same([...ab], [0x07, 0, 0, 0, 0, 4, 0, 0, 2, 2]);
  t.same(parseAbort(ab), { source: AbortSource.ServiceProvider, reason: 2 });
  t.same(parseAbort(buildAbort(AbortReason.UnexpectedPdu, AbortSource.ServiceUser)), { source: 0, reason: 0 }, 'a user abort carries no reason');
  throwsPdu(t, () => parseAbort(rj), AbortReason.InvalidPduParameterValue, /not an A-ABORT/);
  t.same([...buildRelease(PduType.ReleaseRq)], [5, 0, 0, 0, 0, 4, 0, 0, 0, 0]);
  t.same([...buildRelease(PduType.ReleaseRp)], [6, 0, 0, 0, 0, 4, 0, 0, 0, 0]);
});

t.test('regression (fuzz associate-rq): identity negotiation sub-items in the wrong PDU never reach the other side', async (t) => {
  // A 0x59 (the acceptor's answer) inside an A-ASSOCIATE-RQ, and a 0x58 inside the PACS's A-ASSOCIATE-AC.
  const withAnswer = parseAssociateRq(rewriteAssociate(parseAssociateRq(rqBytes), { appendUserItems: [{ type: ItemType.UserIdentityAc, value: userIdentityAcValue(Buffer.from('x')) }] }));
  const toPacs = parseAssociateRq(requestForPacs(withAnswer, 'ORTHANC', 16384));
  t.same(toPacs.userItems.map((s) => s.type).filter((x) => x === ItemType.UserIdentityRq || x === ItemType.UserIdentityAc), [], 'the RQ for the PACS carries no 0x58 or 0x59');
  const acBytes = buildAssociateAc({ calledAe: 'ORTHANC', callingAe: 'CT01', presentationContexts: [{ id: 1, result: 0, transferSyntax: IMPLICIT }] });
  const ac = parseAssociateAc(rewriteAssociate(parseAssociateAc(acBytes), { appendUserItems: [{ type: ItemType.UserIdentityRq, value: buildUserIdentityRq(identity).subarray(4) }] }));
  const forClient = parseAssociateAc(acceptForClient(ac, parseAssociateRq(rqBytes), 16384, false).bytes);
  t.same(forClient.userItems.map((s) => s.type).filter((x) => x === ItemType.UserIdentityRq || x === ItemType.UserIdentityAc), [], 'the AC for the client carries none either');
});
