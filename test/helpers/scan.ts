// Test helpers for `pacs-gateway scan`: run the built CLI, parse its JSON, validate SARIF against the
// OASIS SARIF 2.1.0 schema (test/fixtures/sarif-schema-2.1.0.json, JSON Schema draft-04), and the
// pieces of the hand-made DICOM peers that the scanner's tests point it at.

import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Test } from 'tap';
import AjvDraft04 from 'ajv-draft-04';
import ajvFormats from 'ajv-formats';
import type { ValidateFunction } from 'ajv-draft-04';
import { buildRelease } from '../../src/dicom/abort.js';
import { buildAssociateAc } from '../../src/dicom/associate-build.js';
import { buildCommandSet } from '../../src/dicom/command-build.js';
import { CommandField, CommandTag, NO_DATA_SET, PduType, RESPONSE_BIT } from '../../src/dicom/constants.js';
import { buildPData } from '../../src/dicom/p-data.js';
import { probePort } from '../../src/scan/probe-port.js';
import { probeContext } from '../../src/scan/scanner.js';
import type { ServiceResult } from '../../src/scan/types.js';
import { run, type RunResult } from './tools.js';

const BIN = join(process.cwd(), 'bin/pacs-gateway.js');

/** `pacs-gateway ARGS…` with the built CLI. */
export function pgw(args: readonly string[], options: { cwd?: string } = {}): Promise<RunResult> {
  return run(process.execPath, [BIN, ...args], { timeoutMs: 120_000, ...options });
}

export interface ScanJson {
  scannedAt: string;
  results: Array<{ host: string; port: number; service: string; verdict: string; evidence: string[] }>;
  summary: { exposed: number; protected: number; closed: number; unknown: number };
}

/** The result for host:port in a --json report (throws when absent). */
export function resultFor(report: ScanJson, host: string, port: number): ScanJson['results'][number] {
  const r = report.results.find((x) => x.host === host && x.port === port);
  if (r === undefined) throw new Error(`no result for ${host}:${port} in ${JSON.stringify(report)}`);
  return r;
}

// CommonJS packages: under NodeNext their ESM default import is the module object.
const Ajv = AjvDraft04.default;
const addFormats = ajvFormats.default;

let validator: ValidateFunction | undefined;

/** Validates a SARIF log; returns the schema errors (empty when valid). */
export function sarifErrors(log: unknown): unknown[] {
  if (validator === undefined) {
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats(ajv);
    validator = ajv.compile(JSON.parse(readFileSync(join(process.cwd(), 'test/fixtures/sarif-schema-2.1.0.json'), 'utf8')) as object);
  }
  return validator(log) ? [] : [...(validator.errors ?? [])];
}

/** A TCP port that accepts connections and never sends a byte (the "slow port"). Close it in teardown. */
export async function silentPort(host = '127.0.0.1'): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return {
    port: address.port,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

const IMPLICIT_VR_LE = '1.2.840.10008.1.2';

/** An A-ASSOCIATE-AC accepting the scanner's Verification (1) and Study Root C-FIND (3) contexts. */
export function acceptVerificationAndFind(maxPduLength?: number): Buffer {
  return buildAssociateAc({ calledAe: 'ANY-SCP', callingAe: 'PGW-SCAN', ...(maxPduLength === undefined ? {} : { maxPduLength }), presentationContexts: [
    { id: 1, result: 0, transferSyntax: IMPLICIT_VR_LE }, { id: 3, result: 0, transferSyntax: IMPLICIT_VR_LE },
  ] });
}

/** C-ECHO-RSP with status success to the scanner's message 1 (one P-DATA-TF PDU). */
export function echoResponse(): Buffer {
  return buildPData(1, true, buildCommandSet([
    [CommandTag.AffectedSopClassUid, { ui: '1.2.840.10008.1.1' }], [CommandTag.CommandField, { us: CommandField.CEchoRq | RESPONSE_BIT }],
    [CommandTag.MessageIdBeingRespondedTo, { us: 1 }], [CommandTag.CommandDataSetType, { us: NO_DATA_SET }], [CommandTag.Status, { us: 0 }],
  ]));
}

/** Calls `onPdu` with the type and PDU-length of every whole PDU the peer sends on `s` (nothing else is read). */
export function onPduTypes(s: Duplex, onPdu: (type: number, length: number) => void): void {
  let buf = Buffer.alloc(0);
  s.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 6 && buf.length >= 6 + buf.readUInt32BE(2)) {
      const type = buf.readUInt8(0);
      const length = buf.readUInt32BE(2);
      buf = buf.subarray(6 + length);
      onPdu(type, length);
    }
  });
}

/** A minimal Verification SCP on `s` that admits anyone: A-ASSOCIATE-AC, C-ECHO-RSP, A-RELEASE-RP. */
export function openEchoScp(s: Duplex): void {
  onPduTypes(s, (type) => {
    if (type === PduType.AssociateRq) s.write(acceptVerificationAndFind());
    else if (type === PduType.PData) s.write(echoResponse());
    else if (type === PduType.ReleaseRq) s.end(buildRelease(PduType.ReleaseRp));
  });
}

/**
 * Starts `server` (net, http, tls or https) on a free 127.0.0.1 port; in teardown every connection it
 * holds is destroyed and it is closed. Returns the port.
 */
export async function listenOnLoopback(t: Test, server: Server): Promise<number> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }));
  return (server.address() as { port: number }).port;
}

/** probePort on 127.0.0.1:port with a test context (no rate limit to speak of). */
export function probeLoopback(port: number, timeoutMs = 2000): Promise<ServiceResult> {
  return probePort({ host: '127.0.0.1', address: '127.0.0.1', port, servername: undefined }, probeContext({ version: '0.0.0-test', timeoutMs, ratePerSecond: 1000 }));
}
