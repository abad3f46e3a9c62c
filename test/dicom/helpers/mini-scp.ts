// A tiny upstream SCP for raw-socket tests: answers C-ECHO and A-RELEASE-RQ, records the commands it saw.

import type { Socket } from 'node:net';
import { buildRelease } from '../../../src/dicom/abort.js';
import { buildCommandSet } from '../../../src/dicom/command-build.js';
import { decodeCommandSet, type CommandSet } from '../../../src/dicom/command-set.js';
import { CommandTag, PduType } from '../../../src/dicom/constants.js';
import { buildPData } from '../../../src/dicom/p-data.js';
import { PduReader } from '../../../src/dicom/pdu-reader.js';

export interface MiniScp {
  readonly commands: CommandSet[];
  readonly pdus: number[];
  dataBytes: number;
  onData(socket: Socket, chunk: Buffer): void;
}

export function miniScp(): MiniScp {
  const readers = new WeakMap<Socket, PduReader>();
  const scp: MiniScp = {
    commands: [], pdus: [], dataBytes: 0,
    onData(socket, chunk) {
      let reader = readers.get(socket);
      if (reader === undefined) {
        let cmd: Buffer[] = [];
        let pcId = 1;
        let isCommand = false;
        reader = new PduReader({
          onPdu: (type) => {
            scp.pdus.push(type);
            if (type === PduType.ReleaseRq) socket.write(buildRelease(PduType.ReleaseRp));
          },
          onPDataStart: () => undefined,
          onPdv: (h) => { pcId = h.pcId; isCommand = h.isCommand; },
          onFragment: (d) => { if (isCommand) cmd.push(Buffer.from(d)); },
          onPdvEnd: (h) => {
            if (!h.isCommand) { scp.dataBytes += h.fragmentLength; return; }
            if (!h.isLast) return;
            const c = decodeCommandSet(Buffer.concat(cmd));
            cmd = [];
            scp.commands.push(c);
            if (c.commandField === 0x0030) {
              socket.write(buildPData(pcId, true, buildCommandSet([
                [CommandTag.AffectedSopClassUid, { ui: c.affectedSopClassUid ?? '' }], [CommandTag.CommandField, { us: 0x8030 }],
                [CommandTag.MessageIdBeingRespondedTo, { us: c.messageId ?? 0 }], [CommandTag.CommandDataSetType, { us: 0x0101 }], [CommandTag.Status, { us: 0 }],
              ])));
            }
          },
          onPDataEnd: () => undefined,
        }, { maxAssociateBytes: 1 << 16, maxPDataBytes: 1 << 24 });
        readers.set(socket, reader);
      }
      reader.push(chunk);
    },
  };
  return scp;
}
