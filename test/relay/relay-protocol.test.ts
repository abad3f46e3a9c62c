// The relay against a scripted TLS destination: a request from the destination aborts both sides; without a matching C-MOVE the export still records the instances.

import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { createServer, type TLSSocket } from 'node:tls';
import t from 'tap';
import { Audit } from '../../src/audit/audit.js';
import { createLogger } from '../../src/audit/logger.js';
import { buildConfig } from '../../src/config/load.js';
import { buildAssociateAc, buildAssociateRq } from '../../src/dicom/associate-build.js';
import { buildCommandSet } from '../../src/dicom/command-build.js';
import { decodeCommandSet } from '../../src/dicom/command-set.js';
import { CommandField, CommandTag, NO_DATA_SET, PduType } from '../../src/dicom/constants.js';
import { buildPData } from '../../src/dicom/p-data.js';
import { PduReader } from '../../src/dicom/pdu-reader.js';
import { createRelayServer } from '../../src/relay/relay-server.js';
import { createCa, issueCertificate } from '../../src/tls/issue.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const VERIFICATION = '1.2.840.10008.1.1';
const CT = '1.2.840.10008.5.1.4.1.1.2';
const IMPLICIT = '1.2.840.10008.1.2';

/** Reads whole PDUs from a socket (P-DATA with its PDVs' command sets decoded). */
function pduLog(socket: Socket, onPdu: (type: number, command?: ReturnType<typeof decodeCommandSet>) => void): void {
  let cmd: Buffer[] = [];
  let isCommand = false;
  const reader = new PduReader({
    onPdu: (type) => onPdu(type),
    onPDataStart: () => undefined,
    onPdv: (h) => { isCommand = h.isCommand; },
    onFragment: (d) => { if (isCommand) cmd.push(Buffer.from(d)); },
    onPdvEnd: (h) => {
      if (h.isCommand && h.isLast) { onPdu(PduType.PData, decodeCommandSet(Buffer.concat(cmd))); cmd = []; }
      else if (!h.isCommand && h.isLast) onPdu(PduType.PData);
    },
    onPDataEnd: () => undefined,
  }, { maxAssociateBytes: 65536, maxPDataBytes: 1 << 20 });
  socket.on('data', (c: Buffer) => reader.push(c));
}

t.test('relay protocol edges against a scripted TLS destination', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-relay-proto-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const siteCa = createCa({ commonName: 'site CA' });
  const site = issueCertificate(siteCa, { commonName: 'dest', usage: 'server', ipAddresses: ['127.0.0.1'] });
  const hospitalCa = createCa({ commonName: 'hospital CA' });
  const client = issueCertificate(hospitalCa, { commonName: 'gateway relay', usage: 'client' });
  writeFileSync(join(dir, 'ca.crt'), siteCa.certPem);
  writeFileSync(join(dir, 'gw.crt'), client.certPem);
  writeFileSync(join(dir, 'gw.key'), client.keyPem);

  // The destination: accepts every context, then behaves as `script` says once associated.
  let script: (s: TLSSocket, command: ReturnType<typeof decodeCommandSet> | undefined, type: number) => void = () => undefined;
  const seen: number[] = [];
  const dest = createServer({ key: site.keyPem, cert: site.certPem, ca: hospitalCa.certPem, requestCert: true, rejectUnauthorized: true }, (s) => {
    s.on('error', () => undefined);
    pduLog(s, (type, command) => {
      seen.push(type);
      if (type === PduType.AssociateRq) {
        s.write(buildAssociateAc({ calledAe: 'DEST', callingAe: 'PACS', presentationContexts: [{ id: 1, result: 0, transferSyntax: IMPLICIT }, { id: 3, result: 0, transferSyntax: IMPLICIT }] }));
      }
      script(s, command, type);
    });
  });
  dest.listen(0, '127.0.0.1');
  await once(dest, 'listening');
  t.teardown(() => dest.close());
  const destPort = (dest.address() as { port: number }).port;

  const lines: Record<string, any>[] = [];
  const logger = createLogger({ level: 'debug', destination: new Writable({ write(c: Buffer, _e, cb) { for (const l of c.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l)); cb(); } }) });
  const config = buildConfig({
    dicom: { artimSeconds: 5 },
    relay: { listen: { host: '127.0.0.1', port: 0 }, allowFrom: ['127.0.0.0/8'], destinations: { DEST: { host: '127.0.0.1', port: destPort, tls: { ca: 'ca.crt', cert: 'gw.crt', key: 'gw.key' } } } },
  }, { env: {}, baseDir: dir });
  const relay = createRelayServer({ config, relay: config.relay!, logger, audit: new Audit(logger), clock: Date.now });
  const { port } = await relay.listen();
  t.teardown(() => relay.close());
  const audit = (event: string): Record<string, any>[] => lines.filter((l) => l['audit']?.event === event).map((l) => l['audit']);

  /** The PACS side: associates with DEST, runs `then`, resolves with the PDU types it received until the close. */
  const pacs = (then: (s: Socket) => void): Promise<Array<{ type: number; command?: ReturnType<typeof decodeCommandSet> }>> => new Promise((resolve) => {
    const got: Array<{ type: number; command?: ReturnType<typeof decodeCommandSet> }> = [];
    const s = connect({ host: '127.0.0.1', port });
    s.on('error', () => undefined);
    s.on('connect', () => s.write(buildAssociateRq({ callingAe: 'PACS', calledAe: 'DEST', presentationContexts: [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT] }, { id: 3, abstractSyntax: CT, transferSyntaxes: [IMPLICIT] }] })));
    pduLog(s, (type, command) => {
      got.push({ type, ...(command === undefined ? {} : { command }) });
      if (type === PduType.AssociateAc) then(s);
    });
    s.on('close', () => resolve(got));
  });

  await t.test('a request from the destination (the remote AE acting as SCU) aborts both sides', async (t) => {
    script = (s, _c, type) => {
      if (type !== PduType.AssociateRq) return;
      const echo = buildCommandSet([[CommandTag.CommandField, { us: CommandField.CEchoRq }], [CommandTag.MessageId, { us: 9 }], [CommandTag.AffectedSopClassUid, { ui: VERIFICATION }], [CommandTag.CommandDataSetType, { us: NO_DATA_SET }]]);
      s.write(buildPData(1, true, echo));
    };
    const got = await pacs(() => undefined);
    t.same(got.map((g) => g.type), [PduType.AssociateAc, PduType.Abort], 'the PACS gets the AC, then A-ABORT, never the request');
    t.match(lines.filter((l) => l['alert']?.name === 'dicom.protocol-violation').at(-1)?.['alert'], { side: 'destination', listener: 'relay', detail: /destination sent a request \(C-ECHO-RQ\)/ });
  });

  await t.test('C-STORE without a Move Originator: forwarded, answered, exported without a C-MOVE', async (t) => {
    // The destination answers the C-STORE once its data set has arrived, and releases when asked.
    let pendingStore: ReturnType<typeof decodeCommandSet> | undefined;
    script = (s, c, type) => {
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
