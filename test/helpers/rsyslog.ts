// Test helper: a real rsyslogd (Debian rsyslog + rsyslog-gnutls) receiving RFC 5425 syslog over mutual TLS on a loopback port.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCa, issueCertificate } from '../../src/tls/issue.js';
import { freePort } from './ports.js';
import { startProcess, waitForPort, type StartedProcess } from './tools.js';

export interface SyslogReceiver {
  readonly port: number;
  readonly dir: string;
  /** Files for the gateway's audit.syslog entry: the receiver's CA, and a client certificate and key it trusts. */
  readonly client: { readonly ca: string; readonly cert: string; readonly key: string };
  /** Every message received so far (the raw RFC 5424 message, one per line), across restarts. */
  messages(): string[];
  /** Stops rsyslogd (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same files. */
  start(): Promise<void>;
  destroy(): Promise<void>;
}

/** Starts rsyslogd with imtcp over gtls (x509/certvalid: clients need a certificate from the CA) writing %rawmsg% to a file. */
export async function startSyslogReceiver(): Promise<SyslogReceiver> {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-rsyslog-'));
  const port = await freePort();
  const ca = createCa({ commonName: 'syslog test CA' });
  const server = issueCertificate(ca, { commonName: 'localhost', usage: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const client = issueCertificate(ca, { commonName: 'pacs-gateway', usage: 'client' });
  const files: Record<string, string> = { 'ca.pem': ca.certPem, 'server.pem': server.certPem, 'server.key': server.keyPem, 'client.pem': client.certPem, 'client.key': client.keyPem };
  for (const [name, pem] of Object.entries(files)) writeFileSync(join(dir, name), pem, { mode: 0o600 });
  mkdirSync(join(dir, 'work'));
  const out = join(dir, 'received.log');
  const conf = join(dir, 'rsyslog.conf');
  writeFileSync(conf, [
    `global(workDirectory="${dir}/work" maxMessageSize="256k"`,
    `  DefaultNetstreamDriver="gtls" DefaultNetstreamDriverCAFile="${dir}/ca.pem"`,
    `  DefaultNetstreamDriverCertFile="${dir}/server.pem" DefaultNetstreamDriverKeyFile="${dir}/server.key")`,
    'module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="x509/certvalid")',
    `input(type="imtcp" port="${port}" address="127.0.0.1")`,
    'template(name="raw" type="string" string="%rawmsg%\\n")',
    `action(type="omfile" file="${out}" template="raw" asyncWriting="off" flushOnTXEnd="on")`,
    '',
  ].join('\n'));
  let proc: StartedProcess | undefined;
  const start = async (): Promise<void> => {
    proc = await startProcess('rsyslogd', ['-n', '-f', conf, '-i', join(dir, 'rsyslogd.pid')]);
    try {
      await waitForPort(port, '127.0.0.1', 15_000);
    } catch (err) {
      throw new Error(`rsyslogd did not listen: ${proc.stderr()}`, { cause: err });
    }
  };
  await start();
  return {
    port, dir,
    client: { ca: join(dir, 'ca.pem'), cert: join(dir, 'client.pem'), key: join(dir, 'client.key') },
    messages: () => (existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter((l) => l !== '') : []),
    async stop() { await proc?.stop(10_000); proc = undefined; },
    start,
    async destroy() {
      await proc?.stop(10_000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
