// The association as a whole: a client byte stream into a real Association over a loopback socket pair, a sentinel PACS behind it.

import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { Writable } from 'node:stream';
import { Audit } from '../../../src/audit/audit.js';
import { createLogger } from '../../../src/audit/logger.js';
import { buildAssociateAc } from '../../../src/dicom/associate-build.js';
import { parseAssociateRq } from '../../../src/dicom/associate-parse.js';
import { Association } from '../../../src/dicom/association.js';
import { ItemType, PduType } from '../../../src/dicom/constants.js';
import { buildRelease } from '../../../src/dicom/abort.js';
import { AssociationLimits } from '../../../src/dicom/limits.js';
import { buildConfig } from '../../../src/config/load.js';
import type { IdentityResolver, IdentityResult, Revalidation } from '../../../src/identity/resolver.js';
import { Prng } from '../engine/prng.js';
import { must, type FuzzTarget } from '../engine/target.js';
import { DICOM_DICTIONARY, clientStream, abortPdu, echoRq } from './dicom-seeds.js';
import { createHash } from 'node:crypto';

/** Admits exactly one identity (type 2, fuzz / secret): the resolver is not under test here, the state machine is. */
class OneIdentity implements IdentityResolver {
  async fromCertificate(): Promise<IdentityResult> { return { ok: false, refusal: 'certificate-unknown' }; }
  async fromUserIdentity(type: number, primary: Buffer, secondary: Buffer): Promise<IdentityResult> {
    if (type === 2 && primary.toString('latin1') === 'fuzz' && secondary.toString('latin1') === 'secret') {
      return { ok: true, principal: { id: 'fuzz', kind: 'user', role: 'modality', method: 'dicom-user-password-totp' } };
    }
    return { ok: false, refusal: 'bad-credentials' };
  }
  async stillValid(): Promise<Revalidation> { return { valid: true }; }
}

interface Exec {
  /** Ordered events of this execution: 'admitted', 'pacs-connect', 'error'. */
  readonly events: string[];
  pacsBytes: Buffer[];
}

let exec: Exec = { events: [], pacsBytes: [] };
let pacs: Server | undefined;
let front: Server | undefined;
let pending: ((a: Association) => void) | undefined;
let deps: ConstructorParameters<typeof Association>[1] | undefined;

/** The sentinel PACS: records when a connection came and every byte; answers an RQ with an AC and a release with RP. */
function startPacs(): Promise<number> {
  pacs = createServer((s: Socket) => {
    exec.events.push('pacs-connect');
    const mine: Buffer[] = [];
    exec.pacsBytes = mine;
    let buf = Buffer.alloc(0);
    let answered = false;
    s.on('error', () => undefined);
    s.on('data', (c: Buffer) => {
      mine.push(Buffer.from(c));
      buf = Buffer.concat([buf, c]);
      while (buf.length >= 6 && buf.length >= 6 + buf.readUInt32BE(2)) {
        const pdu = buf.subarray(0, 6 + buf.readUInt32BE(2));
        buf = buf.subarray(pdu.length);
        if (!answered && pdu[0] === PduType.AssociateRq) {
          answered = true;
          const rq = parseAssociateRq(pdu);
          s.write(buildAssociateAc({ calledAe: rq.calledAe, callingAe: rq.callingAe, presentationContexts: rq.presentationContexts.map((p) => ({ id: p.id, result: 0, transferSyntax: p.transferSyntaxes[0] })) }));
        } else if (pdu[0] === PduType.ReleaseRq) {
          s.write(buildRelease(PduType.ReleaseRp));
        }
      }
    });
  });
  return new Promise((resolve) => pacs?.listen(0, '127.0.0.1', () => resolve((pacs?.address() as { port: number }).port)));
}

function split(input: Buffer): Buffer[] {
  const prng = new Prng(createHash('sha1').update(input).digest().readUInt32LE(0));
  const out: Buffer[] = [];
  for (let at = 0; at < input.length;) {
    const n = 1 + prng.below(prng.oneIn(2) ? 16 : Math.max(1, input.length - at));
    out.push(input.subarray(at, at + n));
    at += n;
  }
  return out;
}

