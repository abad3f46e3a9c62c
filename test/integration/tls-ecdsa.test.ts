// An ECDSA P-256 server certificate beside the RSA one (issue 19 §4): `certs issue-server --key-type both`,
// both listeners serve the one each client can verify, real clients (dcmtk, curl, openssl) still
// work, client-certificate identity is the same, and a hot reload replaces both.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import t from 'tap';
import { loadTlsMaterial } from '../../src/tls/material.js';
import { certsCli, certsOk, issueClient, sClient } from '../helpers/certs.js';
import { startGateway } from '../helpers/gateway.js';
import { launchChromium } from '../helpers/browser.js';
import { getInstanceFile, startOrthanc } from '../helpers/orthanc.js';
import { makeInstance, writeInstance } from '../helpers/instances.js';
import { run, waitFor } from '../helpers/tools.js';

/** The key type of the certificate a fresh handshake on `port` gets with these s_client flags. */
async function served(port: number, args: string[]): Promise<{ type: string | undefined; serial: string | undefined }> {
  const p = await sClient(port, args);
  if (!p.connected) throw new Error(`no handshake on ${port} with ${args.join(' ')}: ${p.output}`);
  return { type: p.serverCert?.publicKey.asymmetricKeyType, serial: p.serverCert?.serialNumber };
}

/** A node TLS client with a device certificate and the given signature algorithms: what it is served, and who the gateway says it is. */
async function asDevice(port: number, ca: string, cert: string, key: string, sigalgs: string): Promise<{ type: string | undefined; answer: string }> {
  const socket: TLSSocket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca, cert, key, sigalgs });
  socket.on('error', () => undefined);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve) => { socket.once('secureConnect', () => resolve()); void closed.then(resolve); });
  const type = new X509Certificate(socket.getPeerCertificate().raw).publicKey.asymmetricKeyType;
  socket.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
  await closed;
  return { type, answer: Buffer.concat(chunks).toString('latin1') };
}

