// Raw-socket tests of association admission, refusals (PS3.8 §9.3.4 codes), limits, the command guard and teardown.

import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { connect as tlsConnect } from 'node:tls';
import t, { type Test } from 'tap';
import { buildAbort, buildRelease } from '../../src/dicom/abort.js';
import { buildAssociateRq } from '../../src/dicom/associate-build.js';
import { parseAssociateAc } from '../../src/dicom/associate-parse.js';
import { buildCommandSet } from '../../src/dicom/command-build.js';
import { decodeCommandSet } from '../../src/dicom/command-set.js';
import { AbortReason, CommandTag, ItemType, PduType } from '../../src/dicom/constants.js';
import { buildPData } from '../../src/dicom/p-data.js';
import { issueCertificate } from '../../src/tls/issue.js';
import type { Principal } from '../../src/identity/principal.js';
import type { UserIdentityRq } from '../../src/dicom/user-identity.js';
import { CT, IMPLICIT, rawClient, startHarness, VERIFICATION, type Harness, type RawClient } from './helpers/harness.js';
import { miniScp } from './helpers/mini-scp.js';
import { tlsMaterial } from './helpers/pki.js';

const contexts = [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT] }, { id: 3, abstractSyntax: CT, transferSyntaxes: [IMPLICIT] }];
const alice: Principal = { id: 'alice', kind: 'user', role: 'reader', method: 'dicom-user-password-totp' };
const pw = (user: string, positive = false): UserIdentityRq => ({ type: 2, positiveResponseRequested: positive, primary: Buffer.from(user), secondary: Buffer.from('secret123456') });
const rq = (o: { callingAe?: string; userIdentity?: UserIdentityRq; maxPduLength?: number } = {}): Buffer => buildAssociateRq({ calledAe: 'GATEWAY', callingAe: o.callingAe ?? 'CT01', presentationContexts: contexts, ...o });

async function harness(t: Test, o: Parameters<typeof startHarness>[0] = {}): Promise<Harness & { scp: ReturnType<typeof miniScp> }> {
  const scp = miniScp();
  const h = await startHarness({ upstream: { mode: 'accept', onData: (s, c) => scp.onData(s, c) }, ...o });
  t.teardown(() => h.close());
  h.identity.users.set('2:alice:secret123456', alice);
  h.identity.devices.set(h.pki.device.fingerprint256, { id: 'ct-scanner-1', kind: 'device', role: 'modality', method: 'mtls', aeTitles: ['CT01'], certFingerprint: h.pki.device.fingerprint256 });
  return Object.assign(h, { scp });
}

/** Opens an association and returns the client and the A-ASSOCIATE-AC/RJ bytes. */
async function associate(h: Harness, request: Buffer, cert?: { certPem: string; keyPem: string }): Promise<{ c: RawClient; answer: Buffer }> {
  const c = await rawClient(h.port, cert);
  c.send(request);
  const got = await c.waitFor(6);
  const answer = await c.waitFor(6 + got.readUInt32BE(2));
  return { c, answer: answer.subarray(0, 6 + got.readUInt32BE(2)) };
}

const rjBytes = (result: number, source: number, reason: number): number[] => [0x03, 0, 0, 0, 0, 4, 0, result, source, reason];

