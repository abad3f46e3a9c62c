// Attacks on a real remote workstation (dcmtk storescp +tls) through the C-MOVE relay: PDUs pipelined behind the end of an association never reach it.

import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { buildAbort, buildRelease } from '../../src/dicom/abort.js';
import { buildCommandSet } from '../../src/dicom/command-build.js';
import { AbortReason, AbortSource, CommandTag, PduType } from '../../src/dicom/constants.js';
import { buildPData } from '../../src/dicom/p-data.js';
import { datasetAfterMeta, makeInstance, SopClass, TransferSyntax } from '../helpers/instances.js';
import { freePort } from '../helpers/ports.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { startProcess, waitFor, waitForPort } from '../helpers/tools.js';
import { associateRq, pduLog, rawPacs, startRelayRig, type Command, type RawPacs } from '../relay/helpers/relay-rig.js';

const MAX_FRAGMENT = 16_372;

/** A whole C-STORE (command and data set) of a new CT instance on context 3, as the PACS sends a sub-operation. */
function cStore(messageId: number): { bytes: Buffer; sopInstanceUid: string } {
  const instance = makeInstance({ transferSyntaxUid: TransferSyntax.implicitLittle, pixelBytes: 4096 });
  const command = buildCommandSet([
    [CommandTag.AffectedSopClassUid, { ui: SopClass.ctImage }], [CommandTag.CommandField, { us: 0x0001 }],
    [CommandTag.MessageId, { us: messageId }], [CommandTag.Priority, { us: 0 }], [CommandTag.CommandDataSetType, { us: 0 }],
    [CommandTag.AffectedSopInstanceUid, { ui: instance.sopInstanceUid }],
  ]);
  const bytes = Buffer.concat([buildPData(3, true, command, MAX_FRAGMENT), buildPData(3, false, datasetAfterMeta(instance.buffer), MAX_FRAGMENT)]);
  return { bytes, sopInstanceUid: instance.sopInstanceUid };
}

/** The PACS side of one relay association: the PDUs it gets (P-DATA with its command), and the connection's end. */
async function open(port: number): Promise<{ c: RawPacs; pdus: Array<{ type: number; command?: Command }> }> {
  const c = await rawPacs(port);
  const pdus: Array<{ type: number; command?: Command }> = [];
  pduLog(c.socket, (type, command) => pdus.push({ type, ...(command === undefined ? {} : { command }) }));
  c.send(associateRq());
  await waitFor(() => pdus.length > 0 || c.socket.destroyed);
  if (pdus[0]?.type !== PduType.AssociateAc) throw new Error(`not accepted: ${JSON.stringify(pdus[0])}`);
  return { c, pdus };
}

t.test('pipelined behind A-ABORT or A-RELEASE-RQ, a C-STORE or a second A-ASSOCIATE-RQ never reaches the remote workstation', async (t) => {
  const scpPort = await freePort();
  // The remote workstation behind a counting proxy: each TCP connection the relay opens to it is one association attempt.
  const wire = await startTcpProxy({ target: { host: '127.0.0.1', port: scpPort }, record: true });
  t.teardown(() => wire.close());
  let out = '';
  const rig = await startRelayRig(t, {
    external: async (files) => {
      out = join(files.siteCert, '..', 'out');
      mkdirSync(out);
      const proc = await startProcess('storescp', ['-aet', 'DEST', '+tls', files.siteKey, files.siteCert, '+cf', files.hospitalCa, '-od', out, String(scpPort)]);
      t.teardown(() => proc.stop());
      await waitForPort(scpPort);
      return wire.port;
    },
  });
  const stored = (): string[] => readdirSync(out).filter((f) => !f.startsWith('.'));

  // Control: the same C-STORE, sent alone, is stored (so the attacks below would store theirs if they got through).
  const control = await open(rig.port);
  const first = cStore(1);
  control.c.send(first.bytes);
  await waitFor(() => control.pdus.some((p) => p.command !== undefined));
  t.match(control.pdus.find((p) => p.command !== undefined)?.command, { commandField: 0x8001, status: 0 }, 'the control C-STORE succeeds');
  control.c.send(buildRelease(PduType.ReleaseRq));
  await control.c.ended;
  t.equal(control.pdus.at(-1)?.type, PduType.ReleaseRp, 'and is released');
  t.equal(stored().length, 1, 'the workstation has the control instance');
  t.ok(stored()[0]?.includes(first.sopInstanceUid));

  const abortThenStore = await open(rig.port);
  abortThenStore.c.send(Buffer.concat([buildAbort(AbortReason.NotSpecified, AbortSource.ServiceUser), cStore(2).bytes]));
  await abortThenStore.c.ended;
  t.same(abortThenStore.pdus.map((p) => p.type), [PduType.AssociateAc], 'A-ABORT + C-STORE: nothing back, the connection closes');

  const releaseThenStore = await open(rig.port);
  releaseThenStore.c.send(Buffer.concat([buildRelease(PduType.ReleaseRq), cStore(3).bytes]));
  await releaseThenStore.c.ended;
  t.same(releaseThenStore.pdus.map((p) => p.type), [PduType.AssociateAc, PduType.Abort], 'A-RELEASE-RQ + C-STORE: A-ABORT (P-DATA while releasing)');
  t.same([...releaseThenStore.c.received().subarray(-10)], [...buildAbort(AbortReason.UnexpectedPdu)], 'reason 2, unexpected PDU');

  const before = wire.connections.length;
  const abortThenAssociate = await open(rig.port);
  abortThenAssociate.c.send(Buffer.concat([buildAbort(AbortReason.NotSpecified, AbortSource.ServiceUser), associateRq()]));
  await abortThenAssociate.c.ended;
  t.same(abortThenAssociate.pdus.map((p) => p.type), [PduType.AssociateAc], 'A-ABORT + A-ASSOCIATE-RQ: nothing back, the connection closes');

  const fresh = await rawPacs(rig.port);
  fresh.send(Buffer.concat([buildAbort(AbortReason.NotSpecified, AbortSource.ServiceUser), associateRq()]));
  t.equal((await fresh.ended).length, 0, 'on a fresh connection too: nothing back');

  // A last association with a C-STORE of its own, after everything the attacks could have caused.
  const last = await open(rig.port);
  const fourth = cStore(4);
  last.c.send(fourth.bytes);
  await waitFor(() => last.pdus.some((p) => p.command !== undefined));
  last.c.send(buildRelease(PduType.ReleaseRq));
  await last.c.ended;
  t.equal(wire.connections.length, before + 2, 'one connection to the workstation per relay association: none for an A-ASSOCIATE-RQ behind an A-ABORT');
  const files = await waitFor(() => (stored().length >= 2 ? stored() : undefined));
  t.equal(files.length, 2, 'the workstation has the control and the last instance, nothing else');
  t.ok(files.some((f) => f.includes(first.sopInstanceUid)) && files.some((f) => f.includes(fourth.sopInstanceUid)));
  t.equal(rig.alerts('dicom.protocol-violation').length, 1, 'one alert: the P-DATA while releasing; nothing after an end raises one');
  t.ok(rig.lines.filter((l) => l.msg === 'bytes received after the association ended were discarded').length >= 3, 'the dropped bytes are logged at debug level');
});