t.test('issue-server --key-type: files, keys and the refusals', async (t) => {
  const gw = await startGateway({ prepare: async (dir) => { await certsOk(dir, ['init']); }, config: { tls: { autoGenerate: true } } });
  t.teardown(() => gw.stop());
  const bad = await certsCli(gw.dir, ['issue-server', '--dns', 'localhost', '--key-type', 'dsa']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--key-type: one of rsa, ecdsa, both/);
  // tls.autoGenerate made an RSA certificate: --key-type ecdsa adds the ECDSA pair and leaves it alone.
  const rsaBefore = readFileSync(join(gw.dir, 'certs/server.crt'), 'utf8');
  const ecOnly = await certsOk(gw.dir, ['issue-server', '--dns', 'localhost', '--key-type', 'ecdsa', '--json']);
  t.notOk(ecOnly.rsa, 'no RSA certificate issued');
  t.equal(ecOnly.ecdsa.cert, join(gw.dir, 'certs/server-ec.crt'));
  t.equal(readFileSync(join(gw.dir, 'certs/server.crt'), 'utf8'), rsaBefore, 'the RSA certificate is untouched');
  const r = await certsOk(gw.dir, ['issue-server', '--dns', 'localhost', '--ip', '127.0.0.1', '--key-type', 'both', '--json']);
  t.equal(r.rsa.cert, join(gw.dir, 'certs/server.crt'));
  t.equal(r.ecdsa.cert, join(gw.dir, 'certs/server-ec.crt'), 'the ECDSA pair beside tls.cert');
  const ec = new X509Certificate(readFileSync(r.ecdsa.cert));
  t.equal(ec.publicKey.asymmetricKeyType, 'ec');
  t.equal(ec.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1', 'P-256');
  t.equal(ec.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1');
  const verify = await run('openssl', ['verify', '-CAfile', join(gw.dir, 'certs/ca.crt'), '-purpose', 'sslserver', r.ecdsa.cert]);
  t.equal(verify.code, 0, `openssl verify: ${verify.stdout}${verify.stderr}`);
  const text = (await run('openssl', ['x509', '-in', r.ecdsa.cert, '-noout', '-text'])).stdout;
  t.match(text, /Digital Signature/);
  t.notMatch(text, /Key Encipherment/, 'an ECDSA key only signs');

  // tls.ecdsa configured with an RSA certificate: refused at load, naming the field.
  t.throws(() => loadTlsMaterial({
    cert: r.rsa.cert, key: r.rsa.key, clientCa: join(gw.dir, 'certs/ca.crt'), ecdsaCert: r.rsa.cert, ecdsaKey: r.rsa.key, ecdsaRequired: true,
  }), /tls\.ecdsa\.cert\) holds a rsa key, not ECDSA/);
  t.throws(() => loadTlsMaterial({
    cert: r.rsa.cert, key: r.rsa.key, clientCa: join(gw.dir, 'certs/ca.crt'), ecdsaCert: join(gw.dir, 'nope.crt'), ecdsaKey: r.ecdsa.key, ecdsaRequired: true,
  }), /tls\.ecdsa\.cert .*nope\.crt cannot be read/);
});

t.test('both listeners serve RSA to RSA-only clients and ECDSA to the others; dcmtk, curl and device identity unaffected; reload replaces both', async (t) => {
  const orthanc = await startOrthanc();
  t.teardown(() => orthanc.stop());
  const gw = await startGateway({
    orthanc, dicom: true,
    // certs init makes the CA and, given the names, both server certificates at once.
    prepare: async (dir) => { await certsOk(dir, ['init', '--dns', 'localhost', '--ip', '127.0.0.1', '--key-type', 'both']); },
    config: { tls: { autoGenerate: false }, roles: { modality: ['echo', 'store'] } },
  });
  t.teardown(() => gw.stop());
  const caFile = join(gw.dir, 'certs/ca.crt');
  const dev = await issueClient(gw.dir, 'ct-ec', 'modality', ['CTEC']);
  await gw.gateway.reload();

  for (const [name, port] of [['HTTPS', gw.httpsPort], ['DICOM', gw.dicomPort]] as const) {
    t.equal((await served(port, ['-tls1_3', '-sigalgs', 'RSA-PSS+SHA256'])).type, 'rsa', `${name}: a TLS 1.3 client that verifies only RSA-PSS gets the RSA certificate`);
    t.equal((await served(port, ['-tls1_2', '-sigalgs', 'RSA+SHA256'])).type, 'rsa', `${name}: a TLS 1.2 RSA-only client gets the RSA certificate`);
    t.equal((await served(port, ['-tls1_3'])).type, 'ec', `${name}: a client that supports ECDSA (the default) gets the ECDSA certificate`);
    t.equal((await served(port, ['-tls1_2', '-sigalgs', 'ECDSA+SHA256'])).type, 'ec', `${name}: TLS 1.2 ECDSA`);
  }

  // mTLS identity does not depend on which server certificate was served.
  const cert = readFileSync(dev.files.cert, 'utf8');
  const key = readFileSync(dev.files.key, 'utf8');
  for (const sigalgs of ['RSA-PSS+SHA256:RSA+SHA256', 'ECDSA+SHA256:RSA-PSS+SHA256:RSA+SHA256']) {
    const r = await asDevice(gw.httpsPort, gw.caPem, cert, key, sigalgs);
    t.match(r.answer, /Authenticated as device ct-ec/, `device identity with sigalgs ${sigalgs} (served ${r.type ?? '?'})`);
  }

  // Real clients with their defaults: dcmtk's echoscu and storescu (+tls, BCP 195 profile), curl.
  const echo = await run('echoscu', ['+tls', dev.files.key, dev.files.cert, '+cf', caFile, '-aet', 'CTEC', '-aec', 'GATEWAY', '127.0.0.1', String(gw.dicomPort)], { timeoutMs: 20_000 });
  t.equal(echo.code, 0, `echoscu +tls: ${echo.stderr}`);
  const inst = makeInstance({ pixelBytes: 16 * 1024 });
  const store = await run('storescu', ['+tls', dev.files.key, dev.files.cert, '+cf', caFile, '-aet', 'CTEC', '-aec', 'GATEWAY', '127.0.0.1', String(gw.dicomPort), await writeInstance(gw.dir, inst)], { timeoutMs: 30_000 });
  t.equal(store.code, 0, `storescu +tls: ${store.stderr}`);
  t.ok(await getInstanceFile(orthanc, inst.sopInstanceUid), 'the instance reached the PACS');
  const curl = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--resolve', `localhost:${gw.httpsPort}:127.0.0.1`, '--cacert', caFile, `https://localhost:${gw.httpsPort}/healthz`], { timeoutMs: 20_000 });
  t.equal(curl.stdout, '200', 'curl with its defaults');
  const browser = await launchChromium(t);
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  const res = await page.goto(`${gw.url}/healthz`);
  t.equal(res?.status(), 200, 'Chromium loads a page over the listener with both certificates');
  t.equal((await res?.securityDetails())?.protocol, 'TLS 1.3');
  await context.close();

  // A new pair of certificates: the watcher picks up both, on both listeners.
  const before = { rsa: (await served(gw.dicomPort, ['-tls1_3', '-sigalgs', 'RSA-PSS+SHA256'])).serial, ec: (await served(gw.dicomPort, ['-tls1_3'])).serial };
  await certsOk(gw.dir, ['issue-server', '--dns', 'localhost', '--ip', '127.0.0.1', '--key-type', 'both']);
  const ecNow = new X509Certificate(readFileSync(join(gw.dir, 'certs/server-ec.crt'))).serialNumber;
  const rsaNow = new X509Certificate(readFileSync(join(gw.dir, 'certs/server.crt'))).serialNumber;
  t.not(ecNow, before.ec);
  await waitFor(async () => (await served(gw.httpsPort, ['-tls1_3'])).serial === ecNow && (await served(gw.dicomPort, ['-tls1_3'])).serial === ecNow, 15_000);
  t.equal((await served(gw.httpsPort, ['-tls1_3', '-sigalgs', 'RSA-PSS+SHA256'])).serial, rsaNow, 'the new RSA certificate on HTTPS');
  t.equal((await served(gw.dicomPort, ['-tls1_3', '-sigalgs', 'RSA-PSS+SHA256'])).serial, rsaNow, 'the new RSA certificate on DICOM');
  t.ok(gw.auditEvents('config.reload').some((e) => Array.isArray(e.changed) && e.changed.includes('ecdsa-server-certificate')), 'the reload names the ECDSA certificate');
});
