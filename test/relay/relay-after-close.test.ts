// The relay against a scripted TLS destination: once an association has ended, PDUs left in the same chunk (or arriving later) are dropped, never dispatched; every release the reader lets through is handled.

import t, { type Test } from 'tap';
import { buildAbort, buildRelease } from '../../src/dicom/abort.js';
import { buildCommandSet } from '../../src/dicom/command-build.js';
import { AbortReason, CommandField, CommandTag, PduType } from '../../src/dicom/constants.js';
import { buildPData } from '../../src/dicom/p-data.js';
import { buildAssociateRj } from '../../src/dicom/reject.js';
import { associateAc, associateRq, CT, rawPacs, startRelayRig, VERIFICATION, type RawPacs, type RelayRig } from './helpers/relay-rig.js';

const DISCARDED = 'bytes received after the association ended were discarded';

/** The PACS associates with DEST through the relay; returns its socket and the length of the A-ASSOCIATE-AC. */
async function associate(rig: RelayRig): Promise<{ c: RawPacs; acLength: number }> {
  const c = await rawPacs(rig.port);
  c.send(associateRq());
  const got = await c.waitFor(6);
  await c.waitFor(6 + got.readUInt32BE(2));
  if (got[0] !== PduType.AssociateAc) throw new Error(`not accepted: PDU type ${got[0]}`);
  return { c, acLength: 6 + got.readUInt32BE(2) };
}

/** A C-STORE sub-operation as the PACS sends it: command and a data set on context 3. */
function storeRq(id: number): Buffer {
  const cmd = buildCommandSet([[CommandTag.AffectedSopClassUid, { ui: CT }], [CommandTag.CommandField, { us: CommandField.CStoreRq }], [CommandTag.MessageId, { us: id }], [CommandTag.CommandDataSetType, { us: 0 }], [CommandTag.AffectedSopInstanceUid, { ui: '1.2.3.4.5' }]]);
  return Buffer.concat([buildPData(3, true, cmd), buildPData(3, false, Buffer.alloc(2000, 7))]);
}

function echoRsp(id: number): Buffer {
  return buildPData(1, true, buildCommandSet([[CommandTag.AffectedSopClassUid, { ui: VERIFICATION }], [CommandTag.CommandField, { us: 0x8030 }], [CommandTag.MessageIdBeingRespondedTo, { us: id }], [CommandTag.CommandDataSetType, { us: 0x0101 }], [CommandTag.Status, { us: 0 }]]));
}

/** The one debug line about discarded bytes (polled: it is written once both sockets have closed). */
async function discardedLine(rig: RelayRig): Promise<Record<string, any> | undefined> {
  for (let i = 0; i < 100; i++) {
    const line = rig.lines.find((l) => l.msg === DISCARDED);
    if (line !== undefined) return line;
    await new Promise((r) => setTimeout(r, 20));
  }
  return undefined;
}

/** What every case shares: no alert, no violation audited or logged, one debug line with the discarded byte counts. */
async function quietlyDropped(t: Test, rig: RelayRig, bytes: { pacs?: number; destination?: number }): Promise<void> {
  const line = await discardedLine(rig);
  t.ok(line !== undefined, 'one debug line says how many bytes were discarded');
  t.equal(rig.lines.filter((l) => l.msg === DISCARDED).length, 1, 'exactly one');
  t.equal(line?.level, 'debug', 'at debug level');
  if (bytes.pacs !== undefined) t.equal(line?.fromPacs, bytes.pacs, 'bytes from the PACS discarded');
  if (bytes.destination !== undefined) t.equal(line?.fromDestination, bytes.destination, 'bytes from the destination discarded');
  t.same(rig.alerts('dicom.protocol-violation'), [], 'no protocol-violation alert');
  t.notOk(rig.audit('relay.association').some((e) => e.reason === 'protocol-violation'), 'no violation audited');
  t.notOk(rig.lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('protocol violation')), 'no violation logged');
  t.notOk(rig.lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('internal error')), 'no internal error');
}

/** The relay's log lines saying how an association ended. */
const ended = (rig: RelayRig): Record<string, any>[] => rig.lines.filter((l) => l.msg === 'relay association ended');

const commandsAtDestination = (rig: RelayRig): number[] => rig.received.flat().filter((p) => p.command !== undefined).map((p) => p.command?.commandField ?? -1);

t.test('A-ABORT + A-ASSOCIATE-RQ in one chunk on a fresh connection: no association, the destination is never contacted', async (t) => {
  const rig = await startRelayRig(t);
  const c = await rawPacs(rig.port);
  const second = associateRq();
  c.send(Buffer.concat([buildAbort(AbortReason.NotSpecified, 0), second]));
  const got = await c.ended;
  t.equal(got.length, 0, 'nothing sent back (no A-ASSOCIATE-AC/RJ, no A-ABORT)');
  t.equal(rig.sockets.length, 0, 'no connection to the destination');
  t.match(rig.audit('relay.association'), [{ decision: 'deny', reason: 'pacs-aborted' }], 'one event: the abort');
  t.equal(rig.audit('relay.association').length, 1);
  await quietlyDropped(t, rig, { pacs: second.length, destination: 0 });
});

