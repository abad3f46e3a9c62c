// stunnel (Debian stunnel4) as the plain TLS wrapper an admin would otherwise put in front of a PACS's DICOM port.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startProcess, waitForPort } from '../../test/helpers/tools.js';
import { TLS12_CIPHERS, TLS13_CIPHERSUITES } from '../../src/tls/profile.js';
import type { BenchIdentities } from './identities.js';

/** One stunnel service: accept TLS on `accept`, connect in plain TCP to `connect`. */
export interface StunnelService {
  readonly name: string;
  readonly accept: number;
  readonly connect: number;
  /** Require and verify a client certificate from the bench CA (mTLS). */
  readonly mutual: boolean;
  /** Server certificate and key of this service (default: the bench's RSA one), e.g. the ECDSA pair the gateway serves too. */
  readonly cert?: { readonly cert: string; readonly key: string };
}

export interface Stunnel {
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * Starts one stunnel process with all `services`. Same server certificate and TLS 1.3 suite
 * order as the gateway, Nagle off on both legs (as the gateway does), a log line per connection.
 */
export async function startStunnel(dir: string, id: BenchIdentities, services: readonly StunnelService[]): Promise<Stunnel> {
  const file = join(dir, 'stunnel.conf');
  const lines = [
    'foreground = yes',
    'pid =',
    `output = ${join(dir, 'stunnel.log')}`,
    'debug = notice',
    'socket = l:TCP_NODELAY=1',
    'socket = r:TCP_NODELAY=1',
    '',
  ];
  for (const s of services) {
    lines.push(
      `[${s.name}]`,
      `accept = 127.0.0.1:${s.accept}`,
      `connect = 127.0.0.1:${s.connect}`,
      `cert = ${(s.cert ?? id.server).cert}`,
      `key = ${(s.cert ?? id.server).key}`,
      'sslVersionMin = TLSv1.2',
      `ciphers = ${TLS12_CIPHERS.join(':')}`,
      `ciphersuites = ${TLS13_CIPHERSUITES.join(':')}`,
      'curves = X25519:P-256:P-384',
      ...(s.mutual ? [`CAfile = ${id.caFile}`, 'verifyChain = yes', 'requireCert = yes'] : []),
      '',
    );
  }
  writeFileSync(file, lines.join('\n'));
  const p = await startProcess('stunnel', [file]);
  try {
    await Promise.race([
      Promise.all(services.map((s) => waitForPort(s.accept, '127.0.0.1', 15_000))),
      p.exited.then((r) => { throw new Error(`stunnel exited (${String(r.code)}): ${r.stderr.slice(-2000)}`); }),
    ]);
  } catch (err) {
    await p.stop();
    throw err;
  }
  const pid = p.child.pid;
  if (pid === undefined) throw new Error('stunnel has no pid');
  return { pid, stop: async () => { await p.stop(); } };
}
