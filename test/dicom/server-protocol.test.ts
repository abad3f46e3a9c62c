// Raw-socket tests of the DIMSE listener: hostile and malformed input gets A-ABORT/close and never reaches the PACS.

import { connect } from 'node:net';
import { once } from 'node:events';
import t, { type Test } from 'tap';
import { buildRelease } from '../../src/dicom/abort.js';
import { buildAssociateRq, buildItem } from '../../src/dicom/associate-build.js';
import { AbortReason, PduType, type AbortReasonValue } from '../../src/dicom/constants.js';
import { buildPData } from '../../src/dicom/p-data.js';
import { buildAbort } from '../../src/dicom/abort.js';
import { rawClient, startHarness, VERIFICATION, IMPLICIT, type Harness } from './helpers/harness.js';

const rq = buildAssociateRq({ calledAe: 'GATEWAY', callingAe: 'CT01', presentationContexts: [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT] }] });

let h: Harness;
t.before(async () => { h = await startHarness(); });
t.teardown(async () => { await h.close(); });

/** Sends `bytes` as the first thing on a fresh connection; returns what the gateway answered before closing. */
async function firstPdu(bytes: Buffer): Promise<Buffer> {
  const c = await rawClient(h.port);
  c.send(bytes);
  return c.ended;
}

const violations: Array<[string, Buffer, AbortReasonValue]> = [
  ['unknown PDU type', Buffer.from([0x0a, 0, 0, 0, 0, 4, 0, 0, 0, 0]), AbortReason.UnrecognizedPdu],
  ['P-DATA-TF before the association', buildPData(1, true, Buffer.alloc(20)), AbortReason.UnexpectedPdu],
  ['A-RELEASE-RQ before the association', buildRelease(PduType.ReleaseRq), AbortReason.UnexpectedPdu],
  ['A-ASSOCIATE-AC from a client', Buffer.concat([Buffer.from([0x02, 0, 0, 0, 0, 68]), Buffer.alloc(68)]), AbortReason.UnexpectedPdu],
  ['A-ABORT with a PDU-length other than 4', Buffer.from([0x07, 0, 0, 0, 0, 3, 0, 0, 0]), AbortReason.InvalidPduParameterValue],
  ['A-ASSOCIATE-RQ larger than maxAssociateRqBytes', Buffer.from([0x01, 0, 0, 1, 0, 1]), AbortReason.InvalidPduParameterValue],
  ['A-ASSOCIATE-RQ whose items overrun it', (() => { const b = Buffer.from(rq); b.writeUInt16BE(0x7fff, 6 + 68 + 2); return b; })(), AbortReason.InvalidPduParameterValue],
  ['A-ASSOCIATE-RQ with an unknown item', (() => {
    const extra = buildItem(0x77, Buffer.alloc(4));
    const b = Buffer.concat([rq, extra]);
    b.writeUInt32BE(b.length - 6, 2);
    return b;
  })(), AbortReason.UnrecognizedPduParameter],
  ['A-ASSOCIATE-RQ with a control character in the calling AE', (() => { const b = Buffer.from(rq); b[6 + 4 + 16] = 0x07; return b; })(), AbortReason.InvalidPduParameterValue],
];

for (const [name, bytes, reason] of violations) {
  t.test(`${name} → A-ABORT (source 2, reason ${reason}), nothing reaches the PACS`, async (t) => {
    const before = h.alerts('dicom.protocol-violation').length;
    const got = await firstPdu(bytes);
    t.same([...got], [...buildAbort(reason)], 'exactly one A-ABORT, then the connection closes');
    t.equal(h.upstream.connections, 0, 'the PACS saw no connection');
    t.equal(h.alerts('dicom.protocol-violation').length, before + 1, 'alert raised');
    t.ok(h.logs.some((l) => l.msg?.startsWith('protocol violation by the client')), 'log line');
  });
}

/**
 * Opens an association (user identity) on a gateway of its own with an accepting PACS, sends
 * `bytes` after the A-ASSOCIATE-AC, and returns what the client got after the AC, what reached the
 * PACS and how many protocol-violation alerts were raised.
 */
