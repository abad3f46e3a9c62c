// `pacs-gateway certs` as an admin runs it: init, issue-server, issue-client, list, revoke, renew — files, modes, registry, CRL.

import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parse as parseYaml } from 'yaml';
import { certsCli, certsOk, issueClient } from '../helpers/certs.js';
import { run } from '../helpers/tools.js';

function workspace(config = 'tls: { cert: certs/server.crt, key: certs/server.key, clientCa: certs/ca.crt }\ndevices: { file: config/devices.yaml }\n'): string {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-certs-'));
  writeFileSync(join(dir, 'gateway.yaml'), config);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const mode = (f: string): number => statSync(f).mode & 0o777;
const devices = (dir: string): Record<string, any> => (parseYaml(readFileSync(join(dir, 'config/devices.yaml'), 'utf8')) as { devices: Record<string, any> }).devices;
const crlText = async (dir: string): Promise<string> => {
  const r = await run('openssl', ['crl', '-in', join(dir, 'certs/ca.crl'), '-noout', '-text', '-CAfile', join(dir, 'certs/ca.crt')]);
  if (r.code !== 0) throw new Error(r.stderr);
  return r.stdout + r.stderr;
};
const verify = (dir: string, cert: string) => run('openssl', ['verify', '-crl_check', '-CAfile', join(dir, 'certs/ca.crt'), '-CRLfile', join(dir, 'certs/ca.crl'), cert]);

t.test('init: CA key 0600, CA certificate, empty CRL; no overwrite without --force', async (t) => {
  const dir = workspace();
  const out = await certsOk(dir, ['init', '--cn', 'St Elsewhere PACS gateway CA']);
  t.match(out, /CA "CN=St Elsewhere PACS gateway CA, O=pacs-gateway" created/);
  t.match(out, /tls\.crl is not set, so the gateway uses certs\/ca\.crl because it exists/);
  t.equal(mode(join(dir, 'certs/ca.key')), 0o600, 'the CA key is readable by its owner only');
  t.equal(mode(join(dir, 'certs/ca.crt')), 0o644);
  const ca = new X509Certificate(readFileSync(join(dir, 'certs/ca.crt')));
  t.ok(ca.ca, 'basicConstraints CA:TRUE');
  const text = (await run('openssl', ['x509', '-in', join(dir, 'certs/ca.crt'), '-noout', '-text'])).stdout;
  t.match(text, /Public-Key: \(3072 bit\)/);
  t.match(text, /CA:TRUE, pathlen:0/);
  t.match(text, /Certificate Sign, CRL Sign/);
  t.ok(Date.parse(ca.validTo) - Date.now() > 9 * 365 * 86_400_000, 'ten years');
  t.match(await crlText(dir), /verify OK/);
  t.match(await crlText(dir), /No Revoked Certificates/);

  const again = await certsCli(dir, ['init']);
  t.equal(again.code, 1);
  t.match(again.stderr, /ERR_CA_EXISTS.*a CA already exists .*--force/);
  t.equal(new X509Certificate(readFileSync(join(dir, 'certs/ca.crt'))).fingerprint256, ca.fingerprint256, 'the CA is untouched');

  const forced = await certsCli(dir, ['init', '--force']);
  t.equal(forced.code, 0, forced.stderr);
  t.match(forced.stderr, /moved the old certs\/ca\.key aside to certs\/ca\.key\.replaced-/);
  t.match(forced.stdout, /Every certificate the old CA issued no longer works/);
  t.not(new X509Certificate(readFileSync(join(dir, 'certs/ca.crt'))).fingerprint256, ca.fingerprint256, 'a new CA');
  t.equal(mode(join(dir, 'certs/ca.key')), 0o600);
});

t.test('issue-server: tls.cert / tls.key with SANs, serverAuth, 397 days', async (t) => {
  const dir = workspace();
  const none = await certsCli(dir, ['issue-server', '--dns', 'x']);
  t.equal(none.code, 1);
  t.match(none.stderr, /no CA key at .*certs init/, 'says to create the CA first');
  await certsOk(dir, ['init']);
  const noName = await certsCli(dir, ['issue-server']);
  t.equal(noName.code, 2);
  t.match(noName.stderr, /at least one --dns NAME or --ip ADDRESS/);
  const r = await certsOk(dir, ['issue-server', '--dns', 'pacs-gw.example.org', '--dns', 'localhost', '--ip', '10.1.2.3', '--ip', '::1', '--json']);
  const cert = new X509Certificate(readFileSync(join(dir, 'certs/server.crt')));
  t.equal(cert.serialNumber, r.serial.toUpperCase().padStart(cert.serialNumber.length, '0'));
  t.equal(cert.subjectAltName, 'DNS:pacs-gw.example.org, DNS:localhost, IP Address:10.1.2.3, IP Address:0:0:0:0:0:0:0:1');
  t.equal(mode(join(dir, 'certs/server.key')), 0o600);
  const text = (await run('openssl', ['x509', '-in', join(dir, 'certs/server.crt'), '-noout', '-text'])).stdout;
  t.match(text, /TLS Web Server Authentication/);
  t.notMatch(text, /TLS Web Client Authentication/);
  t.match(text, /Public-Key: \(2048 bit\)/);
  t.ok(Math.abs(Date.parse(cert.validTo) - Date.now() - 397 * 86_400_000) < 86_400_000);
  const v = await verify(dir, join(dir, 'certs/server.crt'));
  t.equal(v.code, 0, v.stdout + v.stderr);
  const long = await certsCli(dir, ['issue-server', '--dns', 'x', '--days', '1000']);
  t.equal(long.code, 2);
  t.match(long.stderr, /--days for a server certificate: 1 to 825/);
});

t.test('issue-client, list, revoke, renew', async (t) => {
  const dir = workspace('tls: { cert: certs/server.crt, key: certs/server.key, clientCa: certs/ca.crt, expiryWarningDays: 30 }\ndevices: { file: config/devices.yaml }\n');
  await certsOk(dir, ['init']);

  const ct = await issueClient(dir, 'ct-scanner-1', 'technologist', ['CT1', 'CT1_BACKUP']);
  t.match(ct.pkcs12, { profile: 'modern', password: /^[A-Za-z0-9_-]{22}$/ }, 'a generated password is printed once');
  t.equal(mode(ct.files.key), 0o600);
  t.equal(mode(ct.files.p12), 0o600);
  t.equal(mode(ct.files.cert), 0o644);
  t.equal(mode(join(dir, 'certs/devices')), 0o700, 'the directory of device keys is private');
  const x = new X509Certificate(readFileSync(ct.files.cert));
  t.equal(x.fingerprint256, ct.fingerprint);
  t.equal(x.subject, 'CN=ct-scanner-1\nO=pacs-gateway');
  const text = (await run('openssl', ['x509', '-in', ct.files.cert, '-noout', '-text'])).stdout;
  t.match(text, /TLS Web Client Authentication/);
  t.match(text, /Digital Signature, Key Encipherment/);
  t.match(text, /CA:FALSE/);
  const p12 = await run('openssl', ['pkcs12', '-info', '-nokeys', '-in', ct.files.p12, '-passin', `pass:${ct.pkcs12.password}`]);
  t.equal(p12.code, 0, p12.stderr);
  t.match(p12.stderr, /AES-256-CBC.*hmacWithSHA256/);
  t.match(p12.stdout, /subject=CN = ct-scanner-1/);
  t.match(devices(dir)['ct-scanner-1'], { role: 'technologist', aeTitles: ['CT1', 'CT1_BACKUP'], fingerprint: ct.fingerprint, serial: ct.serial, disabled: false, notAfter: /^\d{4}-/ });

  const chosen = await certsCli(dir, ['issue-client', 'us-cart', '--role', 'technologist', '--ae', 'USCART', '--p12-password-stdin', '--p12-legacy', '--days', '10'], 'chosen-password-9\n');
  t.equal(chosen.code, 0, chosen.stderr);
  t.notMatch(chosen.stdout, /chosen-password-9/, 'a password given on stdin is not echoed');
  t.match(chosen.stdout, /3DES/);
  const legacy = await run('openssl', ['pkcs12', '-info', '-nokeys', '-in', join(dir, 'certs/devices/us-cart.p12'), '-passin', 'pass:chosen-password-9']);
  t.equal(legacy.code, 0, legacy.stderr);

  const dup = await certsCli(dir, ['issue-client', 'ct-scanner-1', '--role', 'technologist', '--ae', 'CT1']);
  t.equal(dup.code, 2);
  t.match(dup.stderr, /already exists: give it a new certificate with "certs renew ct-scanner-1"/);
  const badRole = await certsCli(dir, ['issue-client', 'x1', '--role', 'superuser', '--ae', 'X']);
  t.equal(badRole.code, 1);
  t.match(badRole.stderr, /ERR_ROLE_UNKNOWN.*role "superuser" is not in the configuration/);
  const badAe = await certsCli(dir, ['issue-client', 'x2', '--role', 'viewer', '--ae', 'WAY_TOO_LONG_AE_TITLE']);
  t.match(badAe.stderr, /AE title "WAY_TOO_LONG_AE_TITLE": 1–16/);
  const badName = await certsCli(dir, ['issue-client', '../etc', '--role', 'viewer']);
  t.match(badName.stderr, /device name "\.\.\/etc"/);
  t.notOk(existsSync(join(dir, 'certs/etc.crt')));

  const listed = await certsOk(dir, ['list', '--json']);
  t.match(listed, [{ name: 'ct-scanner-1', status: 'valid', aeTitles: ['CT1', 'CT1_BACKUP'] }, { name: 'us-cart', status: 'expiring' }]);
  const table = await certsOk(dir, ['list']);
  t.match(table, /ct-scanner-1\s+technologist\s+CT1,CT1_BACKUP\s+[0-9A-F]+\s+\d{4}-\d\d-\d\d\s+valid/);

  const revoked = await certsOk(dir, ['revoke', 'us-cart', '--reason', 'key-compromise']);
  t.match(revoked, /Device us-cart disabled in the registry/);
  t.match(revoked, /added to the CRL certs\/ca\.crl/);
  t.match(devices(dir)['us-cart'], { disabled: true, revokedAt: /^\d{4}-/ });
  const crl = await crlText(dir);
  t.match(crl, /verify OK/);
  t.match(crl, new RegExp(`Serial Number: ${new X509Certificate(readFileSync(join(dir, 'certs/devices/us-cart.crt'))).serialNumber}[\\s\\S]*Key Compromise`));
  const v = await verify(dir, join(dir, 'certs/devices/us-cart.crt'));
  t.not(v.code, 0);
  t.match(v.stdout + v.stderr, /certificate revoked/);
  t.equal((await verify(dir, ct.files.cert)).code, 0, 'the other device still verifies');
  t.match(await certsOk(dir, ['revoke', 'us-cart']), /was already in the CRL/, 'revoking twice is harmless');
  const again = await certsCli(dir, ['renew', 'us-cart']);
  t.equal(again.code, 2);
  t.match(again.stderr, /was revoked on .* not renewed/);
  const unknown = await certsCli(dir, ['revoke', 'nobody']);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /ERR_DEVICE_UNKNOWN.*no device "nobody"/);
  const badReason = await certsCli(dir, ['revoke', 'ct-scanner-1', '--reason', 'bored']);
  t.match(badReason.stderr, /--reason: one of key-compromise/);

  const oldCert = readFileSync(ct.files.cert, 'utf8');
  const renewed = await certsOk(dir, ['renew', 'ct-scanner-1', '--json']);
  t.not(renewed.fingerprint, ct.fingerprint, 'a new certificate');
  t.equal(renewed.revokedSerial, new X509Certificate(oldCert).serialNumber, 'the old one is revoked');
  t.match(devices(dir)['ct-scanner-1'], { role: 'technologist', aeTitles: ['CT1', 'CT1_BACKUP'], fingerprint: renewed.fingerprint, disabled: false });
  t.notOk(devices(dir)['ct-scanner-1'].revokedAt);
  t.match(await crlText(dir), /Superseded/);
  const old = join(dir, 'old.crt');
  writeFileSync(old, oldCert);
  const oldCheck = await verify(dir, old);
  t.match(oldCheck.stdout + oldCheck.stderr, /certificate revoked/);
  t.equal((await verify(dir, renewed.files.cert)).code, 0);
  t.match(await crlText(dir), /CRL Number: \n\s+3/, 'every change re-signs with a higher cRLNumber (init 1, revoke 2, renew 3)');
  const final = await certsOk(dir, ['list', '--json']);
  t.match(final, [{ name: 'ct-scanner-1', status: 'valid' }, { name: 'us-cart', status: 'revoked' }]);
});