t.test('A-ABORT + A-ASSOCIATE-RQ on an established association: the destination gets the abort and nothing else', async (t) => {
  const rig = await startRelayRig(t);
  const { c, acLength } = await associate(rig);
  const second = associateRq();
  c.send(Buffer.concat([buildAbort(AbortReason.NotSpecified, 0), second]));
  const got = await c.ended;
  t.equal(got.length, acLength, 'nothing after the A-ASSOCIATE-AC');
  t.equal(rig.sockets.length, 1, 'no second connection to the destination');
  t.same(rig.received[0]?.map((p) => p.type), [PduType.AssociateRq, PduType.Abort], 'the A-ABORT is the last thing the destination got');
  await quietlyDropped(t, rig, { pacs: second.length });
});

t.test('A-ABORT + C-STORE in one chunk: the store is neither decided, counted nor forwarded', async (t) => {
  const rig = await startRelayRig(t);
  const { c, acLength } = await associate(rig);
  const store = storeRq(9);
  c.send(Buffer.concat([buildAbort(AbortReason.NotSpecified, 0), store]));
  const got = await c.ended;
  t.equal(got.length, acLength, 'nothing after the A-ASSOCIATE-AC');
  t.same(commandsAtDestination(rig), [], 'the destination saw no command');
  t.same(rig.received[0]?.map((p) => p.type), [PduType.AssociateRq, PduType.Abort]);
  t.same(rig.audit('relay.transfer'), [], 'no export audited: no instance left');
  t.same(rig.audit('relay.command'), [], 'no command decision was audited');
  await quietlyDropped(t, rig, { pacs: store.length });
});

t.test("a release the destination asked for: the PACS's A-RELEASE-RP + C-STORE in one chunk → the release ends it, the store never reaches the destination", async (t) => {
  const rig = await startRelayRig(t);
  const { c, acLength } = await associate(rig);
  rig.sockets[0]?.write(buildRelease(PduType.ReleaseRq));
  const asked = await c.waitFor(acLength + 10);
  t.same([...asked.subarray(acLength)], [...buildRelease(PduType.ReleaseRq)], "the destination's A-RELEASE-RQ reaches the PACS");
  const store = storeRq(11);
  c.send(Buffer.concat([buildRelease(PduType.ReleaseRp), store]));
  const got = await c.ended;
  t.equal(got.length, acLength + 10, 'nothing more to the PACS (no A-ABORT: the association was released)');
  t.same(rig.received[0]?.map((p) => p.type), [PduType.AssociateRq, PduType.ReleaseRp], 'the destination got the A-RELEASE-RP and nothing after it');
  t.same(commandsAtDestination(rig), [], 'no C-STORE reached the destination');
  t.same(rig.audit('relay.transfer'), [], 'no export audited: no instance left');
  t.match(ended(rig), [{ ended: 'released' }], 'ended as a release');
  t.notOk(rig.lines.some((l) => l.msg === 'destination closed the connection mid-association; aborting the PACS side'), 'not as a destination drop');
  await quietlyDropped(t, rig, { pacs: store.length });
});

t.test("A-RELEASE-RP from the destination + more PDUs in one chunk: the PACS gets the A-RELEASE-RP only", async (t) => {
  const rig = await startRelayRig(t);
  const tail = Buffer.concat([echoRsp(1), buildRelease(PduType.ReleaseRq), Buffer.from([PduType.AssociateRq, 0, 0, 0, 0, 4, 0, 0, 0, 0])]);
  rig.script = (s, type) => {
    if (type === PduType.AssociateRq) s.write(associateAc());
    if (type === PduType.ReleaseRq) s.write(Buffer.concat([buildRelease(PduType.ReleaseRp), tail]));
  };
  const { c, acLength } = await associate(rig);
  c.send(buildRelease(PduType.ReleaseRq));
  const got = await c.ended;
  t.same([...got.subarray(acLength)], [...buildRelease(PduType.ReleaseRp)], 'exactly the A-RELEASE-RP, then the connection closes');
  t.match(ended(rig), [{ ended: 'released' }]);
  await quietlyDropped(t, rig, { pacs: 0, destination: tail.length });
});

t.test('A-ABORT from the destination + more PDUs in one chunk: the PACS gets the A-ABORT only', async (t) => {
  const rig = await startRelayRig(t);
  const { c, acLength } = await associate(rig);
  const tail = Buffer.concat([echoRsp(1), buildRelease(PduType.ReleaseRp), Buffer.from([PduType.AssociateAc, 0, 0, 0, 0, 4, 0, 0, 0, 0])]);
  rig.sockets[0]?.write(Buffer.concat([buildAbort(AbortReason.NotSpecified), tail]));
  const got = await c.ended;
  t.same([...got.subarray(acLength)], [...buildAbort(AbortReason.NotSpecified)], 'exactly the A-ABORT');
  t.match(ended(rig), [{ ended: 'aborted-by-destination' }]);
  await quietlyDropped(t, rig, { destination: tail.length });
});