t.test('refusals carry PS3.8 §9.3.4 result/source/reason and never reach the PACS', async (t) => {
  const h = await harness(t);
  const cases: Array<[string, Buffer, { certPem: string; keyPem: string } | undefined, number[], string]> = [
    ['no identity', rq(), undefined, rjBytes(1, 1, 1), 'no-identity'],
    ['wrong password', rq({ userIdentity: pw('mallory') }), undefined, rjBytes(1, 1, 1), 'bad-credentials'],
    ['locked out (transient)', rq({ userIdentity: pw('locked') }), undefined, rjBytes(2, 1, 1), 'locked-out'],
    ['identity store failure (transient, congestion)', rq({ userIdentity: pw('throws') }), undefined, rjBytes(2, 3, 1), 'identity-error'],
    ['certificate from an unknown CA', rq(), h.pki.stranger, rjBytes(1, 1, 1), 'certificate-not-verified'],
    ['expired certificate', rq(), h.pki.expired, rjBytes(1, 1, 1), 'certificate-not-verified'],
    ['revoked certificate (CRL)', rq(), h.pki.revoked, rjBytes(1, 1, 1), 'certificate-not-verified'],
    ['unverified certificate plus valid user identity', rq({ userIdentity: pw('alice') }), h.pki.stranger, rjBytes(1, 1, 1), 'certificate-not-verified'],
    ['verified certificate bound to no device', rq(), issueCertificate(h.pki.ca, { commonName: 'nobody', usage: 'client' }), rjBytes(1, 1, 1), 'certificate-unknown'],
    ['device certificate with another calling AE', rq({ callingAe: 'MR99' }), h.pki.device, rjBytes(1, 1, 3), 'calling-ae-not-allowed'],
    ['empty calling AE', rq({ callingAe: '' }), h.pki.device, rjBytes(1, 1, 3), 'calling-ae-empty'],
  ];
  for (const [name, request, cert, expected, reason] of cases) {
    const { c, answer } = await associate(h, request, cert);
    t.same([...answer], expected, `${name}: A-ASSOCIATE-RJ ${expected.slice(7).join('/')}`);
    await c.ended;
    const event = h.audit('dicom.association').at(-1);
    t.match(event, { decision: 'deny', reason }, `${name}: audited`);
  }
  t.equal(h.upstream.connections, 0, 'the PACS saw no connection at all');
  t.ok(h.audit('dicom.association').some((e) => e.detail === 'CERT_REVOKED'), 'the revocation is named');
  t.ok(h.alerts('cert.revoked-presented').length >= 1, 'a revoked certificate raises an alert');
  t.ok(h.audit('dicom.association').some((e) => e.detail === 'CERT_HAS_EXPIRED'));
  t.notOk(h.identity.calls.some((c) => c.includes(h.pki.stranger.fingerprint256)), 'an unverified certificate is never looked up');
  t.notOk(JSON.stringify(h.logs).includes('secret123456'), 'the passcode never reaches the logs');
});

t.test('a device certificate is admitted: called AE rewritten, user identity stripped, max PDU capped', async (t) => {
  const h = await harness(t, { dicom: { maxPduBytes: 65536 } });
  const { c, answer } = await associate(h, rq({ maxPduLength: 0, userIdentity: pw('alice', true) }), h.pki.device);
  t.equal(answer[0], PduType.AssociateAc);
  const ac = parseAssociateAc(answer);
  t.equal(ac.calledAe, 'GATEWAY', 'the client sees the called AE it asked for');
  t.equal(ac.maxPduLength, 16384, "the PACS's limit (under the gateway's cap)");
  t.equal(ac.userIdentityResponse, undefined, 'admitted by certificate: no user identity response');
  const up = h.upstream.requests[0];
  t.equal(up?.calledAe, 'PACS', 'the PACS sees its own AE title');
  t.equal(up?.callingAe, 'CT01');
  t.equal(up?.userIdentity, undefined, 'no user identity sub-item upstream');
  t.equal(up?.maxPduLength, 65536, 'unlimited (0) is capped at dicom.maxPduBytes');
  t.notOk(Buffer.concat(h.upstream.received[0] ?? []).includes(Buffer.from('secret123456')));
  t.match(h.audit('dicom.association').at(-1), { decision: 'allow', principal: 'ct-scanner-1', method: 'mtls', callingAe: 'CT01', calledAe: 'GATEWAY', certFingerprint: h.pki.device.fingerprint256 });
  t.match(h.audit('dicom.association').at(-1)?.tlsVersion, /^TLSv1\.[23]$/);
  c.send(buildRelease(PduType.ReleaseRq));
  const all = await c.ended;
  t.same([...all.subarray(answer.length)], [...buildRelease(PduType.ReleaseRp)], 'A-RELEASE-RP relayed, then closed');
});

