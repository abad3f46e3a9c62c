// Raw-socket tests: once an association has ended, PDUs left in the same chunk (or arriving later) are dropped, never dispatched.

import t, { type Test } from 'tap';
import { buildAbort, buildRelease } from '../../src/dicom/abort.js';
import { buildAssociateAc, buildAssociateRq } from '../../src/dicom/associate-build.js';
import { buildCommandSet } from '../../src/dicom/command-build.js';
import { AbortReason, CommandTag, PduType } from '../../src/dicom/constants.js';
import { buildPData } from '../../src/dicom/p-data.js';
import { buildAssociateRj } from '../../src/dicom/reject.js';
import { CT, IMPLICIT, rawClient, startHarness, VERIFICATION, type FakeUpstreamOptions, type Harness, type RawClient } from './helpers/harness.js';
import { miniScp } from './helpers/mini-scp.js';

const contexts = [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT] }, { id: 3, abstractSyntax: CT, transferSyntaxes: [IMPLICIT] }];
const rq = (): Buffer => buildAssociateRq({ calledAe: 'GATEWAY', callingAe: 'CT01', presentationContexts: contexts });
const DISCARDED = 'bytes received after the association ended were discarded';

/** A gateway whose PACS is the mini SCP (or `upstream`), with the CT01 device (role modality: echo and store). */
async function harness(t: Test, o: { upstream?: FakeUpstreamOptions; dicom?: Record<string, number> } = {}): Promise<Harness & { scp: ReturnType<typeof miniScp> }> {
  const scp = miniScp();
  const h = await startHarness({ upstream: o.upstream ?? { mode: 'accept', onData: (s, c) => scp.onData(s, c) }, ...(o.dicom === undefined ? {} : { dicom: o.dicom }) });
  t.teardown(() => h.close());
  h.identity.devices.set(h.pki.device.fingerprint256, { id: 'ct-scanner-1', kind: 'device', role: 'modality', method: 'mtls', aeTitles: ['CT01'], certFingerprint: h.pki.device.fingerprint256 });
  return Object.assign(h, { scp });
}

/** Opens an association with the device certificate; returns the client and the length of the A-ASSOCIATE-AC. */
async function associate(h: Harness): Promise<{ c: RawClient; acLength: number }> {
  const c = await rawClient(h.port, h.pki.device);
  c.send(rq());
  const got = await c.waitFor(6);
  await c.waitFor(6 + got.readUInt32BE(2));
  if (got[0] !== PduType.AssociateAc) throw new Error(`not accepted: PDU type ${got[0]}`);
  return { c, acLength: 6 + got.readUInt32BE(2) };
}

function storeRq(id: number): Buffer {
  const cmd = buildCommandSet([[CommandTag.AffectedSopClassUid, { ui: CT }], [CommandTag.CommandField, { us: 1 }], [CommandTag.MessageId, { us: id }], [CommandTag.CommandDataSetType, { us: 0 }], [CommandTag.AffectedSopInstanceUid, { ui: '1.2.3.4.5' }]]);
  return Buffer.concat([buildPData(3, true, cmd), buildPData(3, false, Buffer.alloc(2000, 7))]);
}

function echoRsp(id: number): Buffer {
  return buildPData(1, true, buildCommandSet([[CommandTag.AffectedSopClassUid, { ui: VERIFICATION }], [CommandTag.CommandField, { us: 0x8030 }], [CommandTag.MessageIdBeingRespondedTo, { us: id }], [CommandTag.CommandDataSetType, { us: 0x0101 }], [CommandTag.Status, { us: 0 }]]));
}

/** The one debug line about discarded bytes, once the association has fully ended (polled: it is written at teardown). */
async function discardedLine(h: Harness): Promise<Record<string, any> | undefined> {
  for (let i = 0; i < 100; i++) {
    const line = h.logs.find((l) => l.msg === DISCARDED);
    if (line !== undefined) return line;
    await new Promise((r) => setTimeout(r, 20));
  }
  return undefined;
}

/** What every case shares: no alert, no violation audited, one debug line about discarded bytes. */
async function quietlyDropped(t: Test, h: Harness, bytes?: { client?: number; upstream?: number }): Promise<void> {
  const line = await discardedLine(h);
  t.ok(line !== undefined, 'one debug line says how many bytes were discarded');
  t.equal(h.logs.filter((l) => l.msg === DISCARDED).length, 1, 'exactly one');
  t.equal(line?.level, 'debug', 'at debug level');
  if (bytes?.client !== undefined) t.equal(line?.fromClient, bytes.client, 'bytes from the client discarded');
  if (bytes?.upstream !== undefined) t.equal(line?.fromPacs, bytes.upstream, 'bytes from the PACS discarded');
  t.same(h.alerts('dicom.protocol-violation'), [], 'no protocol-violation alert');
  t.notOk(h.audit('dicom.association').some((e) => e.reason === 'protocol-violation'), 'no violation audited');
  t.notOk(h.logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith('protocol violation')), 'no violation logged');
}

