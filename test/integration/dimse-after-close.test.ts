// Attacks on a real Orthanc through the gateway: PDUs pipelined behind the end of an association never reach the PACS.

import t from 'tap';
import { buildAbort, buildRelease } from '../../src/dicom/abort.js';
import { buildAssociateRq } from '../../src/dicom/associate-build.js';
import { buildCommandSet } from '../../src/dicom/command-build.js';
import { AbortReason, AbortSource, CommandTag, PduType } from '../../src/dicom/constants.js';
import { buildPData } from '../../src/dicom/p-data.js';
import { datasetAfterMeta, makeInstance, SopClass, TransferSyntax } from '../helpers/instances.js';
import { orthancFetch } from '../helpers/orthanc.js';
import { RawAssociation } from '../helpers/raw-association.js';
import { waitFor } from '../helpers/tools.js';
import { startDicomEnv } from '../dicom/helpers/dicom-env.js';

const CONTEXTS = [
  { id: 1, abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: [TransferSyntax.implicitLittle] },
  { id: 3, abstractSyntax: SopClass.ctImage, transferSyntaxes: [TransferSyntax.implicitLittle] },
];

/** A whole C-STORE (command and data set) of a new CT instance on context 3, as P-DATA-TF PDUs. */
function cStore(messageId: number, maxFragment: number): { bytes: Buffer; sopInstanceUid: string } {
  const instance = makeInstance({ transferSyntaxUid: TransferSyntax.implicitLittle, pixelBytes: 4096 });
  const command = buildCommandSet([
    [CommandTag.AffectedSopClassUid, { ui: SopClass.ctImage }], [CommandTag.CommandField, { us: 0x0001 }],
    [CommandTag.MessageId, { us: messageId }], [CommandTag.Priority, { us: 0 }], [CommandTag.CommandDataSetType, { us: 0 }],
    [CommandTag.AffectedSopInstanceUid, { ui: instance.sopInstanceUid }],
  ]);
  const bytes = Buffer.concat([buildPData(3, true, command, maxFragment), buildPData(3, false, datasetAfterMeta(instance.buffer), maxFragment)]);
  return { bytes, sopInstanceUid: instance.sopInstanceUid };
}

/** Resolves once the gateway has closed the connection, with the PDU types received before. */
async function untilClosed(a: RawAssociation): Promise<number[]> {
  const types: number[] = [];
  for (;;) {
    try {
      types.push((await a.next()).type);
    } catch (err) {
      if ((err as Error).message === 'connection closed') return types;
      throw err;
    }
  }
}

t.test('pipelined behind A-ABORT or A-RELEASE-RQ, a C-STORE or a second A-ASSOCIATE-RQ never reaches Orthanc', async (t) => {
  const env = await startDicomEnv({ roles: { modality: ['echo', 'store'] } });
  t.teardown(() => env.stop());
  const ct = await env.addDevice('ct-scanner-1', { role: 'modality', aeTitles: ['CT01'] });
  const open = (): Promise<RawAssociation> => RawAssociation.open({ port: env.port, ca: env.caPem, key: ct.keyPem, cert: ct.certPem, callingAe: 'CT01', contexts: CONTEXTS });
  const stored = async (): Promise<string[]> => (await (await orthancFetch(env.orthanc, '/instances?expand')).json() as Array<{ MainDicomTags: { SOPInstanceUID: string } }>).map((i) => i.MainDicomTags.SOPInstanceUID);

  // Control: the same C-STORE, sent alone, is stored (so the attacks below would store theirs if they got through).
  const control = await open();
  const first = cStore(1, control.maxFragment);
  control.socket.write(first.bytes);
  t.equal((await control.readCommand()).status, 0, 'the control C-STORE succeeds');
  await control.release();
  t.same(await stored(), [first.sopInstanceUid], 'Orthanc has the control instance');

  const abortThenStore = await open();
  const second = cStore(2, abortThenStore.maxFragment);
  abortThenStore.socket.write(Buffer.concat([buildAbort(AbortReason.NotSpecified, AbortSource.ServiceUser), second.bytes]));
  t.same(await untilClosed(abortThenStore), [], 'A-ABORT + C-STORE: nothing back, the connection closes');

  const releaseThenStore = await open();
  const third = cStore(3, releaseThenStore.maxFragment);
  releaseThenStore.socket.write(Buffer.concat([buildRelease(PduType.ReleaseRq), third.bytes]));
  const answer = await releaseThenStore.next();
  t.same([...answer.raw], [...buildAbort(AbortReason.UnexpectedPdu)], 'A-RELEASE-RQ + C-STORE: A-ABORT reason 2 (P-DATA while releasing)');
  await untilClosed(releaseThenStore);

  const abortThenAssociate = await open();
  abortThenAssociate.socket.write(Buffer.concat([
    buildAbort(AbortReason.NotSpecified, AbortSource.ServiceUser),
    buildAssociateRq({ calledAe: 'GATEWAY', callingAe: 'CT01', presentationContexts: CONTEXTS }),
  ]));
  t.same(await untilClosed(abortThenAssociate), [], 'A-ABORT + A-ASSOCIATE-RQ: nothing back, the connection closes');

  // A last association, whose echo Orthanc logs after everything the attacks could have caused.
  const last = await open();
  t.equal(await last.echo(1, 9), 0);
  await last.release();
  const commands = await waitFor(async () => {
    const c = await env.orthanc.dicomCommands();
    return c.filter((x) => x.type === 'Echo').length === 1 ? c : undefined;
  });
  t.same(commands.map((c) => c.type), ['Store', 'Echo'], 'Orthanc received the control C-STORE and the last C-ECHO, nothing else');
  t.equal(await env.orthanc.dicomAssociations(), 5, 'five associations, one per connection: no second one behind an A-ABORT');
  t.same(await stored(), [first.sopInstanceUid], 'only the control instance was stored');
  const alerts = env.gw.logs.filter((l) => l['alert']?.name === 'dicom.protocol-violation');
  t.equal(alerts.length, 1, 'one alert: the P-DATA while releasing; nothing after an end raises one');
  t.ok(env.gw.logs.filter((l) => l['msg'] === 'bytes received after the association ended were discarded').length >= 2, 'the dropped bytes are logged at debug level');
});