t.test('a release collision (both sides ask at once, PS3.8 §9.2.6) ends in a clean release, not an abort', async (t) => {
  // The PACS answers the relayed A-RELEASE-RQ with one of its own, then, once it has the client's
  // A-RELEASE-RP, with its A-RELEASE-RP (the acceptor's side of the collision: Sta10 → Sta12 → Sta13).
  const toPacs: number[] = [];
  const h = await harness(t, {
    upstream: {
      mode: 'accept',
      onData: (s, chunk) => {
        for (let at = 0; at + 6 <= chunk.length; at += 6 + chunk.readUInt32BE(at + 2)) {
          const type = chunk[at] as number;
          toPacs.push(type);
          if (type === PduType.ReleaseRq) s.write(buildRelease(PduType.ReleaseRq));
          if (type === PduType.ReleaseRp) s.end(buildRelease(PduType.ReleaseRp));
        }
      },
    },
  });
  const { c, answer } = await associate(h, rq(), h.pki.device);
  t.equal(answer[0], PduType.AssociateAc);
  c.send(buildRelease(PduType.ReleaseRq));
  const collided = await c.waitFor(answer.length + 10);
  t.same([...collided.subarray(answer.length)], [...buildRelease(PduType.ReleaseRq)], "the PACS's own A-RELEASE-RQ reaches the client");
  c.send(buildRelease(PduType.ReleaseRp)); // the requestor's answer in a collision (Sta9 → Sta11)
  const all = await c.ended;
  t.same([...all.subarray(answer.length + 10)], [...buildRelease(PduType.ReleaseRp)], "then the PACS's A-RELEASE-RP, and the connection closes");
  t.same(toPacs, [PduType.ReleaseRq, PduType.ReleaseRp], 'the PACS got the client\'s A-RELEASE-RQ and A-RELEASE-RP');
  t.same(h.alerts('dicom.protocol-violation'), [], 'no protocol violation');
  t.notOk(h.audit('dicom.association').some((e) => e.reason === 'protocol-violation'), 'nothing audited as a violation');
});

t.test('user identity type 2 with a positive response requested gets a 0x59 sub-item', async (t) => {
  const h = await harness(t);
  const { c, answer } = await associate(h, rq({ userIdentity: pw('alice', true) }));
  const ac = parseAssociateAc(answer);
  t.same(ac.userIdentityResponse, Buffer.alloc(0), 'empty server response (PS3.7 Table D.3-15)');
  t.notOk(h.upstream.requests[0]?.userItems.some((s) => s.type === ItemType.UserIdentityRq));
  const { answer: noPositive } = await associate(h, rq({ userIdentity: pw('alice', false) }));
  t.equal(parseAssociateAc(noPositive).userIdentityResponse, undefined, 'no response unless asked');
  t.match(h.audit('dicom.association').at(-1), { decision: 'allow', principal: 'alice', userIdentityType: 2 });
  c.socket.destroy();
});

function echoRq(id: number): Buffer {
  return buildPData(1, true, buildCommandSet([[CommandTag.AffectedSopClassUid, { ui: VERIFICATION }], [CommandTag.CommandField, { us: 0x30 }], [CommandTag.MessageId, { us: id }], [CommandTag.CommandDataSetType, { us: 0x0101 }]]));
}
function storeRq(id: number, pixels: Buffer): Buffer {
  const cmd = buildCommandSet([[CommandTag.AffectedSopClassUid, { ui: CT }], [CommandTag.CommandField, { us: 1 }], [CommandTag.MessageId, { us: id }], [CommandTag.CommandDataSetType, { us: 0 }], [CommandTag.AffectedSopInstanceUid, { ui: '1.2.3.4.5' }]]);
  return Buffer.concat([buildPData(3, true, cmd), buildPData(3, false, pixels, 4000)]);
}

