// Raw-socket harness for the DIMSE listener: a DimseServer with a stub resolver, a counting fake upstream, and a TLS client that records every byte.

import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { Writable } from 'node:stream';
import { Audit } from '../../../src/audit/audit.js';
import { createLogger } from '../../../src/audit/logger.js';
import { buildConfig } from '../../../src/config/load.js';
import type { GatewayConfig } from '../../../src/config/types.js';
import type { Principal } from '../../../src/identity/principal.js';
import type { IdentityResolver, IdentityResult, Revalidation } from '../../../src/identity/resolver.js';
import { buildAssociateAc } from '../../../src/dicom/associate-build.js';
import { parseAssociateRq, type AssociateRq } from '../../../src/dicom/associate-parse.js';
import { createDimseServer, type DimseServer } from '../../../src/dicom/server.js';
import { testPki, tlsMaterial, type TestPki } from './pki.js';

export const VERIFICATION = '1.2.840.10008.1.1';
export const CT = '1.2.840.10008.5.1.4.1.1.2';
export const IMPLICIT = '1.2.840.10008.1.2';

/** A stand-in PACS: counts connections, records bytes, and (optionally) answers A-ASSOCIATE-RQ with an AC. */
export interface FakeUpstream {
  readonly port: number;
  connections: number;
  readonly sockets: Socket[];
  /** All bytes received, per connection. */
  readonly received: Buffer[][];
  /** Parsed A-ASSOCIATE-RQs received. */
  readonly requests: AssociateRq[];
  close(): Promise<void>;
}

export interface FakeUpstreamOptions {
  /** 'accept' answers RQ with AC (all contexts accepted); 'silent' never answers; 'close' closes at once. */
  readonly mode?: 'accept' | 'silent' | 'close';
  /** Called with each chunk after the RQ (default: nothing). */
  readonly onData?: (socket: Socket, chunk: Buffer) => void;
}

