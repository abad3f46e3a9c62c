// Opens many DICOM associations over mTLS (A-ASSOCIATE-RQ for Verification, wait for the AC) and holds them idle.

import { connect, type TLSSocket } from 'node:tls';
import { buildAssociateRq } from '../../src/dicom/associate-build.js';
import { CALLING_AE } from './identities.js';

const VERIFICATION = '1.2.840.10008.1.1';
const IMPLICIT_LE = '1.2.840.10008.1.2';
/** PS3.8 §9.3.3: A-ASSOCIATE-AC PDU type. */
const ASSOCIATE_AC = 0x02;

export interface IdleOptions {
  readonly port: number;
  readonly count: number;
  readonly calledAe: string;
  readonly key: string;
  readonly cert: string;
  readonly ca: string;
  /** Connections opened at a time. */
  readonly batch: number;
  readonly timeoutMs: number;
}

function openOne(o: IdleOptions): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: o.port, key: o.key, cert: o.cert, ca: o.ca, servername: 'localhost' });
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => fail(new Error(`no A-ASSOCIATE-AC within ${o.timeoutMs} ms`)), o.timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.setNoDelay(true);
    socket.once('secureConnect', () => {
      socket.write(buildAssociateRq({
        calledAe: o.calledAe, callingAe: CALLING_AE,
        presentationContexts: [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }],
      }));
    });
    const onData = (chunk: Buffer): void => {
      got = Buffer.concat([got, chunk]);
      if (got.length < 1) return;
      if (got[0] !== ASSOCIATE_AC) return fail(new Error(`expected A-ASSOCIATE-AC, got PDU type 0x${(got[0] ?? 0).toString(16)}`));
      if (got.length < 6 || got.length < 6 + got.readUInt32BE(2)) return;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.on('data', () => undefined);
      resolve(socket);
    };
    socket.on('data', onData);
    socket.on('error', (err) => fail(err));
    socket.once('close', () => fail(new Error('closed before the A-ASSOCIATE-AC')));
  });
}

/** Opens `count` associations, `batch` at a time; on any failure closes the ones already open and rejects. */
export async function openIdleAssociations(o: IdleOptions): Promise<TLSSocket[]> {
  const open: TLSSocket[] = [];
  for (let i = 0; i < o.count; i += o.batch) {
    const n = Math.min(o.batch, o.count - i);
    const settled = await Promise.allSettled(Array.from({ length: n }, () => openOne(o)));
    for (const r of settled) if (r.status === 'fulfilled') open.push(r.value);
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      closeAll(open);
      throw new Error(`association ${open.length + 1} of ${o.count} failed: ${(failed.reason as Error).message}`, { cause: failed.reason });
    }
  }
  return open;
}

/** Drops every connection (the proxy then aborts the upstream side). */
export function closeAll(sockets: readonly TLSSocket[]): void {
  for (const s of sockets) s.destroy();
}
