// The DER CRL builder and parser, checked by OpenSSL (openssl crl, openssl verify -crl_check) and by loadTlsMaterial.

import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildCrl } from '../../src/tls/crl-build.js';
import { crlAlgorithmSupported, crlSignedBy, parseCrl, parseCrlFile } from '../../src/tls/crl-parse.js';
import { decodeTime, readTlv, Tag, time, toPem, unsignedInteger } from '../../src/tls/der.js';
import { createCa, issueCertificate } from '../../src/tls/issue.js';
import { loadTlsMaterial, secureContextOptions } from '../../src/tls/material.js';
import { normaliseSerial } from '../../src/tls/x509-fields.js';
import { run } from '../helpers/tools.js';

const DAY = 86_400_000;
const ca = createCa({ commonName: 'crl test CA' });
const other = createCa({ commonName: 'another CA' });
const server = issueCertificate(ca, { commonName: 'localhost', usage: 'server', dnsNames: ['localhost'] });
const revoked = issueCertificate(ca, { commonName: 'lost-scanner', usage: 'client' });
const kept = issueCertificate(ca, { commonName: 'kept-scanner', usage: 'client' });

function crl(entries: { serial: string; reason?: 'keyCompromise' | 'superseded' }[], o: { number?: number; nextUpdate?: Date; signer?: typeof ca } = {}): Buffer {
  const signer = o.signer ?? ca;
  return buildCrl({
    caCertPem: signer.certPem, caKeyPem: signer.keyPem, number: o.number ?? 1,
    entries: entries.map((e) => ({ ...e, revokedAt: new Date() })),
    thisUpdate: new Date(Date.now() - 60_000), nextUpdate: o.nextUpdate ?? new Date(Date.now() + 365 * DAY),
  });
}

