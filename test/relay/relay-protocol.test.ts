// The relay against a scripted TLS destination: a request from the destination aborts both sides; without a matching C-MOVE the export still records the instances.

import { connect, type Socket } from 'node:net';
import t from 'tap';
import { buildCommandSet } from '../../src/dicom/command-build.js';
import { CommandField, CommandTag, NO_DATA_SET, PduType } from '../../src/dicom/constants.js';
import { buildPData } from '../../src/dicom/p-data.js';
import { associateAc, associateRq, CT, pduLog, startRelayRig, VERIFICATION, type Command } from './helpers/relay-rig.js';

t.test('relay protocol edges against a scripted TLS destination', async (t) => {
  const rig = await startRelayRig(t);
  const { port, lines } = rig;
  const audit = rig.audit;

  /** The PACS side: associates with DEST, runs `then`, resolves with the PDU types it received until the close. */
  const pacs = (then: (s: Socket) => void): Promise<Array<{ type: number; command?: Command }>> => new Promise((resolve) => {
    const got: Array<{ type: number; command?: Command }> = [];
    const s = connect({ host: '127.0.0.1', port });
    s.on('error', () => undefined);
    s.on('connect', () => s.write(associateRq()));
    pduLog(s, (type, command) => {
      got.push({ type, ...(command === undefined ? {} : { command }) });
      if (type === PduType.AssociateAc) then(s);
    });
    s.on('close', () => resolve(got));
  });

  await t.test('a request from the destination (the remote AE acting as SCU) aborts both sides', async (t) => {
    rig.script = (s, type) => {
      if (type !== PduType.AssociateRq) return;
      s.write(associateAc());
      const echo = buildCommandSet([[CommandTag.CommandField, { us: CommandField.CEchoRq }], [CommandTag.MessageId, { us: 9 }], [CommandTag.AffectedSopClassUid, { ui: VERIFICATION }], [CommandTag.CommandDataSetType, { us: NO_DATA_SET }]]);
      s.write(buildPData(1, true, echo));
    };
    const got = await pacs(() => undefined);
    t.same(got.map((g) => g.type), [PduType.AssociateAc, PduType.Abort], 'the PACS gets the AC, then A-ABORT, never the request');
    t.match(lines.filter((l) => l['alert']?.name === 'dicom.protocol-violation').at(-1)?.['alert'], { side: 'destination', listener: 'relay', detail: /destination sent a request \(C-ECHO-RQ\)/ });
  });

  await t.test('C-STORE without a Move Originator: forwarded, answered, exported without a C-MOVE', async (t) => {
    // The destination answers the C-STORE once its data set has arrived, and releases when asked.
    let pendingStore: Command | undefined;
    rig.script = (s, type, c) => {
      if (type === PduType.AssociateRq) s.write(associateAc());
      if (c?.commandField === CommandField.CStoreRq) { pendingStore = c; return; }
      if (type === PduType.PData && c === undefined && pendingStore !== undefined) {
        const rsp = buildCommandSet([[CommandTag.CommandField, { us: CommandField.CStoreRq | 0x8000 }], [CommandTag.MessageIdBeingRespondedTo, { us: pendingStore.messageId ?? 0 }], [CommandTag.AffectedSopClassUid, { ui: CT }], [CommandTag.CommandDataSetType, { us: NO_DATA_SET }], [CommandTag.Status, { us: 0 }], [CommandTag.AffectedSopInstanceUid, { ui: '1.2.3.4' }]]);
        s.write(buildPData(3, true, rsp));
        pendingStore = undefined;
      }
      if (type === PduType.ReleaseRq) s.write(Buffer.from([PduType.ReleaseRp, 0, 0, 0, 0, 4, 0, 0, 0, 0]));
    };
    const got = await pacs((s) => {
      const store = buildCommandSet([[CommandTag.CommandField, { us: CommandField.CStoreRq }], [CommandTag.MessageId, { us: 5 }], [CommandTag.AffectedSopClassUid, { ui: CT }], [CommandTag.CommandDataSetType, { us: 0 }], [CommandTag.AffectedSopInstanceUid, { ui: '1.2.3.4' }]]);
      s.write(Buffer.concat([buildPData(3, true, store), buildPData(3, false, Buffer.from([0x08, 0x00, 0x18, 0x00, 0x08, 0x00, 0x00, 0x00, 0x31, 0x2e, 0x32, 0x2e, 0x33, 0x2e, 0x34, 0x00]))]));
      s.once('data', () => s.write(Buffer.from([PduType.ReleaseRq, 0, 0, 0, 0, 4, 0, 0, 0, 0])));
    });
    t.match(got.map((g) => g.type), [PduType.AssociateAc, PduType.PData, PduType.ReleaseRp]);
    t.match(got[1]?.command, { commandField: CommandField.CStoreRq | 0x8000, status: 0 }, 'the destination\'s C-STORE-RSP reached the PACS');
    t.match(audit('relay.transfer').at(-1), { destinationAe: 'DEST', instances: ['1.2.3.4'], sent: 1, completed: 1, failed: 0, ended: 'released', move: undefined, moveOriginatorAe: undefined });
  });
});