async function violationAfterAssociation(t: Test, bytes: Buffer): Promise<{ toClient: Buffer; toPacs: Buffer; alerts: number }> {
  const local = await startHarness({ upstream: { mode: 'accept' } });
  t.teardown(() => local.close());
  local.identity.users.set('2:alice:secret123456', { id: 'alice', kind: 'user', role: 'reader', method: 'dicom-user-password-totp' });
  const c = await rawClient(local.port);
  c.send(buildAssociateRq({ calledAe: 'GW', callingAe: 'WS', userIdentity: { type: 2, positiveResponseRequested: false, primary: Buffer.from('alice'), secondary: Buffer.from('secret123456') }, presentationContexts: [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT] }] }));
  const ac = await c.waitFor(1);
  t.equal(ac[0], PduType.AssociateAc);
  const acLength = 6 + ac.readUInt32BE(2);
  const before = local.alerts('dicom.protocol-violation').length;
  c.send(bytes);
  const got = await c.ended;
  await new Promise((r) => setTimeout(r, 100));
  return { toClient: got.subarray(acLength), toPacs: Buffer.concat(local.upstream.received[0] ?? []), alerts: local.alerts('dicom.protocol-violation').length - before };
}

t.test('a PDV longer than its P-DATA-TF PDU after the association → A-ABORT reason 6 to the client, A-ABORT to the PACS', async (t) => {
  const { toClient, toPacs } = await violationAfterAssociation(t, Buffer.from([0x04, 0, 0, 0, 0, 10, 0, 0, 0, 200, 1, 3, 0, 0, 0, 0]));
  t.same([...toClient], [...buildAbort(AbortReason.InvalidPduParameterValue)]);
  t.same([...toPacs.subarray(toPacs.length - 10)], [...buildAbort(AbortReason.NotSpecified)], 'the PACS is told with A-ABORT');
});

t.test('an odd-length data fragment after the association → A-ABORT reason 6 to the client, the PACS gets none of it', async (t) => {
  // PS3.7 Annex F: message fragments have even lengths; a dcmtk-based PACS would refuse this one
  // only after taking the association's data.
  const { toClient, toPacs, alerts } = await violationAfterAssociation(t, Buffer.from([0x04, 0, 0, 0, 0, 9, 0, 0, 0, 5, 1, 0, 0xaa, 0xbb, 0xcc]));
  t.same([...toClient], [...buildAbort(AbortReason.InvalidPduParameterValue)]);
  t.equal(alerts, 1, 'alert raised');
  t.equal(toPacs.indexOf(Buffer.from([0xaa, 0xbb, 0xcc])), -1, 'no byte of the fragment reached the PACS');
  t.same([...toPacs.subarray(toPacs.length - 10)], [...buildAbort(AbortReason.NotSpecified)], 'the PACS is told with A-ABORT');
});

t.test('a slow sender is cut off by ARTIM; nothing reaches the PACS', async (t) => {
  const c = await rawClient(h.port);
  const start = Date.now();
  c.send(rq.subarray(0, 20));
  const got = await c.ended;
  t.equal(got.length, 0, 'closed without a word (PS3.8 ARTIM expiry)');
  t.ok(Date.now() - start >= 900, 'after artimSeconds');
  t.equal(h.upstream.connections, 0);
  t.ok(h.audit('dicom.association').some((e) => e.reason === 'artim-timeout'));
});

t.test('a huge declared length is refused at once, before any body arrives', async (t) => {
  const c = await rawClient(h.port);
  const start = Date.now();
  c.send(Buffer.from([0x04, 0, 0xff, 0xff, 0xff, 0xf0]));
  const got = await c.ended;
  t.same([...got], [...buildAbort(AbortReason.UnexpectedPdu)], 'P-DATA before the association is refused on its header (unexpected-PDU)');
  const c2 = await rawClient(h.port);
  c2.send(Buffer.from([0x01, 0, 0xff, 0xff, 0xff, 0xf0]));
  t.same([...(await c2.ended)], [...buildAbort(AbortReason.InvalidPduParameterValue)]);
  t.ok(Date.now() - start < 900, 'well before ARTIM');
  t.equal(h.upstream.connections, 0);
});

t.test('plain TCP (no TLS) to the TLS port is refused; the PACS sees nothing', async (t) => {
  const s = connect({ host: '127.0.0.1', port: h.port });
  await once(s, 'connect');
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  s.on('error', () => undefined);
  s.write(rq);
  await once(s, 'close');
  const got = Buffer.concat(chunks);
  t.notOk(got.length > 0 && got[0] === PduType.AssociateAc, 'no A-ASSOCIATE-AC');
  t.ok(got.length === 0 || got[0] === 0x15, 'at most a TLS alert record');
  t.equal(h.upstream.connections, 0);
  t.ok(h.logs.some((l) => l.msg === 'TLS handshake failed'));
});

t.test('no stats left behind', async (t) => {
  await new Promise((r) => setTimeout(r, 100));
  t.equal(h.server.stats().associations, 0);
});