t.test('A-ABORT + A-ASSOCIATE-RQ in one chunk on a fresh connection: no association, the socket ends', async (t) => {
  const h = await harness(t);
  const c = await rawClient(h.port, h.pki.device);
  const second = rq();
  c.send(Buffer.concat([buildAbort(AbortReason.NotSpecified, 0), second]));
  const got = await c.ended;
  t.equal(got.length, 0, 'nothing sent back (no A-ASSOCIATE-AC, no A-ABORT)');
  t.equal(h.upstream.connections, 0, 'the PACS saw no connection');
  t.same(h.identity.calls, [], 'no admission was started');
  t.match(h.audit('dicom.association'), [{ decision: 'deny', reason: 'client-aborted' }], 'one event: the abort');
  await quietlyDropped(t, h, { client: second.length, upstream: 0 });
});

t.test('A-ABORT + A-ASSOCIATE-RQ on an established association: the PACS gets the abort and nothing else', async (t) => {
  const h = await harness(t);
  const { c, acLength } = await associate(h);
  const second = rq();
  c.send(Buffer.concat([buildAbort(AbortReason.NotSpecified, 0), second]));
  const got = await c.ended;
  t.equal(got.length, acLength, 'nothing after the A-ASSOCIATE-AC');
  t.equal(h.upstream.connections, 1, 'no second upstream connection');
  t.equal(h.upstream.requests.length, 1, 'one A-ASSOCIATE-RQ reached the PACS');
  const toPacs = Buffer.concat(h.upstream.received[0] ?? []);
  t.same([...toPacs.subarray(toPacs.length - 10)], [...buildAbort(AbortReason.NotSpecified, 0)], 'the A-ABORT is the last thing the PACS got');
  t.same(h.scp.pdus, [PduType.Abort]);
  await quietlyDropped(t, h, { client: second.length });
});

t.test('A-ABORT + C-STORE in one chunk: the store is neither decided, audited nor forwarded', async (t) => {
  const h = await harness(t);
  const { c, acLength } = await associate(h);
  const store = storeRq(9);
  c.send(Buffer.concat([buildAbort(AbortReason.NotSpecified, 0), store]));
  const got = await c.ended;
  t.equal(got.length, acLength, 'nothing after the A-ASSOCIATE-AC');
  t.same(h.scp.commands, [], 'the PACS saw no command');
  t.equal(h.scp.dataBytes, 0);
  t.same(h.audit('dicom.command'), [], 'no command decision was audited');
  await quietlyDropped(t, h, { client: store.length });
});

t.test('a release the PACS asked for: A-RELEASE-RP + C-STORE in one chunk → the release ends it, the store never reaches the PACS', async (t) => {
  const h = await harness(t);
  const { c, acLength } = await associate(h);
  h.upstream.sockets[0]?.write(buildRelease(PduType.ReleaseRq));
  const asked = await c.waitFor(acLength + 10);
  t.same([...asked.subarray(acLength)], [...buildRelease(PduType.ReleaseRq)], "the PACS's A-RELEASE-RQ reaches the client");
  const store = storeRq(11);
  c.send(Buffer.concat([buildRelease(PduType.ReleaseRp), store]));
  const got = await c.ended;
  t.equal(got.length, acLength + 10, 'nothing more to the client (no A-ABORT: the association was released)');
  t.same(h.scp.pdus, [PduType.ReleaseRp], 'the PACS got the A-RELEASE-RP and nothing after it');
  t.same(h.scp.commands, [], 'no C-STORE reached the PACS');
  t.same(h.audit('dicom.command'), [], 'no command decision was audited');
  t.ok(h.logs.some((l) => l.msg === 'association released'), 'logged as a release');
  t.notOk(h.logs.some((l) => l.msg === 'PACS connection closed mid-association; aborting client'), 'not as a PACS drop');
  await quietlyDropped(t, h, { client: store.length });
});

