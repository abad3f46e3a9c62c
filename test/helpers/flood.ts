// Test helper: many clients at once against a gateway's ports (login floods, connection caps), from chosen loopback addresses.

import { connect, type TLSSocket } from 'node:tls';
import { buildAssociateRq } from '../../src/dicom/associate-build.js';
import { PduType } from '../../src/dicom/constants.js';
import { parseAssociateRj, type Rejection } from '../../src/dicom/reject.js';

const VERIFICATION = '1.2.840.10008.1.1';
const IMPLICIT = '1.2.840.10008.1.2';

/** How a TLS connection attempt ended: the handshake completed, or the gateway closed it first. */
export interface TlsAttempt {
  readonly connected: boolean;
  readonly socket: TLSSocket;
  /** Resolves when the connection is closed (by either side). */
  readonly closed: Promise<void>;
}

/** Opens a TLS connection (no client certificate) from `localAddress` (any 127.x.y.z works on Linux loopback). */
export function openTls(port: number, caPem: string, localAddress = '127.0.0.1'): Promise<TlsAttempt> {
  // tls.connect hands net options such as localAddress to net.connect; its type does not list them.
  const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: caPem, ...({ localAddress } as object) });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return new Promise((resolve) => {
    socket.once('secureConnect', () => resolve({ connected: true, socket, closed }));
    void closed.then(() => resolve({ connected: false, socket, closed }));
  });
}

/** What the gateway answered to an A-ASSOCIATE-RQ. */
export type AssociateAnswer =
  | { readonly kind: 'ac' }
  | { readonly kind: 'rj'; readonly rejection: Rejection }
  | { readonly kind: 'closed' };

/**
 * Sends an A-ASSOCIATE-RQ (Verification) with user identity type 2 (username + passcode, the
 * passcode being the password followed by the TOTP code) and reads the answer, then closes.
 */
export async function associateWithPassword(port: number, caPem: string, o: { username: string; passcode: string; localAddress?: string; callingAe?: string }): Promise<AssociateAnswer> {
  const a = await openTls(port, caPem, o.localAddress);
  if (!a.connected) return { kind: 'closed' };
  const chunks: Buffer[] = [];
  const answer = new Promise<AssociateAnswer>((resolve) => {
    const check = (): void => {
      const got = Buffer.concat(chunks);
      if (got.length < 6 || got.length < 6 + got.readUInt32BE(2)) return;
      const pdu = got.subarray(0, 6 + got.readUInt32BE(2));
      if (pdu[0] === PduType.AssociateAc) resolve({ kind: 'ac' });
      else if (pdu[0] === PduType.AssociateRj) resolve({ kind: 'rj', rejection: parseAssociateRj(pdu) });
      else resolve({ kind: 'closed' });
    };
    a.socket.on('data', (c: Buffer) => { chunks.push(c); check(); });
    void a.closed.then(() => resolve({ kind: 'closed' }));
  });
  a.socket.write(buildAssociateRq({
    calledAe: 'GATEWAY', callingAe: o.callingAe ?? 'FLOOD',
    presentationContexts: [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT] }],
    userIdentity: { type: 2, positiveResponseRequested: false, primary: Buffer.from(o.username), secondary: Buffer.from(o.passcode) },
  }));
  const r = await answer;
  a.socket.destroy();
  return r;
}