t.test('a read-only role: C-STORE refused with 0x0124 by the gateway, then C-ECHO on the same association reaches the PACS', async (t) => {
  const h = await harness(t);
  const { c, answer } = await associate(h, rq({ userIdentity: pw('alice') }));
  const before = Buffer.concat(h.upstream.received[0] ?? []).length;
  c.send(storeRq(5, Buffer.alloc(20000, 9)));
  const rsp = (await c.waitFor(answer.length + 12)).subarray(answer.length);
  await c.waitFor(answer.length + 6 + rsp.readUInt32BE(2));
  const cmd = decodeCommandSet(c.received().subarray(answer.length + 12));
  t.match(cmd, { commandField: 0x8001, messageIdBeingRespondedTo: 5, status: 0x0124, affectedSopClassUid: CT, affectedSopInstanceUid: '1.2.3.4.5' });
  t.equal(Buffer.concat(h.upstream.received[0] ?? []).length, before, 'not one byte of the refused message reached the PACS');
  const seen = c.received().length;
  c.send(echoRq(6));
  const after = await c.waitFor(seen + 12);
  await c.waitFor(seen + 6 + after.readUInt32BE(seen + 2));
  t.match(decodeCommandSet(c.received().subarray(seen + 12)), { commandField: 0x8030, messageIdBeingRespondedTo: 6, status: 0 }, 'the PACS answered the echo');
  t.same(h.scp.commands.map((x) => x.commandField), [0x30], 'the PACS saw only the C-ECHO');
  t.match(h.audit('dicom.command'), [
    { decision: 'deny', command: 'C-STORE-RQ', action: 'store', reason: 'role-lacks-action', sopClassUid: CT, sopInstanceUid: '1.2.3.4.5', principal: 'alice' },
    { decision: 'allow', command: 'C-ECHO-RQ', action: 'echo', reason: 'role-allows' },
  ]);
  c.socket.destroy();
});

