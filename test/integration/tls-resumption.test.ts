// Attack (issue 12 §1, review): TLS session resumption after the certificate was revoked by the CRL.
// A resumed handshake does not verify the certificate again: OpenSSL keeps the first verification
// result in the session. A client that kept a ticket from before the revocation must not get back in.
// The listeners' ticket keys outlive a CRL change (tls.tickets: shared by replicas, re-applied after
// every setSecureContext), so the old ticket still resumes the TLS session; what refuses the device
// is the re-check of a resumed session's certificate against the CRL in force (resumed-peer-check.ts,
// peer-identity.ts). Dropping that re-check makes this test fail. tls-tickets.test.ts covers the
// DICOM listener, expired certificates and devices removed from the list.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import t from 'tap';
import { parse, stringify } from 'yaml';
import { certsOk, issueClient, prepareCa } from '../helpers/certs.js';
import { startGateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/tools.js';

interface Visit { readonly reused: boolean; readonly authorized: boolean; readonly answer: string; readonly session: Buffer | undefined }

async function visit(port: number, ca: string, cert: string, key: string, maxVersion: 'TLSv1.2' | 'TLSv1.3', session?: Buffer): Promise<Visit> {
  const socket: TLSSocket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca, cert, key, maxVersion, ...(session === undefined ? {} : { session }) });
  socket.on('error', () => undefined);
  let next: Buffer | undefined;
  socket.on('session', (s: Buffer) => { next = s; });
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve) => { socket.once('secureConnect', () => resolve()); void closed.then(resolve); });
  const reused = socket.isSessionReused();
  const authorized = socket.authorized;
  socket.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
  await closed;
  return { reused, authorized, answer: Buffer.concat(chunks).toString('latin1'), session: next };
}

for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
  t.test(`${version}: a session resumed after the certificate was revoked in the CRL is not the device`, async (t) => {
    const gw = await startGateway({ prepare: prepareCa, config: { tls: { autoGenerate: false } } });
    t.teardown(() => gw.stop());
    const dev = await issueClient(gw.dir, 'ws-resume', 'viewer', []);
    await gw.gateway.reload();
    const cert = readFileSync(dev.files.cert, 'utf8');
    const key = readFileSync(dev.files.key, 'utf8');
    const first = await visit(gw.httpsPort, gw.caPem, cert, key, version);
    t.match(first.answer, /Authenticated as device ws-resume/, 'the device before');
    t.ok(first.session, 'the client kept a session');
    const again = await visit(gw.httpsPort, gw.caPem, cert, key, version, first.session);
    t.ok(again.reused, 'resumption works before the revocation');
    t.match(again.answer, /Authenticated as device ws-resume/);

    // Revoked in the CRL only (as another CA's CRL would): the device entry does not know.
    // Counted before the CRL is written: the file watcher may apply it before reload() is called.
    const before = gw.auditEvents('config.reload').length;
    await certsOk(gw.dir, ['revoke', 'ws-resume']);
    const devicesFile = join(gw.dir, 'config/devices.yaml');
    const doc = parse(readFileSync(devicesFile, 'utf8')) as { devices: Record<string, Record<string, unknown>> };
    const entry = doc.devices['ws-resume'] as Record<string, unknown>;
    delete entry['revokedAt'];
    delete entry['disabled'];
    writeFileSync(devicesFile, stringify(doc));
    await gw.gateway.reload();
    await waitFor(() => gw.auditEvents('config.reload').slice(before).some((e) => e.reason === 'tls-material-replaced'), 10_000);

    const fresh = await visit(gw.httpsPort, gw.caPem, cert, key, version);
    t.notMatch(fresh.answer, /Authenticated as device/, `a full handshake is refused: ${fresh.answer.split('\r\n')[0] ?? ''}`);
    const resumed = await visit(gw.httpsPort, gw.caPem, cert, key, version, again.session ?? first.session);
    t.notOk(resumed.reused && resumed.answer.includes('200 OK'), 'no resumed session is let in');
    t.notMatch(resumed.answer, /Authenticated as device/, `a resumed session is refused too: ${resumed.answer.split('\r\n')[0] ?? ''}`);
  });
}
