// The peer-identity snapshot over real TLS connections, issuedBy(), and the devices registry's subjectCn rule.

import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import t, { type Test } from 'tap';
import { DeviceRegistry, readDevicesFile } from '../../src/identity/device-registry.js';
import { createCa, issueCertificate, type IssuedCertificate } from '../../src/tls/issue.js';
import { issuedBy, snapshotPeer, verificationAlert, type PeerIdentity } from '../../src/tls/peer-identity.js';
import { TLS_SERVER_PROFILE } from '../../src/tls/profile.js';

const DAY = 86_400_000;
const ca = createCa({ commonName: 'peer test CA' });
// Same subject DN as `ca`, another key: a CA that only a name comparison would confuse with it.
const twin = createCa({ commonName: 'peer test CA' });
const server = issueCertificate(ca, { commonName: 'localhost', usage: 'server', dnsNames: ['localhost'] });
const device = issueCertificate(ca, { commonName: 'ct-1', usage: 'client' });
const expired = issueCertificate(ca, { commonName: 'ct-1', usage: 'client', days: 1, now: Date.now() - 10 * DAY });
const twinDevice = issueCertificate(twin, { commonName: 'ct-1', usage: 'client' });

/** Snapshots taken by a TLS server trusting `ca` and `twin`, one per accepted connection. */
async function listen(t: Test): Promise<{ port: number; next: () => Promise<PeerIdentity> }> {
  const taken: PeerIdentity[] = [];
  const srv = createServer({ ...TLS_SERVER_PROFILE, key: server.keyPem, cert: server.certPem, ca: [ca.certPem, twin.certPem], requestCert: true, rejectUnauthorized: false }, (s: TLSSocket) => {
    taken.push(snapshotPeer(s));
    s.end();
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  t.teardown(() => { srv.close(); });
  return {
    port: (srv.address() as AddressInfo).port,
    next: async () => {
      while (taken.length === 0) await new Promise((r) => setTimeout(r, 10));
      return taken.shift() as PeerIdentity;
    },
  };
}

async function handshake(port: number, client: IssuedCertificate | undefined): Promise<void> {
  const s = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: ca.certPem, ...(client === undefined ? {} : { key: client.keyPem, cert: client.certPem }) });
  await once(s, 'secureConnect');
  s.resume();
  await once(s, 'end');
  s.destroy();
}

t.test('snapshotPeer: what the handshake established, frozen', async (t) => {
  const { port, next } = await listen(t);

  await handshake(port, device);
  const ok = await next();
  t.ok(Object.isFrozen(ok) && Object.isFrozen(ok.certificate), 'the snapshot and its certificate facts are frozen');
  t.match(ok, { verified: true, verifyError: undefined, tlsVersion: /^TLSv1\.[23]$/ });
  t.same(ok.certificate, {
    fingerprint256: device.fingerprint256, subject: 'CN=ct-1, O=pacs-gateway', subjectCn: 'ct-1', issuer: 'CN=peer test CA, O=pacs-gateway',
    serialNumber: new X509Certificate(device.certPem).serialNumber, notAfter: device.notAfter.toISOString(),
  });
  t.throws(() => { (ok as { verified: boolean }).verified = false; }, TypeError, 'cannot be changed');

  await handshake(port, expired);
  const old = await next();
  t.match(old, { verified: false, verifyError: 'CERT_HAS_EXPIRED', certificate: { subjectCn: 'ct-1' } });
  t.equal(verificationAlert(old.verifyError), 'cert.expired-presented');
  t.equal(verificationAlert('CERT_REVOKED'), 'cert.revoked-presented');
  t.equal(verificationAlert('constructor'), undefined, 'only the named codes raise an alert');

  await handshake(port, undefined);
  t.match(await next(), { certificate: undefined, verified: false, verifyError: undefined });
});

t.test('issuedBy: the issuer name and the signature, not the name alone', async (t) => {
  const { port, next } = await listen(t);
  const caCert = new X509Certificate(ca.certPem);
  const twinCert = new X509Certificate(twin.certPem);
  await handshake(port, device);
  const mine = await next();
  await handshake(port, twinDevice);
  const theirs = await next();
  t.equal(theirs.verified, true, 'the twin CA is trusted too (it is in the bundle)');
  t.equal(theirs.certificate?.issuer, mine.certificate?.issuer, 'and its certificates name the same issuer');
  t.equal(issuedBy(mine.certificate!, caCert), true);
  t.equal(issuedBy(theirs.certificate!, caCert), false, 'a certificate from the twin CA was not issued by the CA');
  t.equal(issuedBy(theirs.certificate!, twinCert), true);
  t.equal(issuedBy(mine.certificate!, twinCert), false, 'asked about another CA, the answer is computed again');
  t.equal(issuedBy(mine.certificate!, caCert), true);
  const copy = { ...mine.certificate! };
  t.equal(issuedBy(copy, caCert), false, 'facts not taken by snapshotPeer carry no certificate to check');
});

t.test('devices registry: subjectCn matches only when the gateway CA issued the certificate', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-peer-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'devices.yaml');
  writeFileSync(file, `devices:
  by-fp: { role: viewer, fingerprint: "${device.fingerprint256}" }
  by-cn: { role: technologist, subjectCn: ct-2, aeTitles: [CT2] }
`);
  const registry = new DeviceRegistry(file);
  t.teardown(() => registry.close());
  let asked = 0;
  const yes = (): boolean => { asked++; return true; };
  const no = (): boolean => { asked++; return false; };
  t.equal(registry.findByCertificate({ fingerprint256: device.fingerprint256, subjectCn: 'ct-2' }, no)?.name, 'by-fp', 'a fingerprint binds whoever issued the certificate');
  t.equal(asked, 0, 'without asking which CA issued it');
  t.equal(registry.findByCertificate({ fingerprint256: twinDevice.fingerprint256, subjectCn: 'ct-2' }, yes)?.name, 'by-cn');
  t.equal(registry.findByCertificate({ fingerprint256: twinDevice.fingerprint256, subjectCn: 'ct-2' }, no), undefined, 'another CA\'s certificate with that CN is no device');
  t.equal(registry.findByCertificate({ fingerprint256: twinDevice.fingerprint256, subjectCn: undefined }, yes), undefined, 'no CN (or several), no match');
  t.equal(registry.findByCertificate({ fingerprint256: twinDevice.fingerprint256, subjectCn: 'ct-9' }, yes), undefined);

  writeFileSync(file, 'devices:\n  a: { role: viewer, subjectCn: ws }\n  b: { role: admin, subjectCn: ws }\n');
  t.throws(() => readDevicesFile(file), { code: 'ERR_CONFIG_INVALID', message: /devices\.a and devices\.b have the same subjectCn "ws"/ });
});
