// The relay in-process between a raw PACS socket and a scripted TLS destination (certificates generated now), with its log lines.

import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createServer, type TLSSocket } from 'node:tls';
import type { Test } from 'tap';
import { Audit } from '../../../src/audit/audit.js';
import { createLogger } from '../../../src/audit/logger.js';
import { buildConfig } from '../../../src/config/load.js';
import { buildAssociateAc, buildAssociateRq } from '../../../src/dicom/associate-build.js';
import { decodeCommandSet } from '../../../src/dicom/command-set.js';
import { PduType } from '../../../src/dicom/constants.js';
import { PduReader } from '../../../src/dicom/pdu-reader.js';
import { createRelayServer } from '../../../src/relay/relay-server.js';
import { createCa, issueCertificate } from '../../../src/tls/issue.js';

export const VERIFICATION = '1.2.840.10008.1.1';
export const CT = '1.2.840.10008.5.1.4.1.1.2';
export const IMPLICIT = '1.2.840.10008.1.2';

export type Command = ReturnType<typeof decodeCommandSet>;

/** The PACS's A-ASSOCIATE-RQ to the relay's destination DEST: verification on context 1, CT on 3. */
export const associateRq = (): Buffer => buildAssociateRq({
  callingAe: 'PACS', calledAe: 'DEST',
  presentationContexts: [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT] }, { id: 3, abstractSyntax: CT, transferSyntaxes: [IMPLICIT] }],
});

/** The destination's A-ASSOCIATE-AC to that request (both contexts accepted). */
export const associateAc = (): Buffer => buildAssociateAc({ calledAe: 'DEST', callingAe: 'PACS', presentationContexts: [{ id: 1, result: 0, transferSyntax: IMPLICIT }, { id: 3, result: 0, transferSyntax: IMPLICIT }] });

/** Reads whole PDUs from a socket (P-DATA reported once per last PDV, with a command set decoded). */
export function pduLog(socket: Socket, onPdu: (type: number, command?: Command) => void): void {
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

export interface RelayRig {
  /** The relay's port (cleartext, the PACS's side). */
  readonly port: number;
  /** Every log line of the relay, parsed. */
  readonly lines: Record<string, any>[];
  /** What the destination does with each whole PDU it gets; by default it accepts an A-ASSOCIATE-RQ. */
  script: (s: TLSSocket, type: number, command?: Command) => void;
  /** Per destination connection, the PDUs it received (P-DATA with its command, if any). */
  readonly received: Array<Array<{ type: number; command?: Command }>>;
  /** The destination's sockets, in order. */
  readonly sockets: TLSSocket[];
  audit(event: string): Record<string, any>[];
  alerts(name: string): Record<string, any>[];
}

/** The remote site's files, for a destination of the test's own (`external`). */
export interface DestinationFiles {
  readonly siteKey: string;
  readonly siteCert: string;
  /** The CA of the relay's client certificate, for the destination to trust. */
  readonly hospitalCa: string;
}

export interface RelayRigOptions {
  /** A real destination instead of the scripted one: started by the test, resolves with its port. */
  readonly external?: (files: DestinationFiles) => Promise<number>;
}

/** Starts the destination and the relay for this test; both stop in its teardown. */
export async function startRelayRig(t: Test, o: RelayRigOptions = {}): Promise<RelayRig> {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-relay-rig-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const siteCa = createCa({ commonName: 'site CA' });
  const site = issueCertificate(siteCa, { commonName: 'dest', usage: 'server', ipAddresses: ['127.0.0.1'] });
  const hospitalCa = createCa({ commonName: 'hospital CA' });
  const client = issueCertificate(hospitalCa, { commonName: 'gateway relay', usage: 'client' });
  writeFileSync(join(dir, 'ca.crt'), siteCa.certPem);
  writeFileSync(join(dir, 'gw.crt'), client.certPem);
  writeFileSync(join(dir, 'gw.key'), client.keyPem);
  const files: DestinationFiles = { siteKey: join(dir, 'site.key'), siteCert: join(dir, 'site.crt'), hospitalCa: join(dir, 'hospital-ca.crt') };
  writeFileSync(files.siteKey, site.keyPem, { mode: 0o600 });
  writeFileSync(files.siteCert, site.certPem);
  writeFileSync(files.hospitalCa, hospitalCa.certPem);

  const lines: Record<string, any>[] = [];
  const rig: RelayRig = {
    port: 0, lines, received: [], sockets: [],
    script: (s, type) => { if (type === PduType.AssociateRq) s.write(associateAc()); },
    audit: (event) => lines.filter((l) => l['audit']?.event === event).map((l) => l['audit']),
    alerts: (name) => lines.filter((l) => l['alert']?.name === name).map((l) => l['alert']),
  };
  const dest = createServer({ key: site.keyPem, cert: site.certPem, ca: hospitalCa.certPem, requestCert: true, rejectUnauthorized: true }, (s) => {
    s.on('error', () => undefined);
    const got: Array<{ type: number; command?: Command }> = [];
    rig.received.push(got);
    rig.sockets.push(s);
    pduLog(s, (type, command) => {
      got.push({ type, ...(command === undefined ? {} : { command }) });
      rig.script(s, type, command);
    });
  });
  let destPort: number;
  if (o.external === undefined) {
    dest.listen(0, '127.0.0.1');
    await once(dest, 'listening');
    t.teardown(() => dest.close());
    destPort = (dest.address() as { port: number }).port;
  } else {
    destPort = await o.external(files);
  }

  const logger = createLogger({ level: 'debug', destination: new Writable({ write(c: Buffer, _e, cb) { for (const l of c.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l)); cb(); } }) });
  const config = buildConfig({
    dicom: { artimSeconds: 5 },
    relay: { listen: { host: '127.0.0.1', port: 0 }, allowFrom: ['127.0.0.0/8'], destinations: { DEST: { host: '127.0.0.1', port: destPort, tls: { ca: 'ca.crt', cert: 'gw.crt', key: 'gw.key' } } } },
  }, { env: {}, baseDir: dir });
  const relay = createRelayServer({ config, relay: config.relay!, logger, audit: new Audit(logger), clock: Date.now });
  const { port } = await relay.listen();
  t.teardown(() => relay.close());
  return Object.assign(rig, { port });
}

export interface RawPacs {
  readonly socket: Socket;
  send(b: Buffer): void;
  received(): Buffer;
  /** Resolves once at least `n` bytes arrived (or the socket closed); with what arrived. */
  waitFor(n: number): Promise<Buffer>;
  /** Everything received, once the relay has closed the connection. */
  readonly ended: Promise<Buffer>;
}

/** A PACS as a plain socket to the relay: sends exactly the bytes it is given, each send as one write. */
export async function rawPacs(port: number): Promise<RawPacs> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.setNoDelay(true);
  const chunks: Buffer[] = [];
  const waiters: Array<() => void> = [];
  socket.on('data', (c: Buffer) => { chunks.push(c); for (const w of waiters.splice(0)) w(); });
  socket.on('error', () => undefined);
  const ended = new Promise<Buffer>((resolve) => socket.once('close', () => { for (const w of waiters.splice(0)) w(); resolve(Buffer.concat(chunks)); }));
  await once(socket, 'connect');
  const received = (): Buffer => Buffer.concat(chunks);
  return {
    socket, received, ended,
    send: (b) => { socket.write(b); },
    async waitFor(n) {
      while (received().length < n && !socket.destroyed) await new Promise<void>((r) => waiters.push(r));
      return received();
    },
  };
}
