// PKCS#12 bundles for devices: OpenSSL opens them with the password (modern AES-256/SHA-256 and legacy 3DES).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createCa, issueCertificate } from '../../src/tls/issue.js';
import { buildPkcs12, checkBundlePassword, generateBundlePassword, pkcs12Kdf } from '../../src/tls/pkcs12.js';
import { run } from '../helpers/tools.js';

const ca = createCa({ commonName: 'p12 test CA' });
const device = issueCertificate(ca, { commonName: 'us-cart-3', usage: 'client' });
const dir = mkdtempSync(join(tmpdir(), 'pgw-p12-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('PKCS#12 KDF (RFC 7292 B.2, SHA-256) is deterministic and depends on every input', async (t) => {
  const salt = Buffer.from('0102030405060708', 'hex');
  const k = pkcs12Kdf('secret', salt, 3, 10, 32);
  t.equal(k.length, 32);
  t.same(pkcs12Kdf('secret', salt, 3, 10, 32), k);
  t.notSame(pkcs12Kdf('secret', salt, 1, 10, 32), k);
  t.notSame(pkcs12Kdf('secret', salt, 3, 11, 32), k);
  t.notSame(pkcs12Kdf('secreT', salt, 3, 10, 32), k);
  t.equal(pkcs12Kdf('secret', salt, 3, 10, 70).length, 70, 'longer than one hash block');
});

t.test('modern bundle: AES-256-CBC / PBKDF2-HMAC-SHA256 key bag, HMAC-SHA256 MAC, opened by OpenSSL', async (t) => {
  const password = generateBundlePassword();
  t.match(password, /^[A-Za-z0-9_-]{22}$/);
  const p12 = join(dir, 'modern.p12');
  writeFileSync(p12, buildPkcs12({ keyPem: device.keyPem, certPem: device.certPem, caPem: ca.certPem, password, friendlyName: 'us-cart-3' }));
  const info = await run('openssl', ['pkcs12', '-info', '-nokeys', '-in', p12, '-passin', `pass:${password}`]);
  t.equal(info.code, 0, info.stderr);
  t.match(info.stderr, /MAC: sha256/);
  t.match(info.stderr, /Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration \d+, PRF hmacWithSHA256/);
  t.match(info.stdout, /subject=CN = us-cart-3/);
  t.match(info.stdout, /subject=CN = p12 test CA/, 'the CA certificate is included');
  const key = await run('openssl', ['pkcs12', '-in', p12, '-nocerts', '-nodes', '-passin', `pass:${password}`]);
  t.equal(key.code, 0, key.stderr);
  const mod = async (args: string[], input: string) => (await run('openssl', [...args, '-noout', '-modulus'], { input })).stdout;
  t.equal(await mod(['rsa'], key.stdout), await mod(['x509'], device.certPem), 'the key in the bundle is the certificate\'s');
  const wrong = await run('openssl', ['pkcs12', '-info', '-nokeys', '-in', p12, '-passin', 'pass:not-the-password']);
  t.not(wrong.code, 0);
  t.match(wrong.stderr, /Mac verify error|invalid password/);
});

t.test('legacy bundle: 3DES and HMAC-SHA1, for old importers', async (t) => {
  const p12 = join(dir, 'legacy.p12');
  writeFileSync(p12, buildPkcs12({ keyPem: device.keyPem, certPem: device.certPem, password: 'legacy-pass-1', profile: 'legacy' }));
  const info = await run('openssl', ['pkcs12', '-info', '-nokeys', '-in', p12, '-passin', 'pass:legacy-pass-1']);
  t.equal(info.code, 0, info.stderr);
  t.match(info.stderr, /MAC: sha1/);
  t.match(info.stderr, /pbeWithSHA1And3-KeyTripleDES-CBC/);
});

t.test('passwords are printable ASCII, 8 to 128 characters', async (t) => {
  t.throws(() => checkBundlePassword('short'), /8–128 printable ASCII/);
  t.throws(() => checkBundlePassword('pässwört-lang'), /printable ASCII/);
  t.doesNotThrow(() => checkBundlePassword('long enough'));
});