const dir = mkdtempSync(join(tmpdir(), 'pgw-crl-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, data: string | Buffer): string => {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
};

t.test('DER primitives', async (t) => {
  t.same(unsignedInteger(Buffer.from([0x00, 0x00, 0x80])), Buffer.from([0x02, 0x02, 0x00, 0x80]), 'a set top bit gets a 0x00, extra zeros go');
  t.equal(time(new Date(Date.UTC(2049, 11, 31, 23, 59, 59)))[0], 0x17, 'UTCTime through 2049');
  t.equal(time(new Date(Date.UTC(2050, 0, 1)))[0], 0x18, 'GeneralizedTime from 2050 (RFC 5280 §5.1.2.4)');
  t.throws(() => readTlv(Buffer.from([0x30, 0x85, 1, 2, 3, 4, 5]), 0, 'x'), /length field too long/);
  t.throws(() => readTlv(Buffer.from([0x30, 0x10, 0]), 0, 'x'), /runs past the end/);
  t.throws(() => readTlv(Buffer.from([0x30, 0x80]), 0, 'x'), /indefinite length/);
  // Regression (fuzz der): DER lengths use the fewest bytes (X.690 §10.1); BER's other forms are refused.
  t.throws(() => readTlv(Buffer.from([0x30, 0x81, 0x00]), 0, 'x'), /not in the shortest form/, 'long form for a length below 128');
  t.throws(() => readTlv(Buffer.from([0x04, 0x82, 0x00, 0x80, ...Buffer.alloc(128)]), 0, 'x'), /not in the shortest form/, 'a leading zero length byte');
  t.equal(readTlv(Buffer.from([0x04, 0x81, 0x80, ...Buffer.alloc(128)]), 0, 'x').value.length, 128, 'the shortest long form is read');
  t.equal(normaliseSerial('0x00:8a:01'), '8A01');
  t.equal(normaliseSerial('1ab'), '01AB');
});

t.test('regression (fuzz der): a time that names no real moment is refused, not rolled over to another date', async (t) => {
  const at = (tag: number, s: string) => ({ tag, raw: Buffer.alloc(0), value: Buffer.from(s, 'latin1') });
  t.equal(decodeTime(at(Tag.UtcTime, '491231235959Z'), 'x').toISOString(), '2049-12-31T23:59:59.000Z');
  t.equal(decodeTime(at(Tag.GeneralizedTime, '20240229000000Z'), 'x').toISOString(), '2024-02-29T00:00:00.000Z', 'a leap day');
  for (const [tag, s] of [[Tag.GeneralizedTime, '20511000229959Z'], [Tag.UtcTime, '991332000000Z'], [Tag.UtcTime, '230229000000Z'], [Tag.UtcTime, '990101240000Z'], [Tag.UtcTime, '990101006000Z'], [Tag.UtcTime, '990101000060Z']] as const) {
    t.throws(() => decodeTime(at(tag, s), 'x'), { code: 'ERR_CERT_INVALID' }, s);
  }
});

t.test('a CRL built here: OpenSSL reads it and refuses the revoked certificate only', async (t) => {
  const der = crl([{ serial: revoked.serial, reason: 'keyCompromise' }], { number: 42 });
  const pem = file('ca.crl', toPem(der, 'X509 CRL'));
  const caFile = file('ca.crt', ca.certPem);
  const text = await run('openssl', ['crl', '-in', pem, '-noout', '-text', '-CAfile', caFile]);
  t.equal(text.code, 0, text.stderr);
  t.match(text.stderr + text.stdout, /verify OK/, 'openssl verifies the CRL signature with the CA');
  t.match(text.stdout, /Version 2/);
  t.match(text.stdout, /X509v3 CRL Number: \n\s+42/);
  t.match(text.stdout, /Authority Key Identifier/);
  t.match(text.stdout, new RegExp(`Serial Number: ${normaliseSerial(revoked.serial)}`));
  t.match(text.stdout, /Key Compromise/);
  const check = (c: typeof revoked) => run('openssl', ['verify', '-crl_check', '-CAfile', caFile, '-CRLfile', pem, file(`${c.serial}.crt`, c.certPem)]);
  const bad = await check(revoked);
  t.not(bad.code, 0);
  t.match(bad.stdout + bad.stderr, /certificate revoked/);
  const good = await check(kept);
  t.equal(good.code, 0, good.stdout + good.stderr);
  const all = await run('openssl', ['verify', '-crl_check_all', '-CAfile', caFile, '-CRLfile', pem, file('kept.crt', kept.certPem)]);
  t.equal(all.code, 0, 'CRL_CHECK_ALL (what node sets) also passes: the same CRL covers the CA itself');

  const parsed = parseCrl(der);
  t.equal(parsed.number, 42);
  t.same(parsed.entries.map((e) => [e.serial, e.reason]), [[normaliseSerial(revoked.serial), 'keyCompromise']]);
  t.equal(crlSignedBy(parsed, new X509Certificate(ca.certPem)), true);
  t.equal(crlSignedBy(parsed, new X509Certificate(other.certPem)), false);
  const tampered = Buffer.from(der);
  tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1;
  t.equal(crlSignedBy(parseCrl(tampered), new X509Certificate(ca.certPem)), false, 'a changed signature does not verify');
});

t.test('an empty CRL has no revokedCertificates list (RFC 5280 §5.1.2.6) and is accepted by OpenSSL', async (t) => {
  const pem = file('empty.crl', toPem(crl([]), 'X509 CRL'));
  const r = await run('openssl', ['crl', '-in', pem, '-noout', '-text']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /No Revoked Certificates/);
});

t.test('loadTlsMaterial checks the CRL before node uses it', async (t) => {
  const base = { cert: file('server.crt', server.certPem), key: file('server.key', server.keyPem), clientCa: file('bundle.crt', ca.certPem) };
  const good = loadTlsMaterial({ ...base, crl: file('good.crl', toPem(crl([{ serial: revoked.serial }]), 'X509 CRL')) });
  t.equal(good.crls?.length, 1);
  t.equal(secureContextOptions(good).crl?.length, 1, 'one entry per CRL for node');
  const derFile = loadTlsMaterial({ ...base, crl: file('der.crl', crl([])) });
  t.match(derFile.crl?.toString(), /BEGIN X509 CRL/, 'a DER file is converted to PEM');

  t.throws(() => loadTlsMaterial({ ...base, crl: file('foreign.crl', toPem(crl([], { signer: other }), 'X509 CRL')) }), /not signed by a CA in/);
  t.throws(() => loadTlsMaterial({ ...base, crl: file('old.crl', toPem(crl([], { nextUpdate: new Date(Date.now() - DAY) }), 'X509 CRL')) }), /expired on .*nextUpdate/);
  t.throws(() => loadTlsMaterial({ ...base, crl: file('junk.crl', 'hello') }), /holds no CRL/);
  t.throws(() => loadTlsMaterial({ ...base, crl: file('trunc.crl', toPem(crl([]).subarray(0, 100), 'X509 CRL')) }), /malformed DER|not an X\.509 CRL/);
  const twoCas = file('two.crt', ca.certPem + other.certPem);
  t.throws(() => loadTlsMaterial({ ...base, clientCa: twoCas, crl: file('one.crl', toPem(crl([]), 'X509 CRL')) }), /has no CRL for "CN=another CA/,
    'a CA without a CRL would have every client refused: said at load time');
  const both = loadTlsMaterial({ ...base, clientCa: twoCas, crl: file('both.crl', toPem(crl([]), 'X509 CRL') + toPem(crl([], { signer: other }), 'X509 CRL')) });
  t.equal(parseCrlFile(both.crl as Buffer, 'both').length, 2);

  // The CA's CRL relabelled RSASSA-PSS (1.2.840.113549.1.1.10), an algorithm the gateway does not check: not signed, so refused.
  const sha256WithRsa = Buffer.from('06092a864886f70d01010b', 'hex');
  const pss = Buffer.from('06092a864886f70d01010a', 'hex');
  const relabelled = Buffer.from(crl([]));
  for (let at = relabelled.indexOf(sha256WithRsa); at >= 0; at = relabelled.indexOf(sha256WithRsa, at)) pss.copy(relabelled, at);
  const unknown = parseCrl(relabelled);
  t.equal(unknown.signatureAlgorithm, '1.2.840.113549.1.1.10');
  t.equal(crlAlgorithmSupported(unknown), false);
  t.equal(crlSignedBy(unknown, new X509Certificate(ca.certPem)), false, 'an algorithm that cannot be checked is not a signature (fail closed)');
  t.throws(() => loadTlsMaterial({ ...base, crl: file('pss.crl', toPem(relabelled, 'X509 CRL')) }), /pss\.crl is signed with an algorithm the gateway cannot check \(OID 1\.2\.840\.113549\.1\.1\.10\)/);

  t.equal(loadTlsMaterial({ ...base, crl: join(dir, 'absent.crl'), crlRequired: false }).crl, undefined, 'an optional CRL may be absent');
  t.throws(() => loadTlsMaterial({ ...base, crl: join(dir, 'absent.crl') }), /tls\.crl .*cannot be read/, 'a configured CRL must exist');
});