t.test('A-RELEASE-RP from the PACS + more PDUs in one chunk: the client gets the A-RELEASE-RP only', async (t) => {
  const scp = miniScp();
  const h = await harness(t, {
    upstream: {
      mode: 'accept',
      onData: (s, chunk) => {
        if (chunk[0] === PduType.ReleaseRq) s.write(Buffer.concat([buildRelease(PduType.ReleaseRp), echoRsp(1), buildRelease(PduType.ReleaseRq), Buffer.from([PduType.AssociateRq, 0, 0, 0, 0, 4, 0, 0, 0, 0])]));
        else scp.onData(s, chunk);
      },
    },
  });
  const { c, acLength } = await associate(h);
  c.send(buildRelease(PduType.ReleaseRq));
  const got = await c.ended;
  t.same([...got.subarray(acLength)], [...buildRelease(PduType.ReleaseRp)], 'exactly the A-RELEASE-RP, then the connection closes');
  t.ok(h.logs.some((l) => l.msg === 'association released'));
  await quietlyDropped(t, h, { client: 0, upstream: echoRsp(1).length + 20 });
});

t.test('A-ABORT from the PACS + more PDUs in one chunk: the client gets the A-ABORT only', async (t) => {
  const h = await harness(t);
  const { c, acLength } = await associate(h);
  const tail = Buffer.concat([echoRsp(1), buildRelease(PduType.ReleaseRp), Buffer.from([PduType.AssociateAc, 0, 0, 0, 0, 4, 0, 0, 0, 0])]);
  h.upstream.sockets[0]?.write(Buffer.concat([buildAbort(AbortReason.NotSpecified), tail]));
  const got = await c.ended;
  t.same([...got.subarray(acLength)], [...buildAbort(AbortReason.NotSpecified)], 'exactly the A-ABORT');
  await quietlyDropped(t, h, { upstream: tail.length });
});

t.test('A-ASSOCIATE-RJ (association limit) + a second A-ASSOCIATE-RQ in one chunk: one refusal, no second admission', async (t) => {
  const h = await harness(t, { dicom: { maxAssociations: 1 } });
  const first = await associate(h);
  const c = await rawClient(h.port, h.pki.device);
  const second = Buffer.concat([rq(), storeRq(3)]);
  c.send(Buffer.concat([rq(), second]));
  const got = await c.ended;
  t.same([...got], [0x03, 0, 0, 0, 0, 4, 0, 2, 3, 2], 'exactly one A-ASSOCIATE-RJ (transient, local limit exceeded)');
  t.equal(h.upstream.connections, 1, 'only the first association reached the PACS');
  t.match(h.audit('dicom.association').filter((e) => e.decision === 'deny'), [{ reason: 'association-limit' }], 'one refusal audited');
  await quietlyDropped(t, h, { client: second.length });
  first.c.socket.destroy();
});

t.test('A-ASSOCIATE-RJ from the PACS + an A-ASSOCIATE-AC in one chunk: the client gets the rejection only', async (t) => {
  const h = await harness(t, { upstream: { mode: 'silent' } });
  const c = await rawClient(h.port, h.pki.device);
  c.send(rq());
  for (let i = 0; i < 200 && h.upstream.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  const pacsRq = h.upstream.requests[0];
  t.ok(pacsRq !== undefined, 'the PACS got the A-ASSOCIATE-RQ');
  const rj = buildAssociateRj({ result: 1, source: 1, reason: 7 });
  const ac = buildAssociateAc({ calledAe: 'PACS', callingAe: 'CT01', maxPduLength: 16384, presentationContexts: [{ id: 1, result: 0, transferSyntax: IMPLICIT }] });
  h.upstream.sockets[0]?.write(Buffer.concat([rj, ac]));
  const got = await c.ended;
  t.same([...got], [...rj], 'exactly the PACS\'s A-ASSOCIATE-RJ');
  t.match(h.audit('dicom.association'), [{ decision: 'deny', reason: 'upstream-rejected' }], 'one event');
  await quietlyDropped(t, h, { upstream: ac.length });
});

t.test('attack: A-RELEASE-RQ + C-STORE pipelined → A-ABORT (a P-DATA after A-RELEASE-RQ is unexpected, PS3.8 §9.2), the store never reaches the PACS', async (t) => {
  const h = await harness(t);
  const { c, acLength } = await associate(h);
  c.send(Buffer.concat([buildRelease(PduType.ReleaseRq), storeRq(5)]));
  const got = await c.ended;
  t.same([...got.subarray(acLength)], [...buildAbort(AbortReason.UnexpectedPdu)], 'the client gets A-ABORT reason 2, not a release');
  t.same(h.scp.commands, [], 'no C-STORE reached the PACS');
  t.equal(h.scp.dataBytes, 0);
  t.same(h.audit('dicom.command'), [], 'no command decision was audited');
  t.same(h.scp.pdus.slice(0, 2), [PduType.ReleaseRq, PduType.Abort], 'the PACS got the A-RELEASE-RQ, then an A-ABORT');
  t.equal(h.alerts('dicom.protocol-violation').length, 1, 'this one is a violation while releasing (before the end): one alert');
});