t.test("A-ASSOCIATE-RJ from the destination + an A-ASSOCIATE-AC in one chunk: the PACS gets the rejection only", async (t) => {
  const rig = await startRelayRig(t);
  const rj = buildAssociateRj({ result: 1, source: 1, reason: 7 });
  const ac = associateAc();
  rig.script = (s, type) => { if (type === PduType.AssociateRq) s.write(Buffer.concat([rj, ac])); };
  const c = await rawPacs(rig.port);
  c.send(associateRq());
  const got = await c.ended;
  t.same([...got], [...rj], "exactly the destination's A-ASSOCIATE-RJ");
  t.match(rig.audit('relay.association'), [{ decision: 'deny', reason: 'destination-rejected' }], 'one event');
  t.equal(rig.audit('relay.association').length, 1);
  await quietlyDropped(t, rig, { destination: ac.length });
});

t.test('A-ASSOCIATE-RJ for an unknown called AE + a second A-ASSOCIATE-RQ in one chunk: one refusal, no association', async (t) => {
  const rig = await startRelayRig(t);
  const c = await rawPacs(rig.port);
  const unknown = Buffer.from(associateRq());
  unknown.write('NOSUCHAE        ', 10, 'latin1');
  const second = Buffer.concat([associateRq(), storeRq(3)]);
  c.send(Buffer.concat([unknown, second]));
  const got = await c.ended;
  t.same([...got], [0x03, 0, 0, 0, 0, 4, 0, 1, 1, 7], 'exactly one A-ASSOCIATE-RJ (called AE not recognized)');
  t.equal(rig.sockets.length, 0, 'the destination was never contacted');
  t.match(rig.audit('relay.association'), [{ decision: 'deny', reason: 'unknown-destination', calledAe: 'NOSUCHAE' }], 'one refusal audited');
  t.equal(rig.audit('relay.association').length, 1);
  await quietlyDropped(t, rig, { pacs: second.length });
});

t.test('attack: A-RELEASE-RQ + C-STORE pipelined → A-ABORT (a P-DATA after A-RELEASE-RQ is unexpected, PS3.8 §9.2), the store never reaches the destination', async (t) => {
  const rig = await startRelayRig(t);
  const { c, acLength } = await associate(rig);
  c.send(Buffer.concat([buildRelease(PduType.ReleaseRq), storeRq(5)]));
  const got = await c.ended;
  t.same([...got.subarray(acLength)], [...buildAbort(AbortReason.UnexpectedPdu)], 'the PACS gets A-ABORT reason 2, not a release');
  t.same(commandsAtDestination(rig), [], 'no C-STORE reached the destination');
  t.same(rig.received[0]?.map((p) => p.type).slice(0, 3), [PduType.AssociateRq, PduType.ReleaseRq, PduType.Abort], 'the destination got the A-RELEASE-RQ, then an A-ABORT');
  t.equal(rig.alerts('dicom.protocol-violation').length, 1, 'this one is a violation while releasing (before the end): one alert');
  t.match(rig.alerts('dicom.protocol-violation')[0], { side: 'pacs', listener: 'relay', abortReason: AbortReason.UnexpectedPdu });
});

t.test('release collision (PS3.8 §9.2.6): both ask, the PACS answers the destination first; the destination\'s A-RELEASE-RP ends it, no violation', async (t) => {
  const rig = await startRelayRig(t);
  rig.script = (s, type) => {
    if (type === PduType.AssociateRq) s.write(associateAc());
    if (type === PduType.ReleaseRq) s.write(buildRelease(PduType.ReleaseRq));
    if (type === PduType.ReleaseRp) s.write(buildRelease(PduType.ReleaseRp));
  };
  const { c, acLength } = await associate(rig);
  c.send(buildRelease(PduType.ReleaseRq));
  await c.waitFor(acLength + 10);
  c.send(buildRelease(PduType.ReleaseRp));
  const got = await c.ended;
  t.same([...got.subarray(acLength)], [...buildRelease(PduType.ReleaseRq), ...buildRelease(PduType.ReleaseRp)], "the PACS gets the destination's A-RELEASE-RQ, then its A-RELEASE-RP");
  t.same(rig.received[0]?.map((p) => p.type), [PduType.AssociateRq, PduType.ReleaseRq, PduType.ReleaseRp], "the destination gets the PACS's A-RELEASE-RQ and A-RELEASE-RP");
  t.match(ended(rig), [{ ended: 'released' }]);
  t.same(rig.alerts('dicom.protocol-violation'), [], 'no protocol-violation alert');
});