t.test('an allowed C-STORE streams to the PACS unchanged', async (t) => {
  const h = await harness(t);
  const { c } = await associate(h, rq(), h.pki.device);
  const msg = storeRq(7, Buffer.alloc(50_000, 3));
  c.send(msg);
  for (let i = 0; i < 50 && h.scp.dataBytes < 50_000; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(h.scp.dataBytes, 50_000);
  const up = Buffer.concat(h.upstream.received[0] ?? []);
  t.ok(up.subarray(up.length - msg.length).equals(msg), 'the P-DATA bytes are the ones the client sent');
  c.socket.destroy();
});

t.test('limits: overall and per principal → A-ASSOCIATE-RJ transient, local-limit-exceeded', async (t) => {
  const h = await harness(t, { dicom: { maxAssociations: 2, maxAssociationsPerPrincipal: 1 } });
  const first = await associate(h, rq({ userIdentity: pw('alice') }));
  t.equal(first.answer[0], PduType.AssociateAc);
  const second = await associate(h, rq({ userIdentity: pw('alice') }));
  t.same([...second.answer], rjBytes(2, 3, 2), 'same principal again');
  t.match(h.audit('dicom.association').at(-1), { reason: 'principal-association-limit' });
  const device = await associate(h, rq(), h.pki.device);
  t.equal(device.answer[0], PduType.AssociateAc, 'another principal still fits');
  const third = await associate(h, rq(), h.pki.device);
  t.same([...third.answer], rjBytes(2, 3, 2), 'overall limit');
  t.match(h.audit('dicom.association').at(-1), { reason: 'association-limit' });
  await third.c.ended;
  await second.c.ended;
  await new Promise((r) => setTimeout(r, 50));
  t.equal(h.server.stats().associations, 2, 'refused ones are gone');
  first.c.send(buildRelease(PduType.ReleaseRq));
  await first.c.ended;
  await new Promise((r) => setTimeout(r, 50));
  const again = await associate(h, rq({ userIdentity: pw('alice') }));
  t.equal(again.answer[0], PduType.AssociateAc, 'a slot frees when an association ends');
  again.c.socket.destroy();
  device.c.socket.destroy();
});

t.test('PACS unreachable, silent or closing → A-ASSOCIATE-RJ transient, presentation, temporary-congestion', async (t) => {
  const down = await startHarness({ upstreamPort: 9 });
  t.teardown(() => down.close());
  down.identity.users.set('2:alice:secret123456', alice);
  const { answer } = await associate(down, rq({ userIdentity: pw('alice') }));
  t.same([...answer], rjBytes(2, 3, 1));
  t.match(down.audit('dicom.association').at(-1), { decision: 'deny', reason: 'upstream-unreachable', principal: 'alice' });
  const closing = await startHarness({ upstream: { mode: 'close' } });
  t.teardown(() => closing.close());
  closing.identity.users.set('2:alice:secret123456', alice);
  t.same([...(await associate(closing, rq({ userIdentity: pw('alice') }))).answer], rjBytes(2, 3, 1));
  const silent = await startHarness({ upstream: { mode: 'silent' } });
  t.teardown(() => silent.close());
  silent.identity.users.set('2:alice:secret123456', alice);
  const start = Date.now();
  t.same([...(await associate(silent, rq({ userIdentity: pw('alice') }))).answer], rjBytes(2, 3, 1));
  t.ok(Date.now() - start >= 1900, 'after upstream.timeoutMs');
  t.match(silent.audit('dicom.association').at(-1), { reason: 'upstream-timeout' });
});

t.test('the PACS drops mid-association → A-ABORT to the client', async (t) => {
  const h = await harness(t);
  const { c, answer } = await associate(h, rq({ userIdentity: pw('alice') }));
  h.upstream.sockets[0]?.destroy();
  const all = await c.ended;
  t.same([...all.subarray(answer.length)], [...buildAbort(AbortReason.NotSpecified)]);
  t.ok(h.logs.some((l) => l.msg === 'PACS connection closed mid-association; aborting client'));
});

t.test('the client drops → the PACS connection is closed', async (t) => {
  const h = await harness(t);
  const { c } = await associate(h, rq({ userIdentity: pw('alice') }));
  const up = h.upstream.sockets[0];
  const closed = up === undefined ? Promise.resolve() : once(up, 'close');
  c.socket.destroy();
  await closed;
  t.pass('upstream closed');
  const toPacs = Buffer.concat(h.upstream.received[0] ?? []);
  t.same([...toPacs.subarray(toPacs.length - 10)], [...buildAbort(AbortReason.NotSpecified)], 'told with A-ABORT first');
  await new Promise((r) => setTimeout(r, 50));
  t.equal(h.server.stats().associations, 0);
});

t.test('a P-DATA on a presentation context that was not accepted → A-ABORT (reason 6)', async (t) => {
  const h = await harness(t);
  const { c, answer } = await associate(h, rq({ userIdentity: pw('alice') }));
  c.send(buildPData(9, true, Buffer.alloc(8)));
  const all = await c.ended;
  t.same([...all.subarray(answer.length)], [...buildAbort(AbortReason.InvalidPduParameterValue)]);
});

t.test('a principal disabled mid-association is aborted at the next re-check', async (t) => {
  const h = await harness(t, { revalidateMs: 100 });
  const { c, answer } = await associate(h, rq({ userIdentity: pw('alice') }));
  h.identity.valid = false;
  const all = await c.ended;
  t.same([...all.subarray(answer.length)], [...buildAbort(AbortReason.NotSpecified)]);
  t.ok(h.audit('dicom.association').some((e) => e.reason === 'principal-no-longer-valid' && e.phase === 'revalidation'));
});

t.test('a principal that cannot be re-checked (store down) is aborted: fail closed', async (t) => {
  const h = await harness(t, { revalidateMs: 100 });
  const { c, answer } = await associate(h, rq({ userIdentity: pw('alice') }));
  h.identity.validityError = new Error('The state store is unavailable');
  const all = await c.ended;
  t.same([...all.subarray(answer.length)], [...buildAbort(AbortReason.NotSpecified)]);
  t.ok(h.audit('dicom.association').some((e) => e.reason === 'principal-no-longer-valid' && e.phase === 'revalidation'));
});

t.test('an association past dicom.maxAssociationHours → A-ABORT to both peers, audited', async (t) => {
  let now = Date.now();
  const h = await harness(t, { revalidateMs: 50, clock: () => now, dicom: { maxAssociationHours: 2 } });
  const { c, answer } = await associate(h, rq({ userIdentity: pw('alice') }));
  now += 2 * 3_600_000 - 1;
  c.send(buildPData(1, true, buildCommandSet([
    [CommandTag.AffectedSopClassUid, { ui: VERIFICATION }], [CommandTag.CommandField, { us: 0x0030 }],
    [CommandTag.MessageId, { us: 1 }], [CommandTag.CommandDataSetType, { us: 0x0101 }],
  ])));
  const echoed = await c.waitFor(answer.length + 6);
  t.equal(echoed[answer.length], PduType.PData, 'a millisecond short of the lifetime it still works');
  now += 1;
  const all = await c.ended;
  t.same([...all.subarray(all.length - 10)], [...buildAbort(AbortReason.NotSpecified)], 'the client gets A-ABORT');
  const toPacs = Buffer.concat(h.upstream.received[0] ?? []);
  t.same([...toPacs.subarray(toPacs.length - 10)], [...buildAbort(AbortReason.NotSpecified)], 'and so does the PACS');
  t.match(h.audit('dicom.association').at(-1), { decision: 'deny', reason: 'association-lifetime-exceeded', phase: 'lifetime', principal: 'alice', detail: /2 h/ });
});

t.test('an idle association is aborted after idleSeconds', async (t) => {
  const h = await harness(t, { dicom: { idleSeconds: 1 } });
  const { c, answer } = await associate(h, rq({ userIdentity: pw('alice') }));
  const start = Date.now();
  const all = await c.ended;
  t.ok(Date.now() - start >= 900);
  t.same([...all.subarray(answer.length)], [...buildAbort(AbortReason.NotSpecified)]);
});

t.test('setSecureContext: new handshakes get the new certificate, open associations continue', async (t) => {
  const h = await harness(t);
  const { c } = await associate(h, rq({ userIdentity: pw('alice') }));
  const renewed = issueCertificate(h.pki.ca, { commonName: 'localhost', usage: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  h.server.setSecureContext(tlsMaterial(h.pki, renewed));
  const s = tlsConnect({ host: '127.0.0.1', port: h.port, servername: 'localhost', ca: h.pki.ca.certPem });
  await once(s, 'secureConnect');
  t.equal(new X509Certificate(s.getPeerX509Certificate()?.raw ?? Buffer.alloc(0)).fingerprint256, renewed.fingerprint256);
  s.destroy();
  const seen = c.received().length;
  c.send(echoRq(1));
  const got = await c.waitFor(seen + 12);
  t.ok(got.length > seen, 'the old association still works');
  c.socket.destroy();
});

t.test('close() aborts open associations and stops listening', async (t) => {
  const h = await harness(t);
  const { c, answer } = await associate(h, rq({ userIdentity: pw('alice') }));
  await h.server.close();
  const all = await c.ended;
  t.same([...all.subarray(answer.length)], [...buildAbort(AbortReason.NotSpecified)]);
  t.equal(h.server.stats().associations, 0);
});
