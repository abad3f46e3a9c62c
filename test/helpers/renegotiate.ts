// Test helper: a raw TLS 1.2 client (OpenSSL through renegotiate-client.py) that renegotiates after the handshake,
// presenting another certificate: the attack of issue 12 §1.

import { join } from 'node:path';
import { run } from './tools.js';

const SCRIPT = join(process.cwd(), 'test/helpers/renegotiate-client.py');

export interface CertFiles { readonly cert: string; readonly key: string }

export interface RenegotiationResult {
  /** Renegotiations the server completed. */
  readonly renegotiations: number;
  /** What stopped the client (OpenSSL's error), if anything did. */
  readonly error: string | null;
  /** The first bytes the server sent in answer to `send`, when it was sent. */
  readonly response: Buffer | undefined;
  /** After an error: the server closed the TCP connection. */
  readonly peerClosed: boolean;
}

/**
 * Connects to 127.0.0.1:port over TLS 1.2 with `first`, renegotiates `times` times (presenting `swap`
 * when given), then, if the connection survived, sends `send` and reads the first answer.
 */
export async function renegotiate(port: number, first: CertFiles, o: { swap?: CertFiles; times?: number; send?: Buffer } = {}): Promise<RenegotiationResult> {
  const args = [SCRIPT, String(port), first.cert, first.key,
    ...(o.swap === undefined ? [] : ['--swap', o.swap.cert, o.swap.key]),
    ...(o.times === undefined ? [] : ['--times', String(o.times)]),
    ...(o.send === undefined ? [] : ['--send', o.send.toString('hex')])];
  const r = await run('python3', args, { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`renegotiate-client.py failed (${String(r.code)}): ${r.stderr}${r.stdout}`);
  const out = JSON.parse(r.stdout) as { renegotiations: number; error: string | null; response: string | null; peerClosed: boolean };
  return { ...out, response: out.response === null ? undefined : Buffer.from(out.response, 'hex') };
}