export const associationTarget: FuzzTarget = {
  name: 'association',
  about: 'src/dicom/association.ts + association-transitions.ts + pdu-expectations.ts over a loopback socket pair: whole PDU sequences from a client; no byte reaches the sentinel PACS before admission, only the gateway-built RQ (no credentials, PACS AE) comes first, answers are AC/RJ/A-ABORT, never an internal error',
  files: ['src/dicom/association', 'src/dicom/association-transitions', 'src/dicom/association-pipe', 'src/dicom/association-legs', 'src/dicom/pdu-expectations', 'src/dicom/admission', 'src/dicom/request-filter', 'src/dicom/response-relay', 'src/dicom/guarded-pipe', 'src/dicom/command-guard', 'src/dicom/negotiation', 'src/dicom/pdu-reader'],
  maxLength: 4096,
  dictionary: [...DICOM_DICTIONARY, abortPdu(), buildRelease(PduType.ReleaseRq), buildRelease(PduType.ReleaseRp)],
  seeds: () => [clientStream(true), clientStream(false), echoRq(true), Buffer.concat([echoRq(true), abortPdu()])],
  async setup() {
    const pacsPort = await startPacs();
    const config = buildConfig({
      upstream: { dicom: { host: '127.0.0.1', port: pacsPort, aeTitle: 'ORTHANC' }, timeoutMs: 2000 },
      roles: { modality: ['echo', 'store', 'search'] },
      dicom: { artimSeconds: 2, idleSeconds: 30, maxCommandBytes: 4096, maxPduBytes: 16_384 },
    }, { baseDir: process.cwd() });
    const sink = new Writable({
      write(chunk: Buffer, _e, cb) {
        const s = chunk.toString();
        if (s.includes('association admitted by gateway')) exec.events.push('admitted');
        if (s.includes('"level":"error"') || s.includes('"level":"fatal"')) exec.events.push(`error ${s.slice(0, 300)}`);
        cb();
      },
    });
    const logger = createLogger({ level: 'info', destination: sink });
    deps = { config, logger, audit: new Audit(logger), identity: new OneIdentity(), limits: new AssociationLimits(50, 50), revalidateMs: 60_000, clock: Date.now };
    front = createServer((s) => {
      // The socket pair's server end, with the TLS facts a TLSSocket would have (no client certificate).
      const tlsLike = Object.assign(s, { authorized: false, authorizationError: null, getPeerCertificate: () => ({}), getProtocol: () => 'TLSv1.3' }) as unknown as TLSSocket;
      const a = new Association(tlsLike, deps as NonNullable<typeof deps>);
      pending?.(a);
    });
    await new Promise<void>((r) => front?.listen(0, '127.0.0.1', r));
  },
  async teardown() {
    await new Promise<void>((r) => (pacs === undefined ? r() : pacs.close(() => r())));
    await new Promise<void>((r) => (front === undefined ? r() : front.close(() => r())));
  },
  async run(input) {
    exec = { events: [], pacsBytes: [] };
    const association = new Promise<Association>((r) => { pending = r; });
    const client = connect({ host: '127.0.0.1', port: (front?.address() as { port: number }).port });
    const answer: Buffer[] = [];
    client.on('data', (c: Buffer) => answer.push(c));
    client.on('error', () => undefined);
    await once(client, 'connect');
    const a = await association;
    for (const c of split(input)) client.write(c);
    // Let admission and the PACS's answer happen before the client hangs up, so the relay is reached.
    let quiet = 0;
    let seen = -1;
    for (let i = 0; i < 2000 && a.state !== 'closed' && quiet < 3; i++) {
      await new Promise((r) => setTimeout(r, 1));
      const now = answer.length + exec.pacsBytes.length + exec.events.length;
      const busy = a.state === 'admitting' || a.state === 'awaiting-ac' || now !== seen;
      quiet = busy ? 0 : quiet + 1;
      seen = now;
    }
    client.end();
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 10_000).unref());
    const done = await Promise.race([a.closed.then(() => 'closed' as const), timeout]);
    client.destroy();
    must(done === 'closed', `the association did not close (state ${a.state}; events ${exec.events.join(', ')})`);
    // Give a PACS connection that the gateway opened a moment to be seen by the sentinel.
    await new Promise((r) => setImmediate(r));
    const errors = exec.events.filter((e) => e.startsWith('error'));
    must(errors.length === 0, `the gateway logged an internal error: ${errors[0]}`);
    const admitted = exec.events.indexOf('admitted');
    const connected = exec.events.indexOf('pacs-connect');
    must(connected === -1 || (admitted !== -1 && admitted < connected), `the PACS was contacted before admission (${exec.events.join(', ')})`);
    const toPacs = Buffer.concat(exec.pacsBytes);
    if (toPacs.length > 0) {
      must(toPacs[0] === PduType.AssociateRq && toPacs.length >= 6 + toPacs.readUInt32BE(2), 'the first bytes to the PACS are not a whole A-ASSOCIATE-RQ');
      const rq = parseAssociateRq(toPacs.subarray(0, 6 + toPacs.readUInt32BE(2)));
      must(rq.calledAe === 'ORTHANC' && !rq.userItems.some((s) => s.type === ItemType.UserIdentityRq), 'the RQ to the PACS carries credentials or the client\'s called AE');
    }
    const got = Buffer.concat(answer);
    must(got.length === 0 || [PduType.AssociateAc, PduType.AssociateRj, PduType.Abort].includes(got[0] as 2 | 3 | 7), `the client's first answer is PDU type ${got[0]}`);
  },
};