t.test('an explicit tls.crl is where revocations go', async (t) => {
  const dir = workspace('tls: { cert: certs/server.crt, key: certs/server.key, clientCa: certs/ca.crt, crl: pki/revoked.pem }\ndevices: { file: config/devices.yaml }\n');
  const out = await certsOk(dir, ['init']);
  t.match(out, /pki\/revoked\.pem  empty CRL; tls\.crl: pki\/revoked\.pem/);
  await issueClient(dir, 'mr-1', 'technologist', ['MR1']);
  await certsOk(dir, ['revoke', 'mr-1']);
  const r = await run('openssl', ['crl', '-in', join(dir, 'pki/revoked.pem'), '-noout', '-text']);
  t.match(r.stdout, /Serial Number/);
  t.notOk(existsSync(join(dir, 'certs/ca.crl')));
});

t.test('usage', async (t) => {
  const dir = workspace();
  const help = await certsCli(dir, ['--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /issue-client NAME --role ROLE --ae AETITLE/);
  const bad = await certsCli(dir, ['frobnicate']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /unknown certs command "frobnicate"/);
  const badOpt = await certsCli(dir, ['list', '--colour']);
  t.equal(badOpt.code, 2);
  t.match(badOpt.stderr, /Unknown option '--colour'[\s\S]*pacs-gateway certs <command>/);
});