export async function fakeUpstream(options: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  const sockets: Socket[] = [];
  const received: Buffer[][] = [];
  const requests: AssociateRq[] = [];
  const u = { connections: 0, sockets, received, requests } as unknown as FakeUpstream & { port: number; connections: number };
  const server: Server = createServer((s) => {
    u.connections++;
    sockets.push(s);
    const mine: Buffer[] = [];
    received.push(mine);
    s.on('error', () => undefined);
    if (options.mode === 'close') return void s.destroy();
    let pending = Buffer.alloc(0);
    let associated = false;
    s.on('data', (chunk: Buffer) => {
      mine.push(chunk);
      if (associated) return options.onData?.(s, chunk);
      pending = Buffer.concat([pending, chunk]);
      if (pending.length < 6 || pending.length < 6 + pending.readUInt32BE(2)) return;
      const rq = parseAssociateRq(pending.subarray(0, 6 + pending.readUInt32BE(2)));
      requests.push(rq);
      associated = true;
      if (options.mode === 'silent') return;
      s.write(buildAssociateAc({
        calledAe: rq.calledAe, callingAe: rq.callingAe, maxPduLength: 16384,
        presentationContexts: rq.presentationContexts.map((p) => ({ id: p.id, result: 0, transferSyntax: p.transferSyntaxes[0] })),
      }));
      const rest = pending.subarray(6 + pending.readUInt32BE(2));
      if (rest.length > 0) options.onData?.(s, rest);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  u.port = (server.address() as { port: number }).port;
  u.close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return u;
}

/** A resolver whose answers the test sets. */
export class StubResolver implements IdentityResolver {
  devices = new Map<string, Principal>();
  users = new Map<string, Principal>();
  valid = true;
  /** When set, stillValid rejects with it (e.g. the state store is down). */
  validityError: Error | undefined;
  calls: string[] = [];
  async fromCertificate(cert: { fingerprint256: string }): Promise<IdentityResult> {
    this.calls.push(`cert:${cert.fingerprint256}`);
    const p = this.devices.get(cert.fingerprint256);
    return p === undefined ? { ok: false, refusal: 'certificate-unknown' } : { ok: true, principal: p };
  }
  async fromUserIdentity(type: number, primary: Buffer, secondary: Buffer): Promise<IdentityResult> {
    this.calls.push(`user:${type}:${primary.toString()}`);
    const p = this.users.get(`${type}:${primary.toString()}:${secondary.toString()}`);
    if (primary.toString() === 'locked') return { ok: false, refusal: 'locked-out' };
    if (primary.toString() === 'throws') throw new Error('store exploded');
    return p === undefined ? { ok: false, refusal: 'bad-credentials' } : { ok: true, principal: p };
  }
  async stillValid(): Promise<Revalidation> {
    if (this.validityError !== undefined) throw this.validityError;
    return this.valid ? { valid: true } : { valid: false, reason: 'user-disabled' };
  }
}

export interface Harness {
  readonly server: DimseServer;
  readonly port: number;
  readonly pki: TestPki;
  readonly upstream: FakeUpstream;
  readonly identity: StubResolver;
  readonly config: GatewayConfig;
  readonly logs: Record<string, any>[];
  audit(event: string): Record<string, any>[];
  alerts(name: string): Record<string, any>[];
  close(): Promise<void>;
}

export async function startHarness(options: { upstream?: FakeUpstreamOptions; dicom?: Record<string, number>; upstreamPort?: number; revalidateMs?: number; roles?: Record<string, unknown>; clock?: () => number } = {}): Promise<Harness> {
  const pki = testPki();
  const upstream = await fakeUpstream(options.upstream);
  const config = buildConfig({
    listen: { dicom: { host: '127.0.0.1', port: 0 } },
    upstream: { dicom: { host: '127.0.0.1', port: options.upstreamPort ?? upstream.port, aeTitle: 'PACS' }, timeoutMs: 2000 },
    roles: options.roles ?? { reader: ['echo', 'search'], modality: ['echo', 'store'] },
    dicom: { artimSeconds: 1, idleSeconds: 30, ...options.dicom },
  }, { baseDir: process.cwd() });
  const logs: Record<string, any>[] = [];
  const sink = new Writable({ write(chunk: Buffer, _e, cb) { for (const l of chunk.toString().split('\n')) if (l !== '') logs.push(JSON.parse(l)); cb(); } });
  const logger = createLogger({ level: 'debug', destination: sink });
  const identity = new StubResolver();
  const server = createDimseServer({ config, logger, audit: new Audit(logger), identity, tls: tlsMaterial(pki),
    ...(options.revalidateMs === undefined ? {} : { revalidateMs: options.revalidateMs }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
  const { port } = await server.listen();
  return {
    server, port, pki, upstream, identity, config, logs,
    audit: (event) => logs.filter((l) => l.audit?.event === event).map((l) => l.audit),
    alerts: (name) => logs.filter((l) => l.alert?.name === name).map((l) => l.alert),
    async close() {
      await server.close();
      await upstream.close();
    },
  };
}

/** A TLS client that records what it receives and when the connection ends. */
export interface RawClient {
  readonly socket: TLSSocket;
  /** Everything received so far. */
  received(): Buffer;
  /** Resolves with everything received once the gateway has closed the connection. */
  ended: Promise<Buffer>;
  /** Waits until at least `n` bytes have arrived. */
  waitFor(n: number, timeoutMs?: number): Promise<Buffer>;
  send(b: Buffer): void;
}

export async function rawClient(port: number, cert?: { certPem: string; keyPem: string }): Promise<RawClient> {
  const pki = testPki();
  const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: pki.ca.certPem, ...(cert === undefined ? {} : { cert: cert.certPem, key: cert.keyPem }) });
  const chunks: Buffer[] = [];
  const waiters: Array<() => void> = [];
  socket.on('data', (c: Buffer) => { chunks.push(c); for (const w of waiters.splice(0)) w(); });
  socket.on('error', () => undefined);
  const ended = new Promise<Buffer>((resolve) => socket.once('close', () => { for (const w of waiters.splice(0)) w(); resolve(Buffer.concat(chunks)); }));
  await once(socket, 'secureConnect');
  const received = (): Buffer => Buffer.concat(chunks);
  return {
    socket, received, ended,
    send: (b) => { socket.write(b); },
    async waitFor(n, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (received().length < n) {
        if (socket.destroyed || Date.now() > deadline) break;
        await new Promise<void>((r) => { waiters.push(r); setTimeout(r, 50); });
      }
      return received();
    },
  };
}
